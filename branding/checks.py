"""`manage.py check` on the BRAND_* settings: each unusable one named, with what to set.
(The pages never use one: selectors.py falls back to the built-in value.)"""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from branding.colours import accent_clean


@register()
def brand_settings(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    try:
        accent_clean(settings.BRAND_ACCENT_COLOUR)
    except ValidationError as error:
        errors.append(Error(f"BRAND_ACCENT_COLOUR: {error.messages[0]}", id="branding.E001"))
    name = settings.BRAND_NAME
    if not name.strip() or len(name) > 60 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        errors.append(
            Error(
                "BRAND_NAME must be one line of 1 to 60 characters: it goes into every page "
                "title and email subject.",
                id="branding.E002",
            )
        )
    if settings.BRAND_SUPPORT_EMAIL:
        try:
            validate_email(settings.BRAND_SUPPORT_EMAIL)
        except ValidationError:
            errors.append(
                Error(
                    "BRAND_SUPPORT_EMAIL is not an email address; set one such as "
                    "help@example.com, or leave it empty.",
                    id="branding.E003",
                )
            )
    return errors

"""What error pages (DEBUG) and error emails may show of settings and request data.

Django's SafeExceptionReporterFilter hides a setting by its name (API, TOKEN, KEY,
SECRET, PASS, ...). Ours also hides credentials by their shape: the user and password of
any URL that carries a password (EMAIL_URL, a cache's LOCATION, DATABASE_URL in the
environment a server copies into request.META), wherever it sits: a setting's value, an
entry of a nested dict or list (DATABASES, CACHES, MAILERS and their OPTIONS), a request
header, or a frame's local variable. Settings' names that hide their whole value
(PASSWORD inside DATABASES, "password" inside MAILERS' OPTIONS) stay hidden by Django's
rule, since the filter recurses into dicts.
"""

import re

from django.views.debug import SafeExceptionReporterFilter

# scheme://user:password@ (the user may be empty: redis://:password@host).
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]*:[^/?#\s]*@")


def hide_url_credentials(value: str, substitute: str) -> str:
    """`value` with the user and password of every URL that has a password replaced."""
    if "://" not in value or "@" not in value:
        return value
    return _URL_CREDENTIALS.sub(lambda match: f"{match['scheme']}{substitute}@", value)


class SettingsReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, and URLs with a password shown without their credentials."""

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):
            return hide_url_credentials(cleansed, self.cleansed_substitute)
        return cleansed

    def cleanse_special_types(self, request, value):
        cleansed = super().cleanse_special_types(request, value)
        if isinstance(cleansed, str):
            return hide_url_credentials(cleansed, self.cleansed_substitute)
        return cleansed

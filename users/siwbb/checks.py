"""`manage.py check`: the BitBadges client needs both its id and its secret."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security)
def client_credentials_paired(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    has_id = bool(settings.BITBADGES_CLIENT_ID)
    has_secret = bool(settings.BITBADGES_CLIENT_SECRET)
    if has_id == has_secret:
        return []
    given, missing = (
        ("BITBADGES_CLIENT_ID", "BITBADGES_CLIENT_SECRET")
        if has_id
        else ("BITBADGES_CLIENT_SECRET", "BITBADGES_CLIENT_ID")
    )
    return [
        checks.Warning(
            f"{given} is set but {missing} is empty, so Sign in with BitBadges is off.",
            hint=(
                "Set both (BitBadges issues them at https://bitbadges.io/developer), or "
                "neither to keep it off."
            ),
            id="siwbb.W001",
        )
    ]

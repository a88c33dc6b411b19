"""`manage.py check`: the BitBadges client needs both its id and its secret, and members
who log in only with BitBadges need it on."""

from django.conf import settings
from django.core import checks
from django.db import DatabaseError


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


@checks.register(checks.Tags.security)
def bitbadges_only_members_can_log_in(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Sign in with BitBadges is off while some members have no other way in."""
    # Imported here: this module is loaded as the app starts, before the models are.
    from users.siwbb.config import siwbb_enabled
    from users.siwbb.selectors import bitbadges_only_members  # (models: see above)

    if siwbb_enabled():
        return []
    try:
        stranded = bitbadges_only_members().count()
    except DatabaseError:
        return []  # no database yet (before migrate): nobody to strand
    if not stranded:
        return []
    return [
        checks.Warning(
            f"Sign in with BitBadges is off (BITBADGES_CLIENT_ID / _SECRET empty), but "
            f"{stranded} active member(s) log in only with BitBadges (no password): they "
            "cannot log in.",
            hint=(
                "Set BITBADGES_CLIENT_ID and BITBADGES_CLIENT_SECRET again. Before turning it "
                "off for good, ask these members to set a password on their profile."
            ),
            id="siwbb.W002",
        )
    ]

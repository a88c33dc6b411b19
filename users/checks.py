"""System checks of users: `manage.py check --deploy` says when staff log in without MFA."""

from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def staff_mfa_check(app_configs, **kwargs) -> list[Warning]:
    if settings.DEBUG or settings.STAFF_MFA_REQUIRED:
        return []
    return [
        Warning(
            "Staff can use the admin with a password alone: STAFF_MFA_REQUIRED is off.",
            hint=(
                "Set STAFF_MFA_REQUIRED=true so that every staff member must activate an "
                "authenticator app (two-factor authentication) before opening any admin page."
            ),
            id="users.W001",
        )
    ]

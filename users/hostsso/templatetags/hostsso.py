"""{% load hostsso %}: whether sign-on from the host site is on, the host's name, and the
member's host login (for the buttons, the profile and the claim pages)."""

from allauth.socialaccount.models import SocialAccount
from django import template

from users.hostsso import config
from users.hostsso.selectors import host_login, only_way_in

register = template.Library()


@register.simple_tag
def hostsso_enabled() -> bool:
    return config.hostsso_enabled()


@register.simple_tag
def host_site_name() -> str:
    return config.site_name()


@register.simple_tag
def host_login_of(member):
    """The member's host login, or None."""
    if member is None or not getattr(member, "is_authenticated", False):
        return None
    return host_login(member)


@register.simple_tag
def host_login_is_only_way_in(member, login) -> bool:
    return login is not None and only_way_in(member, login)


@register.simple_tag
def host_login_label(login) -> str:
    """What the host said last about the login's account: its email, else its name there."""
    data = getattr(login, "extra_data", None)
    if not isinstance(data, dict):
        return ""
    return str(data.get("email") or data.get("preferred_username") or "")


@register.simple_tag
def has_login(member, provider: str) -> bool:
    """Whether the member has a login of `provider` ("host", "bitbadges")."""
    if member is None or not getattr(member, "pk", None):
        return False
    return SocialAccount.objects.filter(user_id=member.pk, provider=provider).exists()

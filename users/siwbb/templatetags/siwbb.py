"""{% load siwbb %}{% siwbb_enabled as siwbb_on %}: whether Sign in with BitBadges is on."""

from django import template

from users.siwbb.config import siwbb_enabled as _enabled

register = template.Library()


@register.simple_tag
def siwbb_enabled() -> bool:
    return _enabled()

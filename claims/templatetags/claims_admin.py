"""`{% delivery_pause_banner %}`: tells operators, on the admin pages they open first,
that deliveries through BitBadges are paused and what to do about it."""

from django import template

from claims import pause

register = template.Library()


@register.inclusion_tag("admin/claims/_pause_banner.html")
def delivery_pause_banner():
    return {"pause": pause.summary()}

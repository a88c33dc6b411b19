"""{% load claim_badge %}: the badge's picture and its page on BitBadges, for
templates/claims/_badge.html (no query: what is needed is on the Claim)."""

from django import template

from claims.bitbadges.badge import badge_url, site_url
from claims.landing import badge_mark

register = template.Library()


@register.simple_tag
def badge_src(claim) -> str:
    """The kept BitBadges image, served from this site; else the generated mark."""
    return badge_url(claim) or badge_mark(claim)


@register.simple_tag
def bitbadges_link(claim) -> str:
    """The badge on bitbadges.io ("" when the claim names no BitBadges claim)."""
    return site_url(claim)

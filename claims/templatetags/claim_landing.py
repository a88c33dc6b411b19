"""`{% claim_landing_url claim %}`: the claim's absolute landing URL, for the admin."""

from django import template

from claims.landing import landing_url

register = template.Library()


@register.simple_tag
def claim_landing_url(claim) -> str:
    return landing_url(claim)

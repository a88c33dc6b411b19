"""{% load claim_needs %}: the member's broken accounts that a claim needs (claims/needs.py),
for pages rendered outside claims, such as /accounts/ (connections never imports claims)."""

from django import template

from claims.needs import BrokenNeed, broken_needed

register = template.Library()


@register.simple_tag(takes_context=True)
def broken_needs(context, accounts=None) -> list[BrokenNeed]:
    """The warnings for the member the page is for (none for a visitor); `accounts`: the
    member's accounts with their apps, when the page has read them already."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    # Not given (an undefined variable reads as ""): the selector reads them.
    return broken_needed(user, accounts=accounts if isinstance(accounts, list) else None)

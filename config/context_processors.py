"""Template context shared by every page."""

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from branding.selectors import brand_current
from users.selectors import EmailState, member_email_state
from users.siwbb.config import siwbb_enabled


def _email_banner(user) -> EmailState | None:
    """The email state the "confirm your email" banner reads; None (no banner) for a member
    whose address is proven by Sign in with BitBadges: they connect apps and complete
    claims without an email, which is optional for them (the home page says so once).
    A member with neither reads it, with "or connect BitBadges" while Sign in with
    BitBadges is on (`banner_bitbadges`)."""
    if user.address_proven:
        return None
    return member_email_state(member=user)


def site(request: HttpRequest) -> dict[str, object]:
    context: dict[str, object] = {
        "sandbox_mode": settings.SANDBOX,
        "signup_open": settings.SIGNUP_OPEN,
        # Lazy: a fragment that shows no brand reads nothing; a page reads the cache.
        "brand": SimpleLazyObject(brand_current),
    }
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        # Lazy: read only by the pages that show the banner.
        context["email_state"] = SimpleLazyObject(lambda: _email_banner(user))
        # The banner's other way: connecting BitBadges proves the address, which does as
        # well as a confirmed email (a setting read, no query).
        context["banner_bitbadges"] = siwbb_enabled()
    return context

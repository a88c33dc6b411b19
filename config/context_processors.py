"""Template context shared by every page."""

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from branding.selectors import brand_current
from users.selectors import member_email_state


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
        context["email_state"] = SimpleLazyObject(lambda: member_email_state(member=user))
    return context

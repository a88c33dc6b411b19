"""The member's email choices (/profile/notifications/) and one-click unsubscribe
(/notifications/unsubscribe/<token>/, RFC 8058).

Opening the unsubscribe link (GET) changes nothing: mail scanners follow links. It shows
a button; the POST unsubscribes. A mail client's one-click POST (body
"List-Unsubscribe=One-Click") carries no CSRF token and needs none: the signed token is
the authority. Every other POST is checked for CSRF as usual.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required, login_required
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core import ratelimit
from notifications import services
from notifications.forms import PreferencesForm, preferences_form
from notifications.models import Kind
from notifications.tokens import token_read

PREFERENCES_TEMPLATE = "notifications/preferences.html"
UNSUBSCRIBE_TEMPLATE = "notifications/unsubscribe.html"
PROBLEM_TEMPLATE = "notifications/problem.html"


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request):
    """The two switches: GET shows them, POST saves them and goes back to /profile/."""
    if request.method == "GET":
        return render(request, PREFERENCES_TEMPLATE, {"form": preferences_form(request.user)})
    form = PreferencesForm(request.POST, auto_id="notify-%s")
    if not form.is_valid():
        return render(request, PREFERENCES_TEMPLATE, {"form": form}, status=400)
    services.preference_save(request.user, **form.cleaned_data)
    messages.success(request, _("Your email choices are saved."))
    return redirect(reverse("users:profile") + "#notifications")


def _problem(request, status: int, title: str, message: str):
    return render(request, PROBLEM_TEMPLATE, {"title": title, "message": message}, status=status)


def _csrf_refused(request):
    """Django's CSRF check, for a POST that is not a mail client's one-click."""
    return CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})


@login_not_required  # the link in an email works without logging in
@csrf_exempt  # only a mail client's one-click POST skips the check (_csrf_refused)
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    named = token_read(token)
    member = None
    if named is not None:
        member = get_user_model().objects.filter(pk=named.member_pk).first()
        if member is not None and not named.names(member):
            member = None  # the pk of a deleted member, now someone else's
    # A link we made is counted per link, generously, and never against the client's
    # address (mail providers' one-click POSTs and link scanners share addresses); only
    # a link that is not ours counts against the address (someone guessing).
    if member is not None:
        limit, window = settings.NOTIFICATIONS_UNSUBSCRIBE_LINK_RATE_LIMIT
        scope, subject = "notifications-unsubscribe-link", f"{member.pk}:{named.kind}"
    else:
        limit, window = settings.NOTIFICATIONS_UNSUBSCRIBE_RATE_LIMIT
        scope, subject = "notifications-unsubscribe", ratelimit.client_ip(request)
    wait = ratelimit.hit(scope, subject, limit=limit, window=window)
    if wait:
        response = render(request, "429.html", status=429)
        response["Retry-After"] = str(wait)
        return response
    if named is None:
        return _problem(
            request,
            400,
            _("This link does not work"),
            _(
                "This unsubscribe link is broken or incomplete. Copy the whole link from the "
                "email, or change your email choices on your profile."
            ),
        )
    if member is None:
        return _problem(
            request,
            404,
            _("This link no longer works"),
            _("The account this link was for no longer exists: there is nothing to unsubscribe."),
        )
    context = {"kind": Kind(named.kind), "token": token}
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        if not one_click:
            refused = _csrf_refused(request)
            if refused is not None:
                return refused
        services.unsubscribe(member, named.kind)
        context["done"] = True
    return render(request, UNSUBSCRIBE_TEMPLATE, context)

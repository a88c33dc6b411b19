"""The member's own /profile/: emails, password, BitBadges address, deleting the account.

It reaches every app (the address is saved as on the claims page, deleting goes to
Pipedream first), so it lives here, above them. /profile/ is a contract (docs/architecture.md).
"""

from allauth.account.decorators import reauthentication_required
from allauth.account.models import EmailAddress
from allauth.socialaccount.forms import DisconnectForm
from django.contrib import messages
from django.contrib.auth import logout
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from claims import services as claims_services
from claims.forms import AddressForm
from connections import pipedream
from connections.services import TooManyAttempts
from core import ratelimit
from members import data_export
from members import services as member_services
from users.forms import DeleteAccountForm
from users.siwbb.config import siwbb_enabled
from users.siwbb.selectors import bitbadges_logins

PROFILE_TEMPLATE = "users/profile.html"
DELETE_TEMPLATE = "users/delete.html"


def _profile_context(request, *, address_form=None, bitbadges_failure="") -> dict:
    return {
        "emailaddresses": list(
            EmailAddress.objects.filter(user=request.user).order_by("-primary", "email")
        ),
        "address_form": address_form or AddressForm(instance=request.user),
        # Sign in with BitBadges (users/siwbb/): the member's logins, whether they can be
        # started, and what a failed disconnect said.
        "bitbadges_logins": bitbadges_logins(request.user),
        "siwbb_on": siwbb_enabled(),
        "bitbadges_failure": bitbadges_failure,
    }


@require_GET
@never_cache
def profile(request):
    """Email addresses, password, BitBadges address, and the way to delete the account."""
    return render(request, PROFILE_TEMPLATE, _profile_context(request))


@require_POST
def profile_address(request):
    """The BitBadges address, as on the claims page (same form, checks and messages)."""
    before = request.user.address
    was_proven = request.user.address_proven  # before the form changes the address in memory
    form = AddressForm(request.POST, instance=request.user)
    if not form.is_valid():
        request.user.refresh_from_db(fields=["address"])  # the form changed it in memory
        return render(
            request, PROFILE_TEMPLATE, _profile_context(request, address_form=form), status=400
        )
    level, sentence = claims_services.address_save(member=request.user, form=form, before=before)
    messages.add_message(request, getattr(messages, level.upper()), sentence)
    # A typed address of another account is not proven (users.models.User.address_proven).
    if was_proven and not request.user.address_proven:
        messages.info(
            request,
            _(
                "Your new address is not proven. To prove it is yours, connect BitBadges "
                "with it (BitBadges section below)."
            ),
        )
    return redirect("users:profile")


@require_POST
@never_cache
@reauthentication_required
def profile_bitbadges_disconnect(request):
    """Disconnect one of the member's BitBadges logins (field `account`: its id).

    allauth's own checks and flow (DisconnectForm): a member whose only way in it is
    cannot (a sentence says to set a password first); the proof of the address goes
    with the login that proved it (users/siwbb/receivers.py). Like other account changes
    it needs a recent re-authentication."""
    form = DisconnectForm(request.POST, request=request)
    if not form.is_valid():
        errors = form.non_field_errors()
        failure = (
            str(errors[0])
            if errors
            else _("Choose one of your BitBadges logins to disconnect; nothing was changed.")
        )
        context = _profile_context(request, bitbadges_failure=failure)
        return render(request, PROFILE_TEMPLATE, context, status=400)
    form.save()
    return redirect(reverse("users:profile") + "#bitbadges")


@require_POST
@never_cache
@reauthentication_required
def profile_data(request):
    """Everything the site holds about the member, as a JSON download (members/data_export.py).

    POST from the profile's form (kept out of links, prefetches and access logs' queries),
    for the logged-in member only, never cached. Like deleting, it needs a recent
    re-authentication (allauth's): without one the member confirms their password (or
    second factor) at /reauthenticate/, and the POST they made is kept and answered
    there, so a hijacked or unattended session cannot take the file. data_export.RATE_LIMIT
    downloads per member and hour: past it, the profile page says when to try again (429)."""
    limit, window = data_export.RATE_LIMIT
    wait = ratelimit.hit("member-data", request.user.pk, limit=limit, window=window)
    if wait is not None:
        minutes = -(-wait // 60)
        context = _profile_context(request)
        context["data_failure"] = ngettext(
            "You have downloaded your data %(limit)d times in a short time. "
            "Try again in %(minutes)d minute.",
            "You have downloaded your data %(limit)d times in a short time. "
            "Try again in %(minutes)d minutes.",
            minutes,
        ) % {"limit": limit, "minutes": minutes}
        response = render(request, PROFILE_TEMPLATE, context, status=429)
        response["Retry-After"] = str(wait)
        return response
    return FileResponse(
        data_export.export(request.user),
        as_attachment=True,
        filename=data_export.filename(request.user),
        content_type="application/json",
    )


@require_http_methods(["GET", "POST"])
@never_cache
@reauthentication_required
def profile_delete(request):
    """GET: what deleting means, and a form. POST with the username typed: delete.

    Both need a recent re-authentication (allauth's, as for other account changes):
    without one the member confirms their password (or second factor) at
    /reauthenticate/ and comes back here; a POST made after it ran out is kept and goes
    on once they have. A notice goes to the member's confirmed addresses once the
    account is deleted (members.services.member_delete). Tries that reach Pipedream are
    limited per member (ACCOUNT_CHANGE_RATE_LIMIT): past it, 429 with Retry-After."""
    if request.method == "GET":
        return render(request, DELETE_TEMPLATE, {"form": DeleteAccountForm(member=request.user)})
    form = DeleteAccountForm(request.POST, member=request.user)
    if not form.is_valid():
        return render(request, DELETE_TEMPLATE, {"form": form}, status=400)
    try:
        member_services.member_delete(member=request.user, limited=True)
    except TooManyAttempts as exc:
        response = render(request, DELETE_TEMPLATE, {"form": form, "failure": str(exc)}, status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    except member_services.MemberDeleteFailed as exc:
        retry = isinstance(exc.cause, pipedream.RateLimited | pipedream.Unavailable)
        return render(
            request,
            DELETE_TEMPLATE,
            {"form": form, "failure": str(exc)},
            status=503 if retry else 502,
        )
    logout(request)
    # After logout: the new, anonymous session carries the message to the next page.
    messages.success(
        request,
        _(
            "Your account is deleted: your connected accounts, email addresses and settings "
            "are gone. Thank you for having been here."
        ),
    )
    return redirect("home")

"""The member's claims page: requirements ticked off, state and reason, Check again, address.

One view serves the page and its htmx fragment; while a completion is under way the
fragment polls itself (every few seconds) and stops once everything has settled. So it
does while the member's accounts are re-read from Pipedream (connections/freshness.py:
opening the page queues that when they are stale).
"""

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from branding.selectors import _key as brand_key
from claims import selectors, services, triggers
from claims.forms import AddressForm
from connections import freshness
from connections import views as page_views
from core import pagecache, ratelimit

CLAIMS_TEMPLATE = "claims/claims.html"
POLL_SECONDS = 2
WATCH_POLL_SECONDS = 10


def _context(request, *, address_form=None) -> dict:
    accounts = selectors.member_accounts(request.user)
    rows = selectors.claims_for_member(member=request.user, accounts=accounts)
    busy = any(row.in_progress for row in rows)
    watching = any(row.watching and row.state == "ineligible" for row in rows)
    fresh = freshness.refresh_if_stale(request.user, accounts.connected)
    return {
        "rows": rows,
        "polling": busy or watching or fresh,
        # Fast while a completion is under way or the accounts are being re-read; slowly
        # while a trigger watches for the event a not-yet-eligible member is waiting on.
        "poll_seconds": POLL_SECONDS if busy or fresh else WATCH_POLL_SECONDS,
        "poll_reason": "true" if busy else ("fresh" if fresh else "watching"),
        "address_form": address_form or AddressForm(instance=request.user),
        "fresh": fresh,
        "synced": [(account.pk, account.last_synced_at) for account in accounts.connected],
    }


def page_until(member, rows=()):
    """The first moment the clock changes what a page of the member's claims shows: a
    moment the rows name (pagecache.next_moment), or "next try in 4 minutes" turning."""
    now = timezone.now()
    turns = [
        pagecache.timeuntil_turns(row.completion.next_attempt_at, now)
        for row in rows
        if row.completion is not None
    ]
    return pagecache.until_of([pagecache.next_moment(member.pk, now), *turns], now)


def _page(request, marks: dict) -> pagecache.Rendered:
    context = _context(request)
    response = render(request, CLAIMS_TEMPLATE, {**context, **marks})
    if not marks:  # not kept: nothing more to read
        return pagecache.Rendered(response)
    return pagecache.Rendered(
        response,
        state=(context["fresh"],),
        meta=context["synced"],
        until=page_until(request.user, context["rows"]),
    )


def _fragment(request, *, address_form=None, with_address=False) -> HttpResponse:
    """The claims list for htmx; after an address POST also the form (out of band).

    A poll never re-renders the address form: it would wipe what the member is typing.
    """
    context = _context(request, address_form=address_form)
    html = render_to_string(f"{CLAIMS_TEMPLATE}#claims", context, request=request)
    if with_address:
        html += render_to_string(
            f"{CLAIMS_TEMPLATE}#address", {**context, "oob": True}, request=request
        )
    html += render_to_string("connections/_messages.html", {"oob": True}, request=request)
    return HttpResponse(html)


@require_GET
@never_cache
def claims(request):
    if request.htmx and not request.htmx.boosted:
        return _fragment(request)
    # core/pagecache.py keeps the page until a row it shows changes (or the clock does).
    return pagecache.serve(
        request,
        "claims",
        functools.partial(_page, request),
        extra=page_views.page_extra,
        prefetch=[brand_key(), *freshness.cache_keys(request.user)],
        state=functools.partial(page_views.fresh_state, request.user),
    )


@require_POST
def check_again(request, slug: str):
    try:
        claim = selectors.claim_for_member(slug=slug)
    except ObjectDoesNotExist:
        raise Http404(gettext("No such claim.")) from None
    status = 200
    retry_after = None
    try:
        completion = services.member_check_again(claim=claim, member=request.user)
    except services.TooManyChecks as exc:
        messages.error(request, str(exc))
        status = 429
        retry_after = exc.retry_after
    except services.ClaimsError as exc:
        messages.error(request, str(exc))
        status = 400
    else:
        if completion.state == completion.State.COMPLETED:
            messages.info(
                request,
                gettext("“%(claim)s” is already completed for you.") % {"claim": claim.name},
            )
        else:
            messages.success(
                request,
                gettext("Checking “%(claim)s” again. This page updates by itself.")
                % {"claim": claim.name},
            )
    if request.htmx:
        # 200 either way: htmx swaps only successful answers, and the message says it.
        response = _fragment(request)
    elif status == 429:
        response = redirect("claims:claims")
        response.status_code = 303
    else:
        response = redirect("claims:claims")
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)  # for scripts; people read the message
    return response


@require_POST
def address(request):
    before = request.user.address
    form = AddressForm(request.POST, instance=request.user)
    if form.is_valid():
        level, sentence = services.address_save(member=request.user, form=form, before=before)
        messages.add_message(request, getattr(messages, level.upper()), sentence)
        if request.htmx:
            return _fragment(request, with_address=True)
        return redirect("claims:claims")
    if request.htmx:
        return _fragment(request, address_form=form, with_address=True)
    context = _context(request, address_form=form)
    return render(request, CLAIMS_TEMPLATE, context, status=400)


@csrf_exempt
@login_not_required
@require_POST
def trigger_webhook(request):
    """POST /claims/trigger-webhook/?d=<signed deployment>: a deployed trigger's event.

    Stored raw, verified, answered at once (202); the check it asks for runs as a task.
    """
    delivery = triggers.delivery_receive(
        reference=request.GET.get("d", ""),
        headers=request.headers,
        body=request.body,
        client=ratelimit.client_ip(request),
    )
    if delivery.outcome == delivery.Outcome.REFUSED:
        refused = JsonResponse({"error": delivery.detail}, status=delivery.http_status)
        if delivery.pk is None:  # past the refusal limit: logged once per window, not here
            refused._has_been_logged = True
        return refused
    return JsonResponse({"ok": True, "outcome": delivery.outcome}, status=delivery.http_status)

"""Connecting an account: the embedded iframe's token and callback, Connect Link's
hand-off, the emailed link, and the return from Pipedream's hosted page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from connections import selectors, services, words
from connections.forms import ConnectForm
from connections.models import ConnectSession
from connections.views.common import (
    connect_error_json,
    error_page,
    json_error,
    member_account,
    problem_page,
    request_data,
    upstream_hung,
)
from connections.views.page import list_fragment
from core.client import web_budget
from core.database import no_retry
from users.start_path import claim_page_live, claim_path

# --- the embedded iframe -------------------------------------------------------------


@require_POST
@web_budget
def token(request):
    """Mint a Connect token for the iframe. Answers JSON, errors as {"error": sentence}."""
    try:
        data = request_data(request)
    except ValueError as exc:
        return json_error(str(exc), 400)
    form = ConnectForm(data, member=request.user)
    if not form.is_valid():
        return json_error(form.first_error(), 400)
    app = form.cleaned_data["app"]
    reconnect = None
    if form.cleaned_data.get("account"):
        reconnect = _json_account(request.user, form.cleaned_data["account"], app)
        if isinstance(reconnect, JsonResponse):
            return reconnect
    try:
        session, connect_token = services.connect_session_start(
            member=request.user,
            app=app,
            mode=ConnectSession.Mode.IFRAME,
            reconnect_account=reconnect,
        )
        link = services.connect_link_for(token=connect_token, app=app, reconnect_account=reconnect)
        iframe = services.iframe_url_for(token=connect_token, app=app, reconnect_account=reconnect)
    except services.ConnectError as exc:
        return connect_error_json(exc)
    body = {
        **connect_token.as_json(),
        "connect_link_url": link,
        "iframe_url": iframe,
        "session": services.session_reference(session),
        "callback_url": reverse("connections:callback"),
        "app": {"slug": app.slug, "name": app.name},
    }
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    return response


def _json_account(member, account_id: int, app):
    try:
        account = selectors.account_for_member(member=member, account_id=account_id)
    except ObjectDoesNotExist:
        return json_error(_("You have no such account to reconnect."), 404)
    if account.app_id != app.pk:
        return json_error(words.not_an_account_of(app.name), 400)
    return account


@require_POST
@web_budget
def callback(request):
    """The iframe said success: record the account the member just connected.

    The account id comes from the browser, so it is only a hint: the service fetches
    the account from Pipedream and checks that it is this member's.
    """
    wants_json = not request.htmx
    try:
        data = request_data(request)
    except ValueError as exc:
        return json_error(str(exc), 400)
    reference = str(data.get("session") or "")
    pipedream_id = str(data.get("account") or "").strip()
    try:
        services.connect_return_hit(member=request.user)
        session = services.connect_session_for_reference(reference) if reference else None
        if session is None or session.member_id != request.user.pk:
            return json_error(_("This connection attempt is not valid. Please start again."), 400)
        services.connect_return_hit(member=request.user, session=session)
    except services.TooManyAttempts as exc:
        return connect_error_json(exc)
    if str(data.get("check") or "") == "1" and not pipedream_id:
        return _session_check(request.user, session, reason=str(data.get("reason") or "")[:2000])
    if not pipedream_id or len(pipedream_id) > 100:
        return json_error(
            _("We could not tell which account was connected. Please try again."), 400
        )
    account = session.account if services.session_spent(session) else None
    if account is None:  # else recorded already (by this call, or the webhook): answer so
        try:
            account = services.account_record(
                member=request.user, pipedream_id=pipedream_id, session=session
            )
        except services.ConnectError as exc:
            return connect_error_json(exc)
    message = words.account_connected(account)
    if wants_json:
        return JsonResponse(
            {
                "message": message,
                "account": {
                    "id": account.pk,
                    "app": account.app.slug,
                    "name": account.name,
                    "health": account.health,
                },
            }
        )
    messages.success(request, message)
    return list_fragment(request)


NOT_COMPLETED = services.NO_REASON  # English (stored); marked there, translated when said


def _session_check(member, session, *, reason: str = "") -> JsonResponse:
    """Did this attempt produce an account? Asked by the iframe script when the hosted
    page said `{type: "error", error}`: with no text Pipedream's page sometimes sends it
    instead of success although the account was created
    (PipedreamHQ/pipedream-sdk-typescript#280). The answer comes from Pipedream (a sync
    of the member's accounts), never from the browser: {"connected": bool, "message",
    "sentence"}. `sentence` is what the member can act on when the page's `reason` (or
    the failure the webhook recorded) is one they cannot fix themselves, such as
    development mode's limit (services.failure_sentence), else absent; the browser's
    reason only chooses among our own sentences and is never sent back.
    """
    session.refresh_from_db()
    if session.status == ConnectSession.Status.ISSUED:
        try:
            result = services.accounts_sync(member=member)
        except services.ConnectError as exc:
            return connect_error_json(exc)
        account = services.session_account_found(member=member, session=session, result=result)
        if account is not None:
            try:
                services.account_record(
                    member=member, pipedream_id=account.pipedream_id, session=session
                )
            except services.ConnectError as exc:
                return connect_error_json(exc)
            session.refresh_from_db()
    account = session.account
    if session.status != ConnectSession.Status.CONNECTED or account is None:
        text = session.error if session.status == ConnectSession.Status.FAILED else ""
        sentence = services.failure_sentence(reason) or services.failure_sentence(text)
        answer = {"connected": False, "message": sentence or text or _(NOT_COMPLETED)}
        if sentence:
            answer["sentence"] = sentence
        return JsonResponse(answer)
    message = words.account_connected(account)
    return JsonResponse(
        {
            "connected": True,
            "message": message,
            "account": {"id": account.pk, "app": account.app.slug, "health": account.health},
        }
    )


# --- Connect Link and the emailed link ----------------------------------------------


@require_GET
@no_retry
@web_budget
def connect_link(request, app: str):
    """Connect Link hand-off: mint a token, send the member to the hosted page (then `next`)."""
    return_path = claim_path(request.GET.get("next", ""))
    form = ConnectForm({"app": app, "account": request.GET.get("account", "")}, member=request.user)
    if not form.is_valid():
        if "account" in form.errors:
            raise Http404("No such account.")
        messages.error(request, form.first_error())
        return redirect(return_path or "connections:accounts")
    app_obj = form.cleaned_data["app"]
    reconnect = None
    if form.cleaned_data.get("account"):
        reconnect = member_account(request.user, form.cleaned_data["account"])
        if reconnect.app_id != app_obj.pk:
            raise Http404("No such account.")
    return _hand_off(
        request,
        member=request.user,
        app=app_obj,
        mode=ConnectSession.Mode.LINK,
        reconnect=reconnect,
        return_path=return_path,
    )


@login_not_required
@never_cache
@require_GET
@no_retry
@web_budget
def emailed_link(request, signed: str):
    """A link we sent by email: mint a fresh token now, then continue as Connect Link.

    Nothing shown here names the member the link is for, nor any id: whoever holds a
    forwarded link learns only that it is not theirs.
    """
    try:
        link = services.emailed_link_read(signed)
        public_id = services.emailed_link_session_id(link)
    except services.LinkExpired as exc:  # also LinkUsed
        return problem_page(request, status=410, title=words.link_expired(), message=str(exc))
    except services.ConnectError as exc:
        return problem_page(request, status=400, title=words.link_invalid(), message=str(exc))
    member, app = link.member, link.app
    if not request.user.is_authenticated:
        messages.info(request, words.log_in_to_connect(app.name))
        return redirect_to_login(request.get_full_path())
    if request.user.pk != member.pk:
        return problem_page(
            request,
            status=403,
            title=_("This link is for another member"),
            message=_(
                "This link connects an account for another member than the one you are "
                "logged in as. Log out, then open the link again."
            ),
            offer_logout=True,
        )
    reconnect = None
    # A reconnect link names the member's own account in its payload (older links did
    # in their query string).
    if raw := link.reconnect_pk or request.GET.get("account", ""):
        reconnect = member_account(member, raw)
        if reconnect.app_id != app.pk:
            raise Http404("No such account.")
    return _hand_off(
        request,
        member=member,
        app=app,
        mode=ConnectSession.Mode.EMAILED,
        reconnect=reconnect,
        public_id=public_id,
    )


def _hand_off(request, *, member, app, mode, reconnect=None, **start):
    """Mint a token and send the member to the hosted page; on trouble, back to the claim
    page (`start`'s return_path) or /accounts/ (503 with Retry-After if Pipedream hangs)."""
    return_path = start.get("return_path") or "connections:accounts"
    try:
        _session, connect_token = services.connect_session_start(
            member=member, app=app, mode=mode, reconnect_account=reconnect, **start
        )
        url = services.connect_link_for(token=connect_token, app=app, reconnect_account=reconnect)
    except services.EmailNotVerified as exc:
        return problem_page(
            request,
            status=403,
            title=_("Confirm your email or connect BitBadges first")
            if exc.bitbadges
            else _("Confirm your email first"),
            message=str(exc),
            resend_email=exc.pending_email,
        )
    except services.LinkUsed as exc:
        return problem_page(request, status=410, title=words.link_expired(), message=str(exc))
    except services.ConnectError as exc:
        if upstream_hung(exc):
            return error_page(request, exc, _("Pipedream is not answering"))
        messages.error(request, str(exc))
        return redirect(return_path)
    return redirect(url)


@login_not_required
@never_cache
@require_GET
@no_retry
@web_budget
def done(request):
    """Where the hosted page sends the member back (Connect Link and emailed links)."""
    session = services.connect_session_for_reference(request.GET.get("s", ""))
    if session is None:
        return problem_page(
            request,
            status=400,
            title=_("This return link is not valid"),
            message=_(
                "We could not tell which connection this was. If you connected an account, "
                "it will appear on your accounts page shortly."
            ),
        )
    if not request.user.is_authenticated:
        messages.info(request, words.log_in_to_finish(session.app.name))
        return redirect_to_login(request.get_full_path())
    if session.member_id != request.user.pk:
        return problem_page(
            request,
            status=403,
            title=_("This connection belongs to another member"),
            message=_("Log out and log in as the member who started it, then open the link again."),
            offer_logout=True,
        )
    try:
        services.connect_return_hit(member=request.user)
        services.connect_return_hit(member=request.user, session=session)
    except services.TooManyAttempts as exc:
        return error_page(request, exc, _("Too many visits"))
    app_name = session.app.name
    # The claim page it was opened from, while that page still answers; else /accounts/.
    back = session.return_path if claim_page_live(session.return_path) else "connections:accounts"
    if services.session_spent(session):  # recorded already: nothing to ask Pipedream
        messages.success(request, words.app_connected(app_name))
        return redirect(back)
    if request.GET.get("result") == "error":
        error = (request.GET.get("error") or "").strip()[:500]
        services.connect_session_fail(session=session, error=error or services.NO_REASON)
        # The member may well have cancelled: said neutrally. Pipedream's words (if any)
        # stay with the session for staff, unless they are a reason the member must know.
        sentence = services.failure_sentence(error)
        if sentence:
            messages.error(request, sentence)
        else:
            messages.info(request, words.app_not_connected(app_name))
        return redirect(back)
    try:
        result = services.accounts_sync(member=request.user)
        services.session_mark_done(member=request.user, session=session, result=result)
    except services.ConnectError as exc:
        if upstream_hung(exc):
            return error_page(request, exc, _("Pipedream is not answering"))
        messages.warning(request, words.app_not_refreshed(app_name, exc))
        return redirect(back)
    messages.success(request, words.app_connected(app_name))
    return redirect(back)

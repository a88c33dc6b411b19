"""The member's connections: the accounts page and every step of connecting an account.

Thin views: forms check a request, services write, selectors read. A view serves a page
and its htmx fragment (`template + "#partial"`); a POST answers a redirect, or to htmx the
fragment. JSON views (token, iframe callback) answer every failure {"error": sentence}.
"""

import functools
import hashlib
import json
import logging
import math
from types import SimpleNamespace

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from branding.selectors import BrandView, brand_current
from branding.selectors import _key as brand_key
from connections import freshness, pipedream, selectors, services, words
from connections.forms import ConnectForm
from connections.models import ConnectSession
from connections.services.webhooks import FAILURE_NOTICE_FOR
from core import pagecache
from core.client import web_budget
from core.database import no_retry
from users.siwbb.config import siwbb_enabled
from users.start_path import claim_page_live, claim_path

logger = logging.getLogger("connections.views")

ACCOUNTS_TEMPLATE = "connections/accounts.html"
# Seconds a rendered accounts list stays in the cache (keyed by its content).
ACCOUNTS_HTML_CACHE_SECONDS = 600
# A token request is a slug and a number; anything much bigger is not one.
MAX_JSON_BODY = 16 * 1024


# --- helpers -----------------------------------------------------------------------


def _json_error(message: str, status: int, **headers) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _status_for(exc: services.ConnectError) -> int:
    if isinstance(exc, services.TooManyAttempts):
        return 429
    if isinstance(exc, services.UpstreamError):
        cause = getattr(exc, "cause", None)
        if isinstance(cause, pipedream.RateLimited | pipedream.Unavailable):
            return 503
        return 502
    if isinstance(exc, services.ForeignAccount | services.EmailNotVerified):
        return 403
    if isinstance(exc, services.LinkExpired):
        return 410
    if isinstance(exc, services.AccountNotFound):
        return 404
    return 400


def _retry_after(exc: services.ConnectError) -> str:
    """Retry-After for a 429 or 503: the limit's or the upstream's wait, else 30 s."""
    seconds = getattr(exc, "retry_after", None) or getattr(
        getattr(exc, "cause", None), "retry_after", None
    )
    return str(max(1, math.ceil(seconds or 30)))


def _connect_error_json(exc: services.ConnectError) -> JsonResponse:
    status = _status_for(exc)
    if status in (429, 503):
        return _json_error(str(exc), status, Retry_After=_retry_after(exc))
    return _json_error(str(exc), status)


def _upstream_hung(exc: services.ConnectError) -> bool:
    """Pipedream did not answer within the page's budget (or was not asked, to spare it)."""
    cause = getattr(exc, "cause", None)
    return isinstance(cause, pipedream.Unavailable) and cause.retry_after is not None


def _error_page(request, exc: services.ConnectError, title: str):
    """A 429 or 503 page with Retry-After, for a browser that came to a page."""
    status = _status_for(exc) if isinstance(exc, services.TooManyAttempts) else 503
    response = _problem_page(request, status=status, title=title, message=str(exc))
    response["Retry-After"] = _retry_after(exc)
    return response


def _request_data(request):
    """The POST fields, from a form or a JSON object. Raises ValueError with a sentence."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_JSON_BODY:
        raise ValueError(_("The request is too large: send only the fields app and account."))
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
            # Strings that cannot be encoded (lone surrogates) are not text to act on.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except (ValueError, RecursionError):  # also too deeply nested; UnicodeError too
            raise ValueError(_("The request body is not valid JSON.")) from None
        if not isinstance(data, dict):
            raise ValueError(_('The request body must be a JSON object such as {"app": "github"}.'))
        # Only strings and numbers make sense as field values.
        return {
            k: v for k, v in data.items() if isinstance(v, (str, int)) and not isinstance(v, bool)
        }
    return request.POST


def _member_account(member, raw):
    """The member's own account numbered `raw`, or 404 (also for someone else's)."""
    try:
        return selectors.account_for_member(member=member, account_id=int(raw))
    except (ObjectDoesNotExist, TypeError, ValueError, OverflowError):
        raise Http404("No such account.") from None


def _url_for_each(name: str, placeholder):
    """`reverse(name, args=[value])` for many values at the cost of one reverse()."""
    before, after = reverse(name, args=[placeholder]).split(str(placeholder), 1)
    return lambda value: f"{before}{value}{after}"


def _accounts_context(member) -> dict:
    accounts = list(selectors.accounts_for_member(member=member))
    apps = list(selectors.apps_available(member=member))
    # The page links every account and app: one reverse() per URL name, not per link.
    connect_url = _url_for_each("connections:connect", "app_slug_")
    disconnect_url = _url_for_each("connections:disconnect", 987654321)
    # Attributes for the template only, not fields of the models.
    for account in accounts:
        account.connect_url = connect_url(account.app.slug)  # type: ignore[attr-defined]
        account.disconnect_url = disconnect_url(account.pk)  # type: ignore[attr-defined]
    for app in apps:
        app.connect_url = connect_url(app.slug)  # type: ignore[attr-defined]
    return {
        "accounts": accounts,
        "apps": apps,
        "unhealthy_count": sum(1 for account in accounts if account.needs_reconnect),
        "connected_app_ids": {account.app_id for account in accounts},
    }


def content_key(prefix: str, *parts) -> str:
    """A cache key for HTML: a digest of all it shows (`parts`: model instances stand for
    all their fields), the code, the language and time zone. It is never stale."""
    content = (
        pagecache.code_digest(),
        translation.get_language(),
        timezone.get_current_timezone_name(),
        pagecache.plain(parts),
    )
    return f"{prefix}:{hashlib.sha256(repr(content).encode()).hexdigest()}"


def _accounts_html(request, context: dict) -> str:
    """The accounts list (the template's `accounts` partial, for the htmx fragments too),
    rendered once per content (content_key: each account, its app, each app offered).
    (The partial holds nothing request-specific, such as a CSRF token.)"""
    key = content_key(
        "accounts-html",
        [(account, account.app) for account in context["accounts"]],
        context["apps"],
    )
    html = cache.get(key)
    if html is None:
        html = render_to_string(f"{ACCOUNTS_TEMPLATE}#accounts", context, request=request)
        cache.set(key, html, ACCOUNTS_HTML_CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 (our own template's output)


def _accounts_fragment(request, *, status: int = 200):
    """The accounts list for htmx, with the messages swapped out of band."""
    html = _accounts_html(request, _accounts_context(request.user))
    html += render_to_string("connections/_messages.html", {"oob": True}, request=request)
    html += freshness.warnings_oob(request)  # the warnings of broken accounts claims need
    return HttpResponse(html, status=status)


def _problem_page(request, *, status: int, title: str, message: str, **extra):
    return render(
        request,
        "connections/problem.html",
        {"title": title, "message": message, **extra},
        status=status,
    )


# --- the accounts page ---------------------------------------------------------------


@require_GET
@never_cache
def accounts(request):
    """The member's accounts and the apps they may connect (kept by core/pagecache.py)."""
    if request.htmx and not request.htmx.boosted:
        return freshness.accounts_fragment(request, _accounts_fragment)
    return pagecache.serve(
        request, "accounts", functools.partial(_accounts_page, request), extra=page_extra,
        prefetch=[brand_key(), *freshness.cache_keys(request.user)], state=functools.partial(fresh_state, request.user))  # fmt: skip


def page_extra(read: dict) -> tuple:
    """A member page's content besides pagecache.SOURCES: the brand, Sign in with BitBadges."""
    brand = read.get(brand_key())  # the cached brand, read with the page (prefetch)
    return (repr(brand if isinstance(brand, BrandView) else brand_current()), siwbb_enabled())


def fresh_state(member, synced, read) -> tuple:
    """(Is a re-read under way,) from the accounts' (id, last read) a render kept."""
    return (freshness.refresh_if_stale(member, [SimpleNamespace(pk=i, last_synced_at=at) for i, at in synced or ()], read=read),)  # fmt: skip


def _accounts_page(request, marks: dict) -> pagecache.Rendered:
    member, context = request.user, _accounts_context(request.user)
    fresh = freshness.page_context(member, context["accounts"])
    notice = services.connect_failure_notice(member=member)
    page = {**fresh, "accounts_html": _accounts_html(request, context), "connect_failure": notice}
    response = render(request, ACCOUNTS_TEMPLATE, {**page, **marks})
    if not marks:  # not kept: nothing more to read
        return pagecache.Rendered(response)
    # The notice of a failed connection shows for FAILURE_NOTICE_FOR after it.
    latest = ConnectSession.objects.filter(member=member).order_by("-created_at").first()
    ends = latest.completed_at + FAILURE_NOTICE_FOR if latest and latest.completed_at else None
    now = timezone.now()
    until = pagecache.until_of([pagecache.next_moment(member.pk, now), ends], now)
    synced = [(account.pk, account.last_synced_at) for account in context["accounts"]]
    return pagecache.Rendered(response, state=(fresh["fresh"],), meta=synced, until=until)


@require_http_methods(["GET", "POST"])
@web_budget
def disconnect(request, account_id: int):
    """GET: ask to confirm (a page, or an inline fragment for htmx). POST: disconnect."""
    account = _member_account(request.user, account_id)
    if request.method == "GET":
        template = "connections/disconnect.html"
        if request.htmx:
            template += "#confirm"
        return render(request, template, {"account": account})
    label = f"{account.app.name} account {account.name or account.pipedream_id}"
    try:
        services.account_disconnect(member=request.user, account=account, limited=True)
    except services.ConnectError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{label} is disconnected.")
    if request.htmx:
        # 200 either way: htmx swaps only successful answers, and the message says it.
        return _accounts_fragment(request)
    return redirect("connections:accounts")


# --- connecting: the embedded iframe -------------------------------------------------


@require_POST
@web_budget
def token(request):
    """Mint a Connect token for the iframe. Answers JSON, errors as {"error": sentence}."""
    try:
        data = _request_data(request)
    except ValueError as exc:
        return _json_error(str(exc), 400)
    form = ConnectForm(data, member=request.user)
    if not form.is_valid():
        return _json_error(form.first_error(), 400)
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
        return _connect_error_json(exc)
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
        return _json_error(_("You have no such account to reconnect."), 404)
    if account.app_id != app.pk:
        return _json_error(words.not_an_account_of(app.name), 400)
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
        data = _request_data(request)
    except ValueError as exc:
        return _json_error(str(exc), 400)
    reference = str(data.get("session") or "")
    pipedream_id = str(data.get("account") or "").strip()
    try:
        services.connect_return_hit(member=request.user)
        session = services.connect_session_for_reference(reference) if reference else None
        if session is None or session.member_id != request.user.pk:
            return _json_error(_("This connection attempt is not valid. Please start again."), 400)
        services.connect_return_hit(member=request.user, session=session)
    except services.TooManyAttempts as exc:
        return _connect_error_json(exc)
    if str(data.get("check") or "") == "1" and not pipedream_id:
        return _session_check(request.user, session, reason=str(data.get("reason") or "")[:2000])
    if not pipedream_id or len(pipedream_id) > 100:
        return _json_error(
            _("We could not tell which account was connected. Please try again."), 400
        )
    account = session.account if services.session_spent(session) else None
    if account is None:  # else recorded already (by this call, or the webhook): answer so
        try:
            account = services.account_record(
                member=request.user, pipedream_id=pipedream_id, session=session
            )
        except services.ConnectError as exc:
            return _connect_error_json(exc)
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
    return _accounts_fragment(request)


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
            return _connect_error_json(exc)
        account = services.session_account_found(member=member, session=session, result=result)
        if account is not None:
            try:
                services.account_record(
                    member=member, pipedream_id=account.pipedream_id, session=session
                )
            except services.ConnectError as exc:
                return _connect_error_json(exc)
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


# --- connecting: Connect Link and the emailed link ----------------------------------


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
        reconnect = _member_account(request.user, form.cleaned_data["account"])
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
        return _problem_page(request, status=410, title=words.link_expired(), message=str(exc))
    except services.ConnectError as exc:
        return _problem_page(request, status=400, title=words.link_invalid(), message=str(exc))
    member, app = link.member, link.app
    if not request.user.is_authenticated:
        messages.info(request, words.log_in_to_connect(app.name))
        return redirect_to_login(request.get_full_path())
    if request.user.pk != member.pk:
        return _problem_page(
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
        reconnect = _member_account(member, raw)
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
        return _problem_page(
            request,
            status=403,
            title=_("Confirm your email or connect BitBadges first")
            if exc.bitbadges
            else _("Confirm your email first"),
            message=str(exc),
            resend_email=exc.pending_email,
        )
    except services.LinkUsed as exc:
        return _problem_page(request, status=410, title=words.link_expired(), message=str(exc))
    except services.ConnectError as exc:
        if _upstream_hung(exc):
            return _error_page(request, exc, _("Pipedream is not answering"))
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
        return _problem_page(
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
        return _problem_page(
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
        return _error_page(request, exc, _("Too many visits"))
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
        if _upstream_hung(exc):
            return _error_page(request, exc, _("Pipedream is not answering"))
        messages.warning(request, words.app_not_refreshed(app_name, exc))
        return redirect(back)
    messages.success(request, words.app_connected(app_name))
    return redirect(back)

"""The accounts page (/accounts/), its htmx fragment, and disconnecting an account."""

import functools
import hashlib
from types import SimpleNamespace

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from branding.selectors import BrandView, brand_current
from branding.selectors import _key as brand_key
from connections import freshness, selectors, services
from connections.models import ConnectSession
from connections.services.webhooks import FAILURE_NOTICE_FOR
from connections.views.common import member_account
from core import pagecache
from core.client import web_budget
from users.siwbb.config import siwbb_enabled

ACCOUNTS_TEMPLATE = "connections/accounts.html"
# Seconds a rendered accounts list stays in the cache (keyed by its content).
ACCOUNTS_HTML_CACHE_SECONDS = 600


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


def list_fragment(request, *, status: int = 200):
    """The accounts list for htmx, with the messages swapped out of band."""
    html = _accounts_html(request, _accounts_context(request.user))
    html += render_to_string("connections/_messages.html", {"oob": True}, request=request)
    html += freshness.warnings_oob(request)  # the warnings of broken accounts claims need
    return HttpResponse(html, status=status)


@require_GET
@never_cache
def accounts(request):
    """The member's accounts and the apps they may connect (kept by core/pagecache.py)."""
    if request.htmx and not request.htmx.boosted:
        return freshness.accounts_fragment(request, list_fragment)
    return pagecache.serve(
        request,
        "accounts",
        functools.partial(_accounts_page, request),
        extra=page_extra,
        prefetch=[brand_key(), *freshness.cache_keys(request.user)],
        state=functools.partial(fresh_state, request.user),
    )


def page_extra(read: dict) -> tuple:
    """A member page's content besides pagecache.SOURCES: the brand, Sign in with BitBadges."""
    brand = read.get(brand_key())  # the cached brand, read with the page (prefetch)
    return (repr(brand if isinstance(brand, BrandView) else brand_current()), siwbb_enabled())


def fresh_state(member, synced, read) -> tuple:
    """(Is a re-read under way,) from the accounts' (id, last read) a render kept."""
    accounts = [SimpleNamespace(pk=pk, last_synced_at=at) for pk, at in synced or ()]
    return (freshness.refresh_if_stale(member, accounts, read=read),)


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
    account = member_account(request.user, account_id)
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
        return list_fragment(request)
    return redirect("connections:accounts")

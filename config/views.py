"""Site-wide views: the home page and the health check."""

import contextlib
import functools
import hashlib
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection
from django.db.models import Min
from django.db.models.functions import Coalesce
from django.http import JsonResponse
from django.shortcuts import render
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_tasks_db.models import DBTaskResult

from branding.selectors import _key as brand_key
from claims import pause
from claims import views as claims_views
from claims.home import POLL_PARAM, member_home, needs_you_poll
from claims.models import Completion
from connections import freshness
from connections import services as connections_services
from connections import views as page_views
from connections.models import ConnectedAccount
from core import pagecache

logger = logging.getLogger(__name__)

# A READY task older than this means no worker is taking tasks.
TASK_BACKLOG_MAX_AGE_SECONDS = 15 * 60
# Whether an upstream answers is asked at most once per this many seconds (the answer is
# kept in the cache: one process's with the default local-memory cache, every process's
# with Redis), by one request at a time, and waited for this long.
UPSTREAM_PROBE_CACHE_SECONDS = 30
UPSTREAM_PROBE_TIMEOUT_SECONDS = 2


@require_GET
@never_cache
def home(request):
    """The member's progress and what needs them (claims/home.py); visitors are sent to
    log in (LoginRequiredMiddleware), whose page links to the public list of claims."""
    if POLL_PARAM in request.GET and request.htmx and not request.htmx.boosted:
        return needs_you_poll(request)  # the "What needs you" section's poll
    # core/pagecache.py keeps the page until a row it shows changes (or the clock does).
    return pagecache.serve(
        request,
        "home",
        functools.partial(_home_page, request),
        extra=page_views.page_extra,
        prefetch=[brand_key(), *freshness.cache_keys(request.user)],
        state=functools.partial(page_views.fresh_state, request.user),
    )


def _home_page(request, marks: dict) -> pagecache.Rendered:
    home = member_home(request.user)
    response = render(request, "home.html", {"home": home, **marks})
    if not marks:  # not kept: nothing more to read
        return pagecache.Rendered(response)
    # The accounts whose last read decides a re-read (claims/home.py reads them all).
    synced = ConnectedAccount.objects.filter(member=request.user).values_list(
        "pk", "last_synced_at"
    )
    return pagecache.Rendered(
        response,
        state=(bool(home.refreshing),),
        meta=list(synced),
        until=claims_views.page_until(request.user),
    )


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "vendor": connection.vendor}


def _check_cache() -> dict:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    ok = cache.get(key) == "1"
    cache.delete(key)
    return {"ok": ok} if ok else {"ok": False, "error": "value written was not read back"}


def _check_tasks() -> dict:
    backend = task_backends[DEFAULT_TASK_BACKEND_ALIAS]
    result = {"ok": True, "backend": type(backend).__name__}
    if type(backend).__module__.startswith("django_tasks_db"):
        ready = DBTaskResult.objects.ready()
        result["ready"] = ready.count()
        oldest = ready.order_by("enqueued_at").values("enqueued_at", "run_after").first()
        if oldest is not None:
            # A deferred task is only due from run_after on (the far-future sentinel
            # means "no delay").
            due = oldest["enqueued_at"]
            if oldest["run_after"] and oldest["run_after"].year < 9999:
                due = max(due, oldest["run_after"])
            age = (timezone.now() - due).total_seconds()
            result["oldest_ready_seconds"] = round(age)
            if age > TASK_BACKLOG_MAX_AGE_SECONDS:
                result.update(ok=False, error="tasks are waiting and no worker is taking them")
    return result


def _check_claims() -> dict:
    """Completions a worker should have taken by now: how many, and the oldest's wait.

    A due completion waits from its scheduled time (or, when a worker stopped while
    holding it, from its lease's expiry). `complete_claims` and the workers take them;
    when the oldest has waited past TASK_BACKLOG_MAX_AGE_SECONDS neither is running.
    """
    now = timezone.now()
    due = Completion.objects.due(now).filter(member__isnull=False)
    scheduled = due.filter(state__in=[Completion.State.WAITING, Completion.State.RETRYING])
    abandoned = due.exclude(state__in=[Completion.State.WAITING, Completion.State.RETRYING])
    since = [
        scheduled.aggregate(at=Min(Coalesce("next_attempt_at", "updated_at")))["at"],
        abandoned.aggregate(at=Min(Coalesce("lease_expires_at", "updated_at")))["at"],
    ]
    result: dict[str, object] = {"ok": True, "due": due.count()}
    oldest = min((at for at in since if at is not None), default=None)
    if oldest is not None:
        age = max(0.0, (now - oldest).total_seconds())
        result["oldest_due_seconds"] = round(age)
        if age > TASK_BACKLOG_MAX_AGE_SECONDS:
            result.update(ok=False, error="completions are due and nothing is taking them")
    return result


def _check_deliveries() -> dict:
    """Whether deliveries through BitBadges flow or wait on a pause (out of credits).

    A pause is reported, not failed: the site works and nothing is lost, and a load
    balancer must not take web hosts out of service because credits ran out.
    """
    current = pause.summary()
    if current is None:
        return {"ok": True, "bitbadges": "flowing"}
    return {
        "ok": True,
        "bitbadges": "paused",
        "reason": "out of credits",
        "paused_since": current["since"].isoformat(),
        "waiting": current["waiting"],
        "next_check": current["next_probe_at"].isoformat(),
    }


def _check_upstream() -> dict:
    required = {
        "PIPEDREAM_CLIENT_ID": settings.PIPEDREAM_CLIENT_ID,
        "PIPEDREAM_CLIENT_SECRET": settings.PIPEDREAM_CLIENT_SECRET,
        "PIPEDREAM_PROJECT_ID": settings.PIPEDREAM_PROJECT_ID,
        "PIPEDREAM_API_URL": settings.PIPEDREAM_API_URL,
        "PIPEDREAM_CONNECT_URL": settings.PIPEDREAM_CONNECT_URL,
        "BITBADGES_API_URL": settings.BITBADGES_API_URL,
        "BITBADGES_API_KEY": settings.BITBADGES_API_KEY,
    }
    missing = sorted(name for name, value in required.items() if not value)
    result = {
        "ok": not missing,
        "sandbox": settings.SANDBOX,
        "pipedream_environment": settings.PIPEDREAM_PROJECT_ENVIRONMENT,
    }
    if missing:
        result["missing"] = missing
    urls = {"pipedream": settings.PIPEDREAM_API_URL, "bitbadges": settings.BITBADGES_API_URL}
    unreachable = _unreachable({name: url for name, url in urls.items() if url})
    if unreachable:
        result["unreachable"] = unreachable
        if settings.SANDBOX:
            # The sandbox is this site: no answer there means this host's own URLs are
            # wrong (a PUBLIC_URL on another port), which a host out of service fixes.
            result.update(ok=False, error=f"no answer from {' or '.join(unreachable)}")
        else:
            # Pipedream or BitBadges down (or slow) is reported, not failed: every host
            # would fail alike, and a balancer taking them all out fixes nothing.
            result.update(degraded=True, error=f"no answer from {' or '.join(unreachable)}")
    # A warning, not a failure: the site works, for the first 10 members signed in to
    # pipedream.com. It names the setting, never its value (the environment is above).
    if warning := connections_services.public_development_warning():
        result["warning"] = warning
    return result


def _unreachable(urls: dict[str, str]) -> list[str]:
    """The names of the upstreams nothing answers HTTP at (any status will do): a refused
    connection, a timeout or an unknown host. Each URL is asked at most once per
    UPSTREAM_PROBE_CACHE_SECONDS, all at once (the wait is one timeout, not one each), by
    one request at a time: while one asks, the others report what was known (nothing
    unreachable when nothing is known yet), so anonymous polls cannot multiply the calls.
    Without a working cache nothing is asked: the cache check reports that.

    A base URL that points nowhere (a PUBLIC_URL on the wrong port puts the sandbox's
    there) otherwise shows only as Connect failing after its timeout.
    """
    keys = {
        name: f"healthz:answers:{hashlib.sha256(url.encode()).hexdigest()[:32]}"
        for name, url in urls.items()
    }
    try:
        known = cache.get_many(keys.values())
        asked = {name: url for name, url in urls.items() if keys[name] not in known}
        asking = bool(asked) and cache.add(
            "healthz:asking", 1, timeout=2 * UPSTREAM_PROBE_TIMEOUT_SECONDS + 1
        )
    except Exception:
        return []
    if asking:
        with ThreadPoolExecutor(max_workers=len(asked)) as pool:
            answers = dict(zip(asked, pool.map(_answers, asked.values()), strict=True))
        fresh = {keys[name]: answer for name, answer in answers.items()}
        with contextlib.suppress(Exception):
            cache.set_many(fresh, timeout=UPSTREAM_PROBE_CACHE_SECONDS)
            cache.delete("healthz:asking")
        known.update(fresh)
    return [name for name in urls if known.get(keys[name]) is False]


def _answers(url: str) -> bool:
    timeout = UPSTREAM_PROBE_TIMEOUT_SECONDS
    try:
        requests.head(url, timeout=(timeout, timeout), allow_redirects=False)
    except requests.RequestException:
        return False
    return True


CHECKS = {
    "database": _check_database,
    "cache": _check_cache,
    "tasks": _check_tasks,
    "claims": _check_claims,
    "deliveries": _check_deliveries,
    "upstream": _check_upstream,
}


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """Liveness and readiness for load balancers: 200 when every check passes, else 503.

    Anonymous callers (a balancer) get the status only: {"status": "ok"} or, with 503,
    {"status": "unavailable"}. Staff (logged in, is_staff) also get each check, where
    "degraded" (still 200) names what is wrong outside this host (Pipedream's or
    BitBadges' API not answering, which no host taken out of service would fix). Even
    then it names what failed, never configuration values or error text.
    """
    started = time.monotonic()
    checks = {}
    for name, check in CHECKS.items():
        try:
            checks[name] = check()
        except Exception as exc:  # a health check must answer, whatever broke
            logger.exception("Health check %s failed", name)
            checks[name] = {"ok": False, "error": type(exc).__name__}
    healthy = all(c["ok"] for c in checks.values())
    status = 200 if healthy else 503
    if not _may_see_details(request):
        return JsonResponse({"status": "ok" if healthy else "unavailable"}, status=status)
    degraded = any(c.get("degraded") for c in checks.values())
    body = {
        "status": "error" if not healthy else "degraded" if degraded else "ok",
        "checks": checks,
        "duration_ms": round((time.monotonic() - started) * 1000, 1),
    }
    return JsonResponse(body, status=status)


def _may_see_details(request) -> bool:
    """Staff see what each check found; everyone else only whether the host serves."""
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)

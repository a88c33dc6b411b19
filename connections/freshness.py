"""Fresh health: a member who opens the home page, /claims/ or /accounts/ sees their
accounts' health as Pipedream has it now, not as the scheduler's last round left it.

`refresh_if_stale(member, accounts)` is the hook those pages call. When the oldest of the
member's accounts was last read from Pipedream more than FRESH_HEALTH_SECONDS ago, it
queues `accounts_refresh_task` (a django-tasks task: never in the request itself) and
answers True: the page renders at once with what it has, and its accounts part asks
again every few seconds (htmx) until the task has finished, then shows the result once.
Without JavaScript the next load shows it. Whether it has finished: the task leaves the
page's ticket in the cache however it ends, and on a cache every process shares (Redis,
the database cache) that is all a page asks; on the local-memory cache, where the
worker's entry is never seen, the page reads the task's row. A ticket lost (the cache
failed as the task ended) leaves the page asking for at most WAIT_SECONDS.

One refresh per member per FRESH_HEALTH_SECONDS, whichever process serves the page: the
first open takes a cache key with `cache.add` (atomic in Redis and the database cache;
the default local-memory cache is per process, so with several web processes each may
queue one). The key holds the queued task's id, so a second open in the window queues
nothing but still knows whether that refresh is under way. A member with no accounts
queues nothing; another member's page never refreshes yours (the key and the task's
argument are the member's own).

An account the refresh could not read (a sync skips one another member holds, or one
Pipedream describes in a way it cannot use) keeps its old last_synced_at. The task
remembers those for a day (connections/tasks.py, SKIPPED_KEY, in the same cache): they do
not make the member's accounts stale again until they have been read, or the day is over,
so such an account costs one re-read a day, not one per window. The task worker writes
that memory and the web processes read it, so it needs a cache they share (CACHE_URL:
Redis or the database cache). With the default local-memory cache the worker's entry is
never seen, even with a single web process, and such an account re-queues one refresh
per window instead (bounded, and config.W001 warns about local memory).

No cap across members: N members opening pages in one window queue at most N re-reads
(one Pipedream list call each, from the worker), the calls the scheduler's
`accounts_health_poll` makes for the same members on each of its rounds; with the default
window (300 s) and rounds every 15 minutes, at most three times the scheduler's own. The
worker runs them one after another, and no page waits for them. They never hold up other
work: they run at the lowest priority and within a short upstream budget with a breaker
(connections/tasks.py, REFRESH_PRIORITY, REFRESH_BUDGET).
"""

import datetime
import logging
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone

from connections import tasks
from connections.models import ConnectedAccount
from core import shared_version

# Seconds a page keeps asking whether the refresh is done (one the worker has not picked
# up by then shows on the next load).
WAIT_SECONDS = 60
# The query parameter of the accounts page's poll (GET /accounts/?fresh=1).
POLL_PARAM = "fresh"
ACCOUNTS_TEMPLATE = "connections/accounts.html"


def _window() -> int:
    """FRESH_HEALTH_SECONDS; 0 (or less, or unset) turns fresh health off."""
    return max(0, int(getattr(settings, "FRESH_HEALTH_SECONDS", 0) or 0))


def _key(member) -> str:
    return f"fresh-health:{member.pk}"


def cache_keys(member) -> list[str]:
    """The cache keys a page's check reads: a page may read them with its own entry, in
    one round trip, and hand them to `refresh_if_stale` (`read`)."""
    return [
        tasks.SKIPPED_KEY.format(member_id=member.pk),
        _key(member),
        tasks.REFRESHED_KEY.format(member_id=member.pk),
    ]


def _skipped_state_ended(member, read: dict | None = None) -> tuple[dict, str | None, str]:
    """In one cache round trip (none when the page has read `cache_keys` already: `read`):
    the member's accounts the last refresh could not read (connections/tasks.py: {pk:
    last_synced_at as it was then}; anything else in the cache reads as none), the
    window's key (None while no refresh was queued in it) and the ticket of the member's
    last refresh that has ended ("" if none)."""
    skipped_key, window_key, ended_key = cache_keys(member)
    try:
        values = cache.get_many([skipped_key, window_key, ended_key]) if read is None else read
    except Exception:  # a garbled entry (or an unpicklable one): nothing skipped or queued
        return {}, None, ""
    skipped = values.get(skipped_key)
    state = values.get(window_key)
    return (
        skipped if isinstance(skipped, dict) else {},
        None if state is None else str(state),
        str(values.get(ended_key) or ""),
    )


def stale(accounts, *, now=None, skipped: dict | None = None) -> bool:
    """Whether any of `accounts` was last read from Pipedream longer ago than the window
    (or never): none at all is never stale. An account in `skipped` (the last refresh
    could not read it) does not count while it has not been read since."""
    window = _window()
    if not window:
        return False
    cutoff = (now or timezone.now()) - datetime.timedelta(seconds=window)
    skipped = skipped or {}
    return any(
        (account.last_synced_at is None or account.last_synced_at < cutoff)
        and skipped.get(account.pk) != tasks.synced_at(account.last_synced_at)
        for account in accounts
    )


def refresh_if_stale(member, accounts=None, *, read: dict | None = None) -> bool:
    """Queue a background re-read of the member's accounts when they are stale (see the
    module's docstring); True while a refresh is under way for them (queued now or by an
    earlier open, not finished, for at most WAIT_SECONDS): the page then updates its
    accounts part when it is done. `accounts`: the member's accounts when the page has
    read them already (no query then); `read`: the values of `cache_keys` the page read
    with its own (no cache round trip then)."""
    if not getattr(member, "is_authenticated", False):
        return False
    if accounts is None:
        accounts = ConnectedAccount.objects.filter(member=member).only("last_synced_at")
    # The cache is asked only when some account is stale.
    if not stale(accounts):
        return False
    skipped, state, ended = _skipped_state_ended(member, read)
    if not stale(accounts, skipped=skipped):
        return False
    if state is not None:
        return refreshing(member, state, ended)  # queued by an earlier open: rate-limited
    window, key, ticket = _window(), _key(member), uuid.uuid4().hex
    if not cache.add(key, f"queuing - {time.time()}", timeout=window):
        return refreshing(member)  # queued by another open this moment
    try:
        result = tasks.accounts_refresh_task.enqueue(member.pk, ticket=ticket)
    except Exception:
        # The page renders regardless; the key stays, so nothing retries before the window.
        logging.getLogger(__name__).exception("Fresh health: refresh of %s not queued", member.pk)
        cache.set(key, "failed", timeout=window)
        return False
    cache.set(key, f"queued {result.id} {time.time()} {ticket}", timeout=window)
    return True


def refreshing(member, state: str | None = None, ended: str | None = None) -> bool:
    """A refresh of the member's accounts queued by a page open is ready or running, and
    was queued less than WAIT_SECONDS ago. `state` and `ended`: the window's key and the
    last ended refresh's ticket as just read, if they were (else they are read now).

    On a cache every process shares the worker's word decides (the task leaves the
    page's ticket under REFRESHED_KEY however it ends): no query. Otherwise, or for a key
    written without a ticket, the task table says."""
    # "queuing - <when>" (another request is queueing it this moment), "queued <task
    # result id> <when> <ticket>", or "failed" (not queued: nothing to wait for).
    if state is None:
        _, state, ended = _skipped_state_ended(member)
    state, result_id, queued_at, ticket = (str(state or "") + "   ").split(" ")[:4]
    try:
        if state not in ("queuing", "queued") or time.time() - float(queued_at) > WAIT_SECONDS:
            return False
        if state == "queuing":
            return True
        if ticket and shared_version.shared():
            return ended != ticket
        result = tasks.accounts_refresh_task.get_result(result_id)
    except (ValueError, ValidationError, TaskResultDoesNotExist):
        return False
    return result.status in (TaskResultStatus.READY, TaskResultStatus.RUNNING)


def page_context(member, accounts: list[ConnectedAccount]) -> dict:
    """The accounts page's part: `fresh` (a refresh is under way: the page asks again)
    and the accounts it read already, for its warnings (no second query)."""
    return {"fresh": refresh_if_stale(member, accounts), "fresh_accounts": accounts}


def accounts_fragment(request, fragment) -> HttpResponse:
    """The accounts list for htmx (`fragment`: connections/views/page.py's). The page's poll
    (?fresh=…) gets no content (204: htmx swaps nothing) while the refresh runs, then the
    list once, with 286: htmx stops polling."""
    if POLL_PARAM not in request.GET:
        return fragment(request)
    if refreshing(request.user):
        return HttpResponse(status=204)
    return fragment(request, status=286)


def warnings_oob(request) -> str:
    """The warnings block of the accounts page (its `fresh` partial: the broken accounts a
    claim needs, from claims' template tag), for an htmx answer to swap out of band."""
    context = {"oob": True, "fresh": False}
    return render_to_string(f"{ACCOUNTS_TEMPLATE}#fresh", context, request=request)

"""Background work for Pipedream Connect: webhook processing and account health polls.

Tasks only call services (connections.services); the webhook view enqueues
webhook_process_task, cron or the admin enqueue accounts_health_poll, and a member's
page open enqueues accounts_refresh_task (connections/freshness.py).
"""

import datetime
import logging

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.tasks import task
from django.utils import timezone

from connections import services
from connections.models import ConnectedAccount, WebhookEvent
from connections.selectors import members_to_poll
from core.client import upstream_budget
from core.database import connection_lost, connection_reset

logger = logging.getLogger(__name__)

# Seconds before the 2nd, 3rd, ... attempt at a webhook Pipedream would not answer for.
WEBHOOK_RETRY_DELAYS = (30, 120, 600)
# Seconds before a webhook task whose database connection dropped runs again, and how
# many times in a row it does so before it fails (the cron's recovery takes it then).
DATABASE_RETRY_DELAY = 5
DATABASE_RETRIES = 5


@task()
def webhook_process_task(event_id: int, attempt: int = 1, db_retries: int = 0) -> str:
    """Process a stored webhook delivery; retry later while Pipedream is failing."""
    try:
        event = services.webhook_process(event_id=event_id)
    except Exception as exc:
        if not connection_lost(exc):
            raise
        # The delivery is still pending: reset the connection and run again shortly,
        # rather than fail (and leave the worker a dead connection to record that on).
        connection_reset()
        if db_retries >= DATABASE_RETRIES:
            raise
        run_after = timezone.now() + datetime.timedelta(seconds=DATABASE_RETRY_DELAY)
        webhook_process_task.using(run_after=run_after).enqueue(event_id, attempt, db_retries + 1)
        logger.warning("Webhook %s: database connection lost (%s); queued again", event_id, exc)
        return "requeued: database connection lost"
    if event.outcome == WebhookEvent.Outcome.ERROR and attempt <= len(WEBHOOK_RETRY_DELAYS):
        delay = WEBHOOK_RETRY_DELAYS[attempt - 1]
        run_after = timezone.now() + datetime.timedelta(seconds=delay)
        webhook_process_task.using(run_after=run_after).enqueue(event_id, attempt + 1)
        logger.info("Webhook %s: attempt %s failed, retrying in %s s", event_id, attempt, delay)
    return str(event.outcome)


# Seconds before the 2nd, 3rd, ... attempt at listing the site's accounts (the web
# server that answers may still be starting, as under `make run`).
SITE_SYNC_RETRY_DELAYS = (2, 5, 15, 60)


@task()
def site_accounts_sync_task(attempt: int = 1, announce_all: bool = False) -> str:
    """Read the site's own accounts from Pipedream; again later while it does not answer.
    `announce_all` tells claims of every app the site holds an account of (their shared
    triggers are deployed where missing), not only of those whose accounts changed."""
    try:
        result = services.site_accounts_sync(announce_all=announce_all)
    except services.UpstreamError as exc:
        if attempt > len(SITE_SYNC_RETRY_DELAYS):
            raise
        delay = SITE_SYNC_RETRY_DELAYS[attempt - 1]
        run_after = timezone.now() + datetime.timedelta(seconds=delay)
        site_accounts_sync_task.using(run_after=run_after).enqueue(attempt + 1, announce_all)
        logger.info("The site's accounts not listed (%s); again in %s s", exc.cause, delay)
        return "requeued"
    return str(result)


@task()
def accounts_health_poll(limit: int | None = None) -> dict:
    """Sync the accounts of every member who has some (or the `limit` stalest), and
    process connection webhooks whose task was lost (as `sync_accounts --all` does)."""
    totals = {"members": 0, "failed": 0, "created": 0, "removed": 0, "health_changed": 0}
    for member in members_to_poll(limit):
        totals["members"] += 1
        try:
            result = services.accounts_sync(member=member)
        except services.UpstreamError as exc:
            totals["failed"] += 1
            logger.warning("Health poll: member %s not synced: %s", member.pk, exc.cause)
            continue
        totals["created"] += len(result.created)
        totals["removed"] += len(result.removed)
        totals["health_changed"] += len(result.health_changed)
    done = services.upkeep(limit)
    totals["sessions_expired"] = done.sessions_expired
    totals["site_apps_changed"] = done.site_apps_changed
    totals["site_sync_failed"] = int(bool(done.site_sync_failed))
    totals["replaced_deleted"] = done.replaced_deleted
    totals["webhooks_recovered"] = done.webhooks_processed
    return totals


# The member's accounts the last page-open refresh could not read (a sync skips an account
# another member holds, or one Pipedream describes in a way it cannot use): {account pk:
# its last_synced_at, ISO, or ""}, kept this long. connections/freshness.py does not count
# them as stale while they stay so, or every window would queue a re-read that cannot
# refresh them; after this long they count again (one more try a day).
SKIPPED_KEY = "fresh-health-skipped:{member_id}"
SKIPPED_SECONDS = 24 * 60 * 60
# The ticket of the member's last refresh that has ended (however it ended), for the web
# processes to see without asking the task table (connections/freshness.py; trusted only
# on a cache every process shares).
REFRESHED_KEY = "fresh-health-ended:{member_id}"
REFRESHED_SECONDS = 60 * 60


def synced_at(value: datetime.datetime | None) -> str:
    return value.isoformat() if value else ""


def _remember_skipped(member, started: datetime.datetime) -> int:
    """Remember the member's accounts this sync (begun at `started`) did not read."""
    skipped = {
        pk: synced_at(synced)
        for pk, synced in ConnectedAccount.objects.filter(member=member).values_list(
            "pk", "last_synced_at"
        )
        if synced is None or synced < started
    }
    key = SKIPPED_KEY.format(member_id=member.pk)
    if skipped:
        cache.set(key, skipped, timeout=SKIPPED_SECONDS)
    else:
        cache.delete(key)
    return len(skipped)


# A refresh only makes a page fresher, so it never delays other work. Its priority is
# below every other task's (notifications' sends run at -10), so the worker takes it last;
# its upstream calls share REFRESH_BUDGET seconds (no retry once spent), and one timeout
# opens this worker process's breaker for REFRESH_BREAKER seconds, so while Pipedream hangs
# the next refreshes fail at once instead of holding the worker ~40 s each (core/client.py;
# only budgeted calls see the breaker: the worker's other tasks keep full timeouts).
REFRESH_PRIORITY = -50
REFRESH_BUDGET = 15.0
REFRESH_BREAKER = 60.0


@task(priority=REFRESH_PRIORITY)
def accounts_refresh_task(member_id: int, ticket: str = "") -> str:
    """Re-read one member's accounts from Pipedream because they opened a page whose
    account health was stale (connections/freshness.py). Never retried: a failure is
    logged, and the next page open after FRESH_HEALTH_SECONDS (or the scheduler's poll)
    tries again. However it ends, it leaves its `ticket` (the page's) under REFRESHED_KEY."""
    try:
        return _refresh(member_id)
    finally:
        if ticket:
            try:
                key = REFRESHED_KEY.format(member_id=member_id)
                cache.set(key, ticket, timeout=REFRESHED_SECONDS)
            except Exception:  # the page's poll asks the task table, or gives up in time
                logger.warning("Fresh health: end of %s's refresh not told", member_id)


def _refresh(member_id: int) -> str:
    member = get_user_model().objects.filter(pk=member_id, is_active=True).first()
    if member is None:
        return "no such member"  # deleted (or deactivated) since the page was opened
    started = timezone.now()
    try:
        with upstream_budget(REFRESH_BUDGET, breaker=REFRESH_BREAKER):
            result = services.accounts_sync(member=member)
    except services.UpstreamError as exc:
        logger.warning("Fresh health: member %s not synced: %s", member_id, exc.cause)
        return "failed"
    skipped = _remember_skipped(member, started)
    done = f"synced: {len(result.health_changed)} health changed, {len(result.removed)} removed"
    return f"{done}, {skipped} skipped" if skipped else done

"""Background work for claims: one completion at a time, and a sweep of what is due.

Each task loads what it needs by id and calls the engine (claims/services.py) or its
neighbours (pause, triggers). The engine queues these tasks through claims/queue.py,
which this module provides them to when it is loaded (ClaimsConfig.ready loads it), so
the engine never imports this module back.
"""

import datetime
import json
import logging

from django.tasks import task
from django.utils import timezone

from claims import life, pause, queue, services, triggers
from claims.audit import Actor, ActorKind
from claims.engine.dry_run import dry_run_job_run
from claims.engine.errors import Permanent
from claims.engine.evaluation import UpstreamSaid, check_result
from claims.job_models import ClaimJob
from claims.models import Claim, Requirement, TriggerDeployment
from connections.models import App, ConnectedAccount
from connections.pipedream import PipedreamError
from core.database import connection_lost, connection_reset

logger = logging.getLogger(__name__)


# Seconds before a task whose database connection dropped runs again.
DATABASE_RETRY_DELAY = 5
DATABASE_RETRIES = 5  # in a row; then the task fails and the cron takes the completion


@task()
def completion_process_task(completion_id: int, db_retries: int = 0) -> str:
    """Load the completion by id and let the engine do what is due (nothing if not).

    A database connection lost on the way is reset and the task queued again: without
    that the request would be lost until the cron's complete_claims found it.
    """
    try:
        completion = services.completion_process(completion_id, actor=Actor.worker())
    except Exception as exc:
        if not connection_lost(exc):
            raise
        connection_reset()
        if db_retries >= DATABASE_RETRIES:
            raise  # complete_claims (the cron) finds it due later
        run_after = timezone.now() + datetime.timedelta(seconds=DATABASE_RETRY_DELAY)
        completion_process_task.using(run_after=run_after).enqueue(completion_id, db_retries + 1)
        logger.warning(
            "Completion %s: database connection lost (%s); queued again", completion_id, exc
        )
        return "requeued: database connection lost"
    return completion.state if completion else "missing"


@task()
def completion_batch_task(completion_ids: list[int], db_retries: int = 0) -> dict[str, int]:
    """Several completions, one after the other (queue.process_many: a claim enabled),
    sharing what they read alike (delivery.Batch); each as completion_process_task does
    one. A database connection lost on the way queues the rest again; another error is
    logged and the next one goes on (the cron's complete_claims finds the one left)."""
    batch, states = services.Batch(), dict[str, int]()
    actor = Actor.worker()
    for index, completion_id in enumerate(completion_ids):
        try:
            completion = services.completion_process(completion_id, actor=actor, batch=batch)
        except Exception as exc:
            if not connection_lost(exc):
                logger.exception("Completion %s failed in its batch", completion_id)
                continue
            connection_reset()
            if db_retries >= DATABASE_RETRIES:
                raise  # complete_claims (the cron) finds them due later
            rest = completion_ids[index:]
            run_after = timezone.now() + datetime.timedelta(seconds=DATABASE_RETRY_DELAY)
            completion_batch_task.using(run_after=run_after).enqueue(rest, db_retries + 1)
            logger.warning("Completions %s: database connection lost (%s); queued again", rest, exc)
            break
        state = completion.state if completion else "missing"
        states[state] = states.get(state, 0) + 1
    return states


@task()
def delivery_pause_probe_task() -> str:
    """While deliveries wait on BitBadges' credits: check whether they are back."""
    return str(pause.probe())


@task()
def claim_discover_task(claim_id: int, staff_id: int | None = None) -> int:
    """Queue checks for members who already qualify for an (newly enabled) claim; the
    checks are the doing of the staff user who enabled it."""
    claim = Claim.objects.filter(pk=claim_id).first()
    if claim is None:
        return 0
    actor = Actor(ActorKind.STAFF, staff_id, "claim enabled")
    return services.claim_discover(claim=claim, actor=actor)


@task()
def claim_dry_run_task(job_id: int) -> str:
    """Run a dry-run job (claims.job_models.ClaimJob) asked for in the admin: every active
    member evaluated in batches, its progress saved with each. A job already taken (a
    task delivered twice) is not run again; an unexpected error fails the job with a
    sentence instead of leaving it running."""
    return dry_run_job_run(job_id)


# A Try it answer is kept up to this size (JSON); a bigger one is cut to fit.
TRY_IT_RESULT_MAX = 256 * 1024


def _fit(value, room: int):
    """`value` cut to about `room` characters of JSON: (what is kept, its size)."""
    if isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        kept: dict | list = {} if isinstance(value, dict) else []
        used = 2
        for key, item in items:
            if used >= room:
                note = "(cut here: the answer is too big to keep whole)"
                if isinstance(kept, dict):
                    kept["…"] = note
                else:
                    kept.append(note)
                break
            part, size = _fit(item, room - used - len(str(key)) - 4)
            if isinstance(kept, dict):
                kept[str(key).replace("\x00", "\ufffd")] = part
            else:
                kept.append(part)
            used += size + len(str(key)) + 4
        return kept, used
    if isinstance(value, str):
        # An answer the member's own server wrote may hold NUL, which jsonb refuses.
        value = value.replace("\x00", "\ufffd")
        if len(value) > max(room, 20):
            value = value[: max(room, 20)] + "…"
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        value = str(value)  # NaN and Infinity are not JSON
    return value, len(json.dumps(value, default=str))


@task()
def claim_try_it_task(job_id: int) -> str:
    """Run a Try it job of the claim builder once: its requirement's check
    (evaluation.check_result, the call a claim's evaluation makes) on the member's
    healthy account; the answer, or a sentence, goes into the job."""
    now = timezone.now()
    Job = ClaimJob
    taken = Job.objects.filter(pk=job_id, kind=Job.Kind.TRY_IT, state=Job.State.QUEUED)
    if not taken.update(state=Job.State.RUNNING, started_at=now, heartbeat_at=now):
        return "not run"
    job = Job.objects.select_related("member").get(pk=job_id)
    data = job.try_requirement or {}
    fields = {name: data.get(name) or "" for name in ("kind", "action", "proxy_url")}
    app_pk = data.get("app")
    app = App.objects.filter(pk=app_pk).first() if isinstance(app_pk, int) else None
    member = job.member
    state, result, error = Job.State.FAILED, {}, ""
    account = (
        # The account evaluate() would check: the most recently updated usable one.
        ConnectedAccount.objects.filter(member=member, app=app)
        .usable()
        .order_by("-updated_at")
        .first()
        if app and member
        else None
    )
    try:
        if account is None or member is None:
            error = "The member has no healthy account of the app any more: nothing was checked."
        else:
            requirement = Requirement(app=app, props=data.get("props") or {}, **fields)
            answer = check_result(requirement, member, account)
            state, result = Job.State.DONE, _fit(answer, TRY_IT_RESULT_MAX)[0]
    except UpstreamSaid as exc:
        error = f"The upstream API refused the read: it answered {exc.status}."
    except PipedreamError as exc:
        error = str(exc)
    except Permanent as exc:
        error = exc.detail
    except Exception:
        logger.exception("Try it job %s failed", job_id)
        error = "The check stopped on an unexpected error; the task worker's log has the details."
    try:
        Job.objects.filter(pk=job_id).update(
            state=state, result=result, error=error, finished_at=timezone.now()
        )
    except Exception:
        logger.exception("Try it job %s: its answer could not be stored", job_id)
        Job.objects.filter(pk=job_id).update(
            state=Job.State.FAILED,
            result={},
            error="The answer could not be stored (it holds something the database refuses).",
            finished_at=timezone.now(),
        )
        return Job.State.FAILED
    return state


# A life read that found BitBadges not answering yet (the sandbox is served by the web
# process, which may still be starting) is tried again this many times, this far apart.
LIFE_READ_RETRIES = 5
LIFE_READ_RETRY_SECONDS = 5


@task()
def claims_life_read_task(claim_ids: list[int], tries_left: int = LIFE_READ_RETRIES) -> dict:
    """Read these claims' lives (uses, windows, halt) and badges from BitBadges now, as
    `bitbadges_check --life` does on its round; those not read are tried again later."""
    unread = [
        claim.pk
        for claim in Claim.objects.enabled().filter(pk__in=claim_ids)
        if life.reads_bitbadges(claim) and not life.refresh(claim)
    ]
    if unread and tries_left > 0:
        claims_life_read_task.using(
            run_after=timezone.now() + datetime.timedelta(seconds=LIFE_READ_RETRY_SECONDS)
        ).enqueue(unread, tries_left - 1)
    return {"read": len(claim_ids) - len(unread), "unread": unread}


@task()
def recheck_claims_task(stale_hours: float = 24.0, limit: int | None = None) -> dict:
    """What `manage.py recheck_claims` does, for a scheduler that enqueues tasks."""
    return services.recheck(stale_hours=stale_hours, limit=limit, write=logger.info)


@task()
def trigger_deploy_task(claim_id: int, member_id: int, account_id: int) -> str:
    """Deploy a claim's trigger for a member (once)."""
    claim = Claim.objects.filter(pk=claim_id).first()
    account = (
        ConnectedAccount.objects.filter(pk=account_id, member_id=member_id)
        .select_related("app", "member")
        .first()
    )
    if claim is None or account is None:
        return "gone"
    deployment = triggers.deployment_ensure(claim=claim, member=account.member, account=account)
    return deployment.status if deployment else "not deployed"


@task()
def claim_triggers_sync_task(claim_id: int, redeploy: bool = False) -> str:
    """After a claim's trigger, its scope, props, app or `enabled` changed: deploy, move
    or remove its one trigger on the site's account, and its members' own (removed, or
    queued for every member with a usable account who has none)."""
    claim = Claim.objects.filter(pk=claim_id).first()
    if claim is None:
        return "gone"
    deployment = triggers.site_deployment_sync(claim, redeploy=redeploy)
    accounts = triggers.member_deployments_sync(claim, redeploy=redeploy)
    for account in accounts:
        trigger_deploy_task.enqueue(claim.pk, account.member_id, account.pk)
    site = deployment.status if deployment else "none on the site's account"
    return f"{site}; {len(accounts)} member deployment(s) queued"


@task()
def trigger_remove_task(deployment_id: int) -> str:
    deployment = TriggerDeployment.objects.select_related("member").filter(pk=deployment_id).first()
    if deployment is None:
        return "gone"
    return "removed" if triggers.deployment_remove(deployment) else "kept"


@task()
def trigger_event_task(delivery_id: int) -> bool:
    """A verified trigger event: check the member's completion again."""
    return triggers.event_process(delivery_id)


queue.provide(
    process=completion_process_task,
    process_batch=completion_batch_task,
    pause_probe=delivery_pause_probe_task,
    trigger_event=trigger_event_task,
    trigger_remove=trigger_remove_task,
)

"""Retention: what stored deliveries and evidence are removed, and when.

`manage.py prune_records` runs `prune` (the scheduler, hourly). Each kind is removed in
batches of `batch_size` rows, each batch its own short transaction, so a large backlog
never holds one long transaction or lock. Periods are settings (RETENTION_*, days):

- refused deliveries (connection webhooks, trigger deliveries), which hold only a digest
  and size: the row, after RETENTION_REFUSED_DAYS;
- the raw body of a delivery: after RETENTION_BODY_DAYS, once processed (a connection
  webhook still pending or to be retried keeps it); the row stays;
- any stored delivery: the row, after RETENTION_DELIVERY_DAYS;
- a Connect session that has ended (connected, failed, expired, or issued with its token
  expired): the row, RETENTION_SESSION_DAYS after it began, once no stored delivery names
  it (deliveries are deleted first, so none loses its session); its account stays (the
  session points at the account, not the other way round);
- a settled completion's evidence (claims.models.Completion.evidence): the values and
  details read upstream, after RETENTION_EVIDENCE_DAYS without a change. Each rule keeps
  its name, label, verdict and time; the ledger row, its state, reason and audit trail
  stay. Likewise a workflow's answer kept as a settled completion's delivery reference:
  only its claimAttemptId stays (what verifying a delivery reads);
- a claim job (an admin's dry run): its rows, then the job, RETENTION_JOBS_DAYS after it
  was asked for; a Try it job (its result is what a member's account answered), after
  TRY_IT_DAYS.
"""

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from claims.engine.methods.workflow import attempt_id_in
from claims.job_models import ClaimJob, DryRunRow
from claims.models import Claim, Completion, TriggerDelivery
from connections.models import ConnectSession, WebhookEvent

BATCH_SIZE = 1000
# What a pruned evidence item keeps of what it was.
EVIDENCE_KEPT = ("rule", "label", "passed", "at")


@dataclass(frozen=True)
class Kind:
    name: str  # what the command prints
    rows: Callable[[datetime.datetime], QuerySet]  # what is due, given the time now
    apply: Callable[[list[int]], int]  # removes it from the rows of these pks: how many


def _days(setting: str) -> datetime.timedelta:
    return datetime.timedelta(days=getattr(settings, setting))


def _delete(model) -> Callable[[list[int]], int]:
    def apply(pks: list[int]) -> int:
        return model.objects.filter(pk__in=pks).delete()[0]

    return apply


def _clear_body(model) -> Callable[[list[int]], int]:
    def apply(pks: list[int]) -> int:
        return model.objects.filter(pk__in=pks).exclude(body="").update(body="")

    return apply


def pruned_evidence(evidence) -> list:
    """`evidence` without what was read upstream: each rule's value and detail go."""
    items = evidence if isinstance(evidence, list) else []
    return [
        {
            **{key: item[key] for key in EVIDENCE_KEPT if key in item},
            "value": "",
            "detail": "",
            "pruned": True,
        }
        if isinstance(item, dict)
        else {"pruned": True}
        for item in items
    ]


def _prune_evidence(pks: list[int]) -> int:
    done = 0
    with transaction.atomic():
        rows = Completion.objects.select_for_update().filter(pk__in=pks)
        for pk, evidence in rows.values_list("pk", "evidence"):
            # update(), not save(): the row's updated_at is its own history, not ours.
            done += Completion.objects.filter(pk=pk).update(evidence=pruned_evidence(evidence))
    return done


# A workflow answer once pruned: its attempt id, and the mark.
PRUNED_MARK = '"pruned": true'


def pruned_answer(reference: str) -> str:
    attempt_id = attempt_id_in(reference)
    return json.dumps({**({"claimAttemptId": attempt_id} if attempt_id else {}), "pruned": True})


def _prune_answers(pks: list[int]) -> int:
    done = 0
    with transaction.atomic():
        rows = Completion.objects.select_for_update().filter(pk__in=pks)
        for pk, reference in rows.values_list("pk", "delivery_reference"):
            done += Completion.objects.filter(pk=pk).update(
                delivery_reference=pruned_answer(reference)
            )
    return done


SETTLED_WEBHOOK = [
    WebhookEvent.Outcome.CONNECTED,
    WebhookEvent.Outcome.FAILED,
    WebhookEvent.Outcome.DUPLICATE,
    WebhookEvent.Outcome.REFUSED,
]
SETTLED_COMPLETION = [
    Completion.State.COMPLETED,
    Completion.State.INELIGIBLE,
    Completion.State.FAILED,
]


def _refused(now: datetime.datetime) -> Q:
    return Q(outcome="refused", received_at__lt=now - _days("RETENTION_REFUSED_DAYS"))


def _expired(now: datetime.datetime) -> Q:
    return Q(received_at__lt=now - _days("RETENTION_DELIVERY_DAYS"))


TRY_IT_DAYS = 1


def _old_jobs(now: datetime.datetime) -> Q:
    try_it = Q(kind=ClaimJob.Kind.TRY_IT)
    return (~try_it & Q(created_at__lt=now - _days("RETENTION_JOBS_DAYS"))) | (
        try_it & Q(created_at__lt=now - datetime.timedelta(days=TRY_IT_DAYS))
    )


def _ended_sessions(now: datetime.datetime) -> QuerySet:
    """Sessions past RETENTION_SESSION_DAYS that have ended, named by no delivery that
    stays (a delivery this run deletes is counted as gone: dry runs stay exact)."""
    Status = ConnectSession.Status
    ended = Q(status__in=[Status.CONNECTED, Status.FAILED, Status.EXPIRED]) | Q(
        status=Status.ISSUED, expires_at__lt=now
    )
    kept = WebhookEvent.objects.filter(session=OuterRef("pk")).exclude(
        _refused(now) | _expired(now)
    )
    return ConnectSession.objects.filter(
        ended, created_at__lt=now - _days("RETENTION_SESSION_DAYS")
    ).exclude(Exists(kept))


# The kinds are disjoint (each row counted once, so a dry run's totals are exact), and
# run in this order: rows deleted first (deliveries before the sessions they name), then
# the bodies of the rows that stay.
KINDS = (
    Kind(
        "refused connection webhooks",
        lambda now: WebhookEvent.objects.filter(_refused(now)),
        _delete(WebhookEvent),
    ),
    Kind(
        "refused trigger deliveries",
        lambda now: TriggerDelivery.objects.filter(_refused(now)),
        _delete(TriggerDelivery),
    ),
    Kind(
        "connection webhooks",
        lambda now: WebhookEvent.objects.filter(_expired(now)).exclude(_refused(now)),
        _delete(WebhookEvent),
    ),
    Kind(
        "trigger deliveries",
        lambda now: TriggerDelivery.objects.filter(_expired(now)).exclude(_refused(now)),
        _delete(TriggerDelivery),
    ),
    Kind("connect sessions", _ended_sessions, _delete(ConnectSession)),
    # A job's rows first, in batches, so no one delete holds a large job's every row.
    Kind(
        "dry run rows",
        lambda now: DryRunRow.objects.filter(job__in=ClaimJob.objects.filter(_old_jobs(now))),
        _delete(DryRunRow),
    ),
    Kind("claim jobs", lambda now: ClaimJob.objects.filter(_old_jobs(now)), _delete(ClaimJob)),
    Kind(
        "connection webhook bodies",
        lambda now: (
            WebhookEvent.objects.filter(
                outcome__in=SETTLED_WEBHOOK,
                processed_at__lt=now - _days("RETENTION_BODY_DAYS"),
            )
            .exclude(_expired(now) | _refused(now))
            .exclude(body="")
        ),
        _clear_body(WebhookEvent),
    ),
    Kind(
        "trigger delivery bodies",
        lambda now: (
            TriggerDelivery.objects.filter(received_at__lt=now - _days("RETENTION_BODY_DAYS"))
            .exclude(_expired(now) | _refused(now))
            .exclude(body="")
        ),
        _clear_body(TriggerDelivery),
    ),
    Kind(
        "completion evidence",
        # Settled, unchanged for the period, with evidence not yet pruned (its first item
        # carries the mark once it is).
        lambda now: Completion.objects.filter(
            state__in=SETTLED_COMPLETION,
            outcome_unknown=False,
            updated_at__lt=now - _days("RETENTION_EVIDENCE_DAYS"),
            evidence__0__isnull=False,
        ).exclude(evidence__0__has_key="pruned"),
        _prune_evidence,
    ),
    Kind(
        "workflow answers",
        lambda now: (
            Completion.objects.filter(
                claim__delivery=Claim.Delivery.WORKFLOW,
                state__in=SETTLED_COMPLETION,
                outcome_unknown=False,
                updated_at__lt=now - _days("RETENTION_EVIDENCE_DAYS"),
            )
            .exclude(delivery_reference="")
            .exclude(delivery_reference__contains=PRUNED_MARK)
        ),
        _prune_answers,
    ),
)


def prune(
    *, dry_run: bool = False, batch_size: int = BATCH_SIZE, now: datetime.datetime | None = None
) -> dict[str, int]:
    """Remove what is past retention; per kind, how many rows were (or, with `dry_run`,
    would be) deleted or stripped."""
    now = now or timezone.now()
    totals: dict[str, int] = {}
    for kind in KINDS:
        due = kind.rows(now)
        if dry_run:
            totals[kind.name] = due.count()
            continue
        done = 0
        while True:
            pks = list(due.order_by("pk").values_list("pk", flat=True)[:batch_size])
            changed = kind.apply(pks) if pks else 0
            done += changed
            # A short batch was the last; one that changed nothing would only repeat.
            if len(pks) < batch_size or not changed:
                break
        totals[kind.name] = done
    return totals

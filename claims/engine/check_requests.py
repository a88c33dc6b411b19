"""Requests: asking for a check of a member against a claim, from wherever it comes.

A member's "Check again", an account connected or changed (connections' signals), an
email confirmed, an address saved, an admin's Retry, a claim enabled, a trigger event or
a scheduled re-check: each asks `completion_request`, which makes or updates the one row
per claim and member and queues the worker (queue.process) once the transaction commits.
It never undoes what a worker holds, and never hurries an unknown outcome.
"""

import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from claims import life, queue
from claims.audit import Actor
from claims.engine import ledger
from claims.engine.errors import NotAvailable, TooManyChecks
from claims.engine.timing import unknown_outcome_wait
from claims.forms import AddressForm
from claims.models import Claim, Completion, CompletionEvent, Requirement
from core import ratelimit
from users.models import User

State = Completion.State
Reason = CompletionEvent.Reason


def completion_request(
    *, claim: Claim, member: User, actor: Actor, force: bool = False, recheck: bool = False
) -> Completion:
    """Ask for (another) check of `member` against `claim`; the worker does it.

    A completed row, or one a worker holds, is left alone. A row waiting on a retry
    keeps its backoff unless `force` (a member's "Check again", an admin's Retry).
    """
    now = timezone.now()
    why = Reason.FORCED if force else Reason.REQUESTED
    queued = {
        "state": State.WAITING,
        "next_attempt_at": now,
        "reason": gettext_noop("Queued for a check."),
    }
    if not member.is_active:
        return _request_held(claim=claim, member=member, actor=actor, now=now)
    with transaction.atomic():
        # A new row is inserted already queued (as below: attempts 0, no re-check due);
        # this transaction inserted it, so nobody else can hold it: no lock, no update.
        completion, created = Completion.objects.get_or_create(
            claim=claim, member=member, defaults={**queued, "rechecks": 1 if recheck else 0}
        )
        if created:
            ledger.event(completion, "", State.WAITING, actor, why)
            queue.process(completion.pk)
            return completion
        completion = Completion.objects.select_for_update().get(pk=completion.pk)
        if completion.state in Completion.SETTLED or completion.paused_at is not None:
            # Done (or revoked by staff: only their Re-issue delivers it again); or
            # waiting on a delivery pause, which queues it again when it ends.
            return completion
        if completion.state in (State.CHECKING, State.DELIVERING):
            # A worker holds it, or held it and stopped: only the worker path may take
            # it back (a delivery in flight is an unknown outcome, never a fresh start).
            abandoned = completion.lease_expires_at is None or completion.lease_expires_at <= now
            if abandoned:
                queue.process(completion.pk)
            return completion
        if completion.state == State.RETRYING and (completion.outcome_unknown or not force):
            # An unknown outcome is confirmed upstream at its time, never sooner.
            return completion
        already_queued = completion.state == State.WAITING and (
            completion.next_attempt_at is None or completion.next_attempt_at <= now
        )
        if already_queued and not force:
            return completion  # a task for it is queued already (and cron is the net)
        from_state = completion.state
        restart = from_state in (State.INELIGIBLE, State.FAILED)
        completion.state = State.WAITING
        completion.next_attempt_at = now
        if completion.outcome_unknown and completion.last_attempt_at:
            completion.next_attempt_at = max(
                now, completion.last_attempt_at + unknown_outcome_wait()
            )
        completion.reason = gettext_noop("Queued for a check.")
        if restart or force:
            completion.attempts = 0
        # A scheduled re-check that finds nothing new backs off; anything else (an
        # account event, the member, an admin) is news and starts the schedule over.
        completion.rechecks = completion.rechecks + 1 if recheck else 0
        completion.recheck_at = None
        completion.save()
        ledger.event(completion, from_state, State.WAITING, actor, why)
    queue.process(
        completion.pk, completion.next_attempt_at if completion.next_attempt_at > now else None
    )
    return completion


def _request_held(
    *, claim: Claim, member: User, actor: Actor, now: datetime.datetime
) -> Completion:
    """A request for a deactivated member queues nothing: the row is held (ledger.hold)
    unless it is completed, already held, waiting on a delivery pause, or held by a
    worker whose lease still runs (the worker holds it when it comes back, ledger.take)."""
    with transaction.atomic():
        completion, created = Completion.objects.get_or_create(
            claim=claim,
            member=member,
            defaults={"state": State.INELIGIBLE, "reason": ledger.HELD_REASON},
        )
        if created:
            details = {"held": ledger.HELD_DETAIL}
            ledger.event(completion, "", State.INELIGIBLE, actor, Reason.NOT_ELIGIBLE, details)
            return completion
        completion = Completion.objects.select_for_update().get(pk=completion.pk)
        leased = completion.lease_expires_at is not None and completion.lease_expires_at > now
        if (
            completion.state in Completion.SETTLED
            or completion.paused_at is not None
            or (completion.state in (State.CHECKING, State.DELIVERING) and leased)
            or (completion.state == State.INELIGIBLE and completion.reason == ledger.HELD_REASON)
        ):
            return completion
        ledger.hold(completion, actor)
    return completion


def requests_for_reactivated(*, member: User, actor: Actor) -> list[Completion]:
    """A member active again: what was held while they were not is asked for again."""
    if not member.is_active:
        return []
    rows = ledger.held(Completion.objects.filter(member=member, claim__enabled=True))
    return [
        completion_request(claim=completion.claim, member=member, actor=actor)
        for completion in rows.select_related("claim")
    ]


def member_check_again(*, claim: Claim, member: User) -> Completion:
    """The member's "Check again": rate-limited, only for an enabled claim that the
    organiser has not taken back from them (revoked)."""
    if (
        not claim.enabled
        or Completion.objects.filter(claim=claim, member=member, state=State.REVOKED).exists()
    ):
        raise NotAvailable()
    limit, window = getattr(settings, "CLAIMS_CHECK_RATE_LIMIT", (5, 60))
    retry_after = ratelimit.hit("claims-check", member.pk, limit=int(limit), window=int(window))
    if retry_after is not None:
        raise TooManyChecks(retry_after)
    return completion_request(claim=claim, member=member, actor=Actor.member(member), force=True)


def address_change_allowed(*, member: User) -> None:
    """Changing the address re-checks the member's claims: rate-limited like Check again."""
    limit, window = getattr(settings, "CLAIMS_CHECK_RATE_LIMIT", (5, 60))
    retry_after = ratelimit.hit("claims-address", member.pk, limit=int(limit), window=int(window))
    if retry_after is not None:
        raise TooManyChecks(retry_after)


def address_save(*, member: User, form: AddressForm, before: str) -> tuple[str, str]:
    """Save a valid AddressForm for `member` (whose address was `before`): unchanged is
    said so; a change is rate-limited and re-checks the member's waiting claims. Returns
    (message level, sentence) for the page."""
    if form.cleaned_data["address"] == before:
        return "info", gettext("That is already your BitBadges address.")
    try:
        address_change_allowed(member=member)
    except TooManyChecks as exc:
        member.refresh_from_db(fields=["address"])  # the form changed it in memory
        return "error", str(exc)
    form.save()
    requests_for_member(member=member, actor=Actor.member(member))
    return "success", gettext(
        "Your BitBadges address is saved. Claims waiting for it are checked again."
    )


def admin_retry(*, completion: Completion, admin: User) -> bool:
    """An admin's Retry of a failed (or ineligible) completion; False when not retryable."""
    if not completion.retryable or completion.member is None:
        return False
    if completion.outcome_unknown and not completion.resend_approved:
        # The admin has read why the outcome is unknown: BitBadges is still asked first,
        # but if it shows nothing, or cannot tell, the delivery is sent again.
        Completion.objects.filter(pk=completion.pk, state=completion.state).update(
            resend_approved=True
        )
    completion_request(
        claim=completion.claim,
        member=completion.member,
        actor=Actor.staff(admin),
        force=True,
    )
    return True


def requests_for_account(*, member: User, app_slug: str, actor: Actor) -> list[Completion]:
    """Every enabled claim that needs `app_slug` is checked again for `member`."""
    return [
        completion_request(claim=claim, member=member, actor=actor)
        for claim in Claim.objects.enabled().needing_app(app_slug)
    ]


def requests_for_member(*, member: User, actor: Actor) -> list[Completion]:
    """After the member changed their address: re-check what is not completed."""
    claims = Claim.objects.enabled().filter(
        completions__member=member,
        completions__state__in=[State.INELIGIBLE, State.FAILED, State.WAITING],
    )
    return [completion_request(claim=claim, member=member, actor=actor) for claim in claims]


def claim_discover(*, claim: Claim, actor: Actor) -> int:
    """Rows for members who already have an account of every app the claim needs (each
    of "all" and "none", whose checks need one, and one of "any") but no row yet. None for
    a claim that is used up, halted or closed (claims/life.py): it takes no new ones."""
    if not claim.enabled:
        return 0
    stop = life.stop_for(claim)
    if stop is not None and stop.kind != "not_open":
        return 0
    required: set[int] = set()
    either: set[int] = set()
    for app_id, group in claim.requirements.values_list("app_id", "group"):
        (either if group == Requirement.Group.ANY else required).add(app_id)
    if not (required or either):
        return 0  # no requirement at all: nobody is queued (evaluate refuses it too)
    members = get_user_model().objects.filter(is_active=True).exclude(completions__claim=claim)
    for app_id in sorted(required):
        members = members.filter(connected_accounts__app_id=app_id)
    if either - required:
        members = members.filter(connected_accounts__app_id__in=sorted(either))
    ids = members.distinct().order_by("pk").values_list("pk", flat=True)
    count, chunk = 0, []
    for member_id in ids.iterator(chunk_size=DISCOVER_CHUNK):
        chunk.append(member_id)
        if len(chunk) == DISCOVER_CHUNK:
            count += _discovered(claim, chunk, actor)
            chunk = []
    return count + (_discovered(claim, chunk, actor) if chunk else 0)


# Members queued by one write of their rows, ledger rows and tasks when a claim is enabled.
DISCOVER_CHUNK = 500


def _discovered(claim: Claim, member_ids: list[int], actor: Actor) -> int:
    """Rows for these members (none has one yet), queued as completion_request queues a
    new one: made, with their ledger rows, in one INSERT each, and processed in batches
    (queue.process_many). A member who got a row meanwhile (a request racing this one)
    makes the chunk go one member at a time, through completion_request."""
    now = timezone.now()
    queued = {"state": State.WAITING, "next_attempt_at": now, "reason": ledger.QUEUED_REASON}
    try:
        with transaction.atomic():
            rows = Completion.objects.bulk_create(
                [Completion(claim=claim, member_id=pk, **queued) for pk in member_ids]
            )
            events = [
                ledger.event_row(row, "", State.WAITING, actor, Reason.REQUESTED) for row in rows
            ]
            CompletionEvent.objects.bulk_create(events)
            for row, event in zip(rows, events, strict=True):
                ledger.told(row, event, actor)
            queue.process_many([row.pk for row in rows])
    except IntegrityError:
        members = get_user_model().objects.filter(pk__in=member_ids, is_active=True)
        for member in members.order_by("pk"):
            completion_request(claim=claim, member=member, actor=actor)
    return len(member_ids)


def completions_due(
    *, claim: Claim | None = None, limit: int | None = None
) -> QuerySet[Completion]:
    due = Completion.objects.due().filter(member__isnull=False).order_by("next_attempt_at", "pk")
    if claim is not None:
        due = due.filter(claim=claim)
    return due[:limit] if limit else due

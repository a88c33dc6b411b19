"""The claims engine: evaluate a member against a claim, deliver it exactly once.

A completion moves through these states (each move leaves a CompletionEvent):

    waiting -> checking -> delivering -> completed
                  |            |
                  v            v
             ineligible    retrying (transient error; backoff) -> checking ...
                           failed   (permanent error, or too many tries)

Exactly once rests on three rules:

1. A worker takes a row only under a row lock (`SELECT ... FOR UPDATE`) and only when
   it is due; it writes a fresh lease token and a lease expiry, then lets the lock go
   before any HTTP call. Every later write is a conditional UPDATE on that token and
   the expected state, so a worker that lost its lease can change nothing.
2. The row is `delivering` (committed) before anything is sent upstream. A row found
   `delivering` on an expired lease belonged to a worker that died mid-way: whatever it
   sent is an unknown outcome.
3. An unknown outcome (a worker died, `complete` timed out, a poll never resolved, a
   workflow gave an answer that says nothing) is checked upstream before anything is
   sent again, each delivery method its own way: the attempt we recorded, then the
   address's successful attempts on BitBadges; the dynamic store's contents; for a
   workflow, the claim's attempts. Only a definite "it did not land" allows a resend,
   and for a workflow (which may still be running, or may have turned the member down)
   not even that: it is checked again until it lands or the tries run out, and then an
   admin decides. A route that cannot tell is never read as "no".

BitBadges out of credits (402) is neither a retry nor a failure: deliveries wait on a
pause that resumes them by itself (claims/pause.py).
"""

import datetime
import json
import logging
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from claims import bitbadges, pause, rules
from claims.models import Claim, Completion, CompletionEvent
from claims.secrets import SecretUnreadable
from connections import pipedream
from connections.models import ConnectedAccount
from core import ratelimit
from core.addresses import normalize_address, to_bitbadges_address

logger = logging.getLogger(__name__)

State = Completion.State
REFERENCE_MAX = 2000  # characters of a workflow's answer kept as the delivery reference
# Workflow answers that say nothing about the outcome (docs/fidelity.md, "Workflows"):
# Pipedream's default HTTP response, sent before the workflow has run (HTML, or JSON
# with "success": true); Pipedream's answers when a custom-response workflow threw or
# stopped before responding; and the one error BitBadges' Pipedream action throws
# whatever went wrong. Matched case-insensitively anywhere in the answer.
PIPEDREAM_DEFAULT_RESPONSE = "to customize this response"
WORKFLOW_SAID_NOTHING = (
    PIPEDREAM_DEFAULT_RESPONSE,
    "no $.respond called in workflow",
    "no $respond called in workflow",
    "$.respond() not called for this invocation",
    "internal error waiting for $respond",
    "failed to complete claim. please try again later",
)


def unknown_outcome_wait() -> datetime.timedelta:
    """The least wait before checking an unknown outcome upstream. BitBadges resolves an
    attempt in about 1 to 5 s, but runs one collection's attempts one at a time, so a
    busy collection can hold one in its queue far longer; a request still being served
    takes at most its timeout, and a workflow may still be running."""
    return datetime.timedelta(seconds=float(getattr(settings, "CLAIMS_UNKNOWN_OUTCOME_WAIT", 300)))


# --- Errors the views and commands turn into messages ---------------------------------


class ClaimsError(Exception):
    """Something a member or an admin can act on; str() is the sentence to show."""


class TooManyChecks(ClaimsError):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"You have asked for many checks in a short time. Try again in {retry_after} seconds."
        )


class NotAvailable(ClaimsError):
    def __init__(self) -> None:
        super().__init__("This claim is not available.")


class _Transient(Exception):
    """An upstream failure worth retrying; `reason` is for the member, `detail` for admins."""

    def __init__(self, reason: str, detail: str = "", *, outcome_unknown: bool = False) -> None:
        self.reason = reason
        self.detail = detail or reason
        self.outcome_unknown = outcome_unknown
        super().__init__(self.detail)


class _Paused(Exception):
    """BitBadges answered 402 (no credits): park the completion on the delivery pause."""

    def __init__(self, exc: bitbadges.PaymentRequired) -> None:
        self.exc = exc
        super().__init__(str(exc))


class _Permanent(Exception):
    """Stop here: `state` is ineligible or failed; `reason` is for the member."""

    def __init__(self, state: str, reason: str, detail: str = "") -> None:
        self.state = state
        self.reason = reason
        self.detail = detail or reason
        super().__init__(self.detail)


# --- Settings ---------------------------------------------------------------------------


def _poll_interval() -> float:
    return float(getattr(settings, "CLAIMS_POLL_INTERVAL", 2.0))


def _poll_deadline() -> float:
    return float(getattr(settings, "CLAIMS_POLL_DEADLINE", 30.0))


def lease_duration() -> datetime.timedelta:
    """Long enough for a whole delivery: the calls, the poll, and a margin.

    A BitBadges attempt resolves in seconds; the lease is minutes. So when another
    worker takes over an expired lease, what the first one sent has resolved upstream.
    """
    timeouts = float(getattr(settings, "BITBADGES_TIMEOUT", 10.0)) + float(
        getattr(settings, "PIPEDREAM_TIMEOUT", 10.0)
    )
    return datetime.timedelta(seconds=max(60.0, _poll_deadline() + 3 * timeouts + 60.0))


def retry_delay(attempts: int) -> datetime.timedelta:
    """Exponential backoff with jitter: base * 2^(n-1), capped, times 0.5..1.5."""
    base = float(getattr(settings, "CLAIMS_RETRY_BASE", 30.0))
    ceiling = float(getattr(settings, "CLAIMS_RETRY_MAX", 3600.0))
    seconds = min(ceiling, base * 2 ** max(0, attempts - 1))
    return datetime.timedelta(seconds=seconds * random.uniform(0.5, 1.5))


def max_attempts() -> int:
    return max(1, int(getattr(settings, "CLAIMS_MAX_ATTEMPTS", 6)))


# --- Transitions ------------------------------------------------------------------------


def _event(
    completion: Completion,
    from_state: str,
    to_state: str,
    actor: str,
    details=None,
    *,
    reason: str | None = None,
):
    """Record a transition in the ledger, and log it once with its context.

    The log line carries ids, states and the member-facing reason (which may quote
    BitBadges' refusal); never the evidence or the event details (those stay in the
    ledger, for admins).
    """
    CompletionEvent.objects.create(
        completion_id=completion.pk,
        from_state=from_state,
        to_state=to_state,
        actor=actor[:200],
        details=details or {},
    )
    reason = completion.reason if reason is None else reason
    logger.info(
        "Completion %s: %s -> %s",
        completion.pk,
        from_state,
        to_state,
        extra={
            "completion": completion.pk,
            "claim": completion.claim_id,
            "member": completion.member_id,
            "from_state": from_state,
            "to_state": to_state,
            "actor": actor[:200],
            "attempt": completion.attempts,
            "reason": reason if to_state not in (State.WAITING, State.CHECKING) else "",
        },
    )


def _fenced(
    completion: Completion,
    token: uuid.UUID,
    from_states: tuple[str, ...],
    to_state: str,
    *,
    actor: str,
    details: dict | None = None,
    **fields,
) -> bool:
    """Move the row if this worker still holds its lease and it is in `from_states`."""
    now = timezone.now()

    def move(state: str) -> int:
        return Completion.objects.filter(pk=completion.pk, lease_token=token, state=state).update(
            state=to_state, updated_at=now, **fields
        )

    with transaction.atomic():
        # While this worker holds the lease, the row is in the state it last wrote: try
        # that first (one conditional UPDATE); otherwise read what it is.
        current = completion.state if completion.state in from_states else None
        if current is None or not move(current):
            current = (
                Completion.objects.filter(
                    pk=completion.pk, lease_token=token, state__in=from_states
                )
                .values_list("state", flat=True)
                .first()
            )
            if current is None:
                logger.warning(
                    "Completion %s: lease lost before %s (another worker took over)",
                    completion.pk,
                    to_state,
                )
                return False
            if not move(current):
                return False
        if current != to_state or details:
            _event(completion, current, to_state, actor, details, reason=fields.get("reason", ""))
    completion.state = to_state
    for name, value in fields.items():
        setattr(completion, name, value)
    return True


def _release(**fields) -> dict:
    return {"lease_token": None, "lease_expires_at": None, **fields}


# --- Asking for an evaluation -------------------------------------------------------------


RECHECK_BACKOFF_MAX = 64  # times the claim's interval, at most


def recheck_time(claim: Claim, rechecks: int):
    """When a not-eligible completion is looked at again: the claim's interval, doubled
    for each scheduled re-check that already found nothing new (None: no schedule)."""
    if not claim.recheck_interval:
        return None
    factor = min(2 ** min(rechecks, 16), RECHECK_BACKOFF_MAX)
    return timezone.now() + claim.recheck_interval * factor


def completion_request(
    *, claim: Claim, member, actor: str, force: bool = False, recheck: bool = False
) -> Completion:
    """Ask for (another) check of `member` against `claim`; the worker does it.

    A completed row, or one a worker holds, is left alone. A row waiting on a retry
    keeps its backoff unless `force` (a member's "Check again", an admin's Retry).
    """
    now = timezone.now()
    queued = {"state": State.WAITING, "next_attempt_at": now, "reason": "Queued for a check."}
    with transaction.atomic():
        # A new row is inserted already queued (as below: attempts 0, no re-check due);
        # this transaction inserted it, so nobody else can hold it: no lock, no update.
        completion, created = Completion.objects.get_or_create(
            claim=claim, member=member, defaults={**queued, "rechecks": 1 if recheck else 0}
        )
        if created:
            _event(completion, "", State.WAITING, actor, {"force": force} if force else {})
            _enqueue(completion.pk)
            return completion
        completion = Completion.objects.select_for_update().get(pk=completion.pk)
        if completion.state == State.COMPLETED or completion.paused_at is not None:
            # Done; or waiting on a delivery pause, which queues it again when it ends.
            return completion
        if completion.state in (State.CHECKING, State.DELIVERING):
            # A worker holds it, or held it and stopped: only the worker path may take
            # it back (a delivery in flight is an unknown outcome, never a fresh start).
            abandoned = completion.lease_expires_at is None or completion.lease_expires_at <= now
            if abandoned:
                _enqueue(completion.pk)
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
        completion.reason = "Queued for a check."
        if restart or force:
            completion.attempts = 0
        # A scheduled re-check that finds nothing new backs off; anything else (an
        # account event, the member, an admin) is news and starts the schedule over.
        completion.rechecks = completion.rechecks + 1 if recheck else 0
        completion.recheck_at = None
        completion.save()
        _event(completion, from_state, State.WAITING, actor, {"force": force} if force else {})
    _enqueue(
        completion.pk, completion.next_attempt_at if completion.next_attempt_at > now else None
    )
    return completion


def _enqueue(completion_id: int, run_after: datetime.datetime | None = None) -> None:
    from claims.tasks import completion_process_task

    def send():
        task = completion_process_task
        if run_after is not None:
            task = task.using(run_after=run_after)
        try:
            task.enqueue(completion_id)
        except Exception:  # the cron command picks it up; never lose the request
            logger.exception("Could not enqueue completion %s; complete_claims will", completion_id)

    transaction.on_commit(send)


def member_check_again(*, claim: Claim, member) -> Completion:
    """The member's "Check again": rate-limited, only for an enabled claim."""
    if not claim.enabled:
        raise NotAvailable()
    limit, window = getattr(settings, "CLAIMS_CHECK_RATE_LIMIT", (5, 60))
    retry_after = ratelimit.hit("claims-check", member.pk, limit=int(limit), window=int(window))
    if retry_after is not None:
        raise TooManyChecks(retry_after)
    return completion_request(
        claim=claim, member=member, actor=f"member:{member.username}", force=True
    )


def address_change_allowed(*, member) -> None:
    """Changing the address re-checks the member's claims: rate-limited like Check again."""
    limit, window = getattr(settings, "CLAIMS_CHECK_RATE_LIMIT", (5, 60))
    retry_after = ratelimit.hit("claims-address", member.pk, limit=int(limit), window=int(window))
    if retry_after is not None:
        raise TooManyChecks(retry_after)


def address_save(*, member, form, before: str) -> tuple[str, str]:
    """Save a valid AddressForm for `member` (whose address was `before`): unchanged is
    said so; a change is rate-limited and re-checks the member's waiting claims. Returns
    (message level, sentence) for the page."""
    if form.cleaned_data["address"] == before:
        return "info", "That is already your BitBadges address."
    try:
        address_change_allowed(member=member)
    except TooManyChecks as exc:
        member.refresh_from_db(fields=["address"])  # the form changed it in memory
        return "error", str(exc)
    form.save()
    requests_for_member(member=member, actor=f"member:{member.username}")
    return "success", "Your BitBadges address is saved. Claims waiting for it are checked again."


def admin_retry(*, completion: Completion, admin) -> bool:
    """An admin's Retry of a failed (or ineligible) completion; False when not retryable."""
    if completion.state not in (State.FAILED, State.INELIGIBLE) or completion.member is None:
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
        actor=f"admin:{admin.username}",
        force=True,
    )
    return True


def requests_for_account(*, member, app_slug: str, actor: str) -> list[Completion]:
    """Every enabled claim that needs `app_slug` is checked again for `member`."""
    return [
        completion_request(claim=claim, member=member, actor=actor)
        for claim in Claim.objects.enabled().needing_app(app_slug)
    ]


def requests_for_member(*, member, actor: str) -> list[Completion]:
    """After the member changed their address: re-check what is not completed."""
    claims = Claim.objects.enabled().filter(
        completions__member=member,
        completions__state__in=[State.INELIGIBLE, State.FAILED, State.WAITING],
    )
    return [completion_request(claim=claim, member=member, actor=actor) for claim in claims]


def rechecks_due(*, limit: int | None = None):
    """Not-eligible completions of enabled claims whose scheduled re-check has come."""
    due = (
        Completion.objects.filter(
            state=State.INELIGIBLE,
            recheck_at__lte=timezone.now(),
            claim__enabled=True,
            claim__recheck_interval__isnull=False,
            member__isnull=False,
            member__is_active=True,
        )
        .select_related("claim", "member")
        .order_by("recheck_at", "pk")
    )
    return due[:limit] if limit else due


def rechecks_run(*, limit: int | None = None) -> int:
    """Queue the due re-checks; how many."""
    count = 0
    for completion in rechecks_due(limit=limit):
        completion_request(
            claim=completion.claim,
            member=completion.member,
            actor="schedule: recheck",
            recheck=True,
        )
        count += 1
    return count


def claim_discover(*, claim: Claim, actor: str) -> int:
    """Rows for members who already have every required app but no row yet."""
    if not claim.enabled:
        return 0
    required = list(claim.required_apps.values_list("slug", flat=True))
    members = get_user_model().objects.filter(is_active=True).exclude(completions__claim=claim)
    for slug in required:
        members = members.filter(connected_accounts__app__slug=slug)
    count = 0
    for member in members.distinct():
        completion_request(claim=claim, member=member, actor=actor)
        count += 1
    return count


# --- Evaluation ---------------------------------------------------------------------------


@dataclass
class Evaluation:
    results: list[rules.RuleResult] = field(default_factory=list)
    identity: str | None = None
    address: str = ""

    @property
    def eligible(self) -> bool:
        return all(result.passed for result in self.results)

    @property
    def reason(self) -> str:
        for result in self.results:
            if not result.passed:
                return result.detail or f"{result.label}: not met."
        return ""

    def evidence(self) -> list[dict]:
        return [result.as_json() for result in self.results]


def email_verified(member) -> bool:
    from allauth.account.models import EmailAddress

    return EmailAddress.objects.filter(user=member, verified=True).exists()


def _email_rule(member, now) -> rules.RuleResult:
    """Nothing is delivered to a member who has not confirmed an email address: one
    person, one inbox, is the least a reward asks for. Confirming it checks again."""
    verified = email_verified(member)
    where = f" to {member.email}" if member.email else ""
    return rules.RuleResult(
        rule="email",
        label="Email address confirmed",
        passed=verified,
        value="confirmed" if verified else "not confirmed",
        detail="" if verified else f"Confirm your email address: we sent a link{where}.",
        at=now.isoformat(),
    )


def _address_rule(member, now) -> tuple[rules.RuleResult, str]:
    raw = (member.address or "").strip()
    if not raw:
        return (
            rules.RuleResult(
                rule="address",
                label="BitBadges address set",
                passed=False,
                value="(none)",
                detail="Add your BitBadges address so the badge has somewhere to go.",
                at=now.isoformat(),
            ),
            "",
        )
    try:
        address = normalize_address(raw)
    except ValidationError as exc:
        return (
            rules.RuleResult(
                rule="address",
                label="BitBadges address set",
                passed=False,
                value=raw[:100],
                detail=f"Your BitBadges address is not valid: {' '.join(exc.messages)}",
                at=now.isoformat(),
            ),
            "",
        )
    # Delivered as BitBadges keeps addresses (bb1), whichever spelling the member typed:
    # the same account, and the only form every BitBadges route is known to match.
    return (
        rules.RuleResult(
            rule="address",
            label="BitBadges address set",
            passed=True,
            value=address,
            at=now.isoformat(),
        ),
        to_bitbadges_address(address),
    )


def _pipedream_transient(exc: pipedream.PipedreamError) -> bool:
    return isinstance(
        exc, (pipedream.Unavailable, pipedream.RateLimited, pipedream.InvalidResponse)
    )


def _criterion_failed(claim: Claim, message: str, now) -> tuple[rules.RuleResult, None]:
    label = claim.criterion_display()
    return (
        rules.RuleResult(
            rule="criterion",
            label=label,
            passed=False,
            value="(error)",
            detail=f"Checking your {claim.criterion_app.name} account failed: {message}",
            at=now.isoformat(),
        ),
        None,
    )


def _criterion_result(claim: Claim, member, account: ConnectedAccount):
    """What the criterion looks at: the action's return value, or the proxied answer
    (its JSON body, with `$status`). Raises PipedreamError; `_UpstreamSaid` for an
    upstream API refusing through the proxy."""
    client = pipedream.get_client()
    if claim.criterion_proxy_url:
        answer = client.proxy(
            "GET",
            claim.criterion_proxy_url,
            external_user_id=str(member.external_id),
            account_id=account.pipedream_id,
        )
        if answer.status >= 500 or answer.status in (408, 429):
            # Busy or down upstream: try again later, never "not eligible" because of it.
            raise pipedream.Unavailable(
                f"the upstream API answered {answer.status}", operation="proxy"
            )
        if answer.status >= 400 and claim.criterion_path != "$status":
            raise _UpstreamSaid(answer.status)
        # Read, used and dropped: only the value seen (and an identity) is kept.
        if isinstance(answer.body, dict):
            return {**answer.body, "$status": answer.status}
        if isinstance(answer.body, list):
            return {"items": answer.body, "$status": answer.status}
        return {"$status": answer.status}
    props = {
        **(claim.criterion_props or {}),
        claim.criterion_app.slug: {"authProvisionId": account.pipedream_id},
    }
    body = client.run_action(
        action_id=claim.criterion_action,
        external_user_id=str(member.external_id),
        configured_props=props,
    )
    return body.get("ret")


class _UpstreamSaid(Exception):
    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"the upstream API answered {status}")


def _run_criterion(
    claim: Claim, member, account: ConnectedAccount, now
) -> tuple[rules.RuleResult, object]:
    """Check the claim's criterion on the member's account; (rule, result looked at)."""
    try:
        result = _criterion_result(claim, member, account)
    except _UpstreamSaid as exc:
        return _criterion_failed(claim, str(exc), now)
    except pipedream.PipedreamError as exc:
        if _pipedream_transient(exc):
            raise _Transient(
                "Pipedream did not answer while checking your account; we will try again.",
                str(exc),
            ) from exc
        if isinstance(exc, (pipedream.NotFound, pipedream.Unauthorized, pipedream.NotConfigured)):
            raise _Permanent(
                State.FAILED,
                "This claim cannot be checked right now; the site's admins have been told.",
                str(exc),
            ) from exc
        return _criterion_failed(claim, exc.message or str(exc), now)
    rule = rules.criterion_rule(
        result,
        path=claim.criterion_path,
        comparison=claim.criterion_comparison,
        expected=claim.criterion_value,
        now=now,
        text=claim.criterion_text,
    )
    return rule, result


def evaluate(claim: Claim, member, *, now=None) -> Evaluation:
    """Check every rule of `claim` for `member`; calls Pipedream only for the criterion.

    Raises _Transient when Pipedream fails in a way worth retrying.
    """
    now = now or timezone.now()
    evaluation = Evaluation()
    # The member's accounts, read once: for the app rules and the criterion's account.
    connected = list(ConnectedAccount.objects.filter(member=member).select_related("app"))
    required = list(claim.required_apps.order_by("order", "name").values_list("slug", "name"))
    evaluation.results.extend(rules.app_rules(required, rules.account_facts(connected), now=now))
    address_rule, evaluation.address = _address_rule(member, now)
    if claim.has_criterion and evaluation.eligible:
        # The most recently updated healthy account of the criterion's app.
        usable = [
            account
            for account in connected
            if account.app_id == claim.criterion_app_id and account.healthy and not account.dead
        ]
        account = max(usable, key=lambda account: account.updated_at, default=None)
        if account is None:
            evaluation.results.append(
                rules.RuleResult(
                    rule="criterion",
                    label=claim.criterion_display(),
                    passed=False,
                    value="(not checked)",
                    detail=f"Connect a healthy {claim.criterion_app.name} account first.",
                    at=now.isoformat(),
                )
            )
        else:
            rule, result = _run_criterion(claim, member, account, now)
            evaluation.results.append(rule)
            if rule.passed and claim.identity_path:
                identity = rules.identity_of(result, claim.identity_path)
                if identity:
                    evaluation.identity = f"{claim.criterion_app.slug}:{identity}"
    evaluation.results.append(address_rule)
    evaluation.results.append(_email_rule(member, now))
    if not claim.is_open(now):
        if claim.starts_at and now < claim.starts_at:
            detail = f"This claim opens on {timezone.localtime(claim.starts_at):%Y-%m-%d %H:%M}."
        else:
            detail = "This claim has closed."
        evaluation.results.append(
            rules.RuleResult(
                rule="window",
                label="Claim open",
                passed=False,
                value=now.isoformat(),
                detail=detail,
                at=now.isoformat(),
            )
        )
    return evaluation


# --- Processing -----------------------------------------------------------------------------


def _take(completion_id: int, *, actor: str, now) -> tuple[Completion | None, uuid.UUID | None]:
    """Lock the row; if it is due, lease it to this worker (state checking)."""
    token = uuid.uuid4()
    with transaction.atomic():
        # The claim and the member come in the same query; only the completion is locked.
        completion = (
            Completion.objects.select_for_update(of=("self",))
            .select_related("claim", "claim__criterion_app", "member")
            .filter(pk=completion_id)
            .first()
        )
        if completion is None:
            return None, None
        scheduled = (
            completion.state in (State.WAITING, State.RETRYING)
            and completion.paused_at is None
            and (completion.next_attempt_at is None or completion.next_attempt_at <= now)
        )
        abandoned = completion.state in (State.CHECKING, State.DELIVERING) and (
            completion.lease_expires_at is None or completion.lease_expires_at <= now
        )
        if not (scheduled or abandoned) or completion.member_id is None:
            return completion, None
        from_state = completion.state
        details = {"attempt": completion.attempts + 1}
        if from_state == State.DELIVERING:
            # The worker holding it died mid-delivery: what it sent is unknown.
            completion.outcome_unknown = True
            details["recovered"] = "the previous worker stopped while delivering"
        elif abandoned:
            details["recovered"] = "the previous worker stopped while checking"
        completion.state = State.CHECKING
        completion.lease_token = token
        completion.lease_expires_at = now + lease_duration()
        completion.attempts += 1
        completion.last_attempt_at = now
        completion.next_attempt_at = None
        completion.save()
        _event(completion, from_state, State.CHECKING, actor, details)
    return completion, token


def completion_process(completion_id: int, *, actor: str = "worker") -> Completion | None:
    """Do what is due for one completion. Safe to call any number of times, anywhere."""
    now = timezone.now()
    completion, token = _take(completion_id, actor=actor, now=now)
    if token is None:
        return completion
    try:
        _process(completion, token, actor=actor)
    except _LeaseLost:
        logger.warning(
            "Completion %s: lease lost before sending; left to its new holder", completion.pk
        )
    except _Transient as exc:
        _retry_later(completion, token, exc, actor=actor)
    except _Paused as exc:
        _park(completion, token, exc.exc, actor=actor)
    except _Permanent as exc:
        sent = _was_sent(completion)
        _fenced(
            completion,
            token,
            (State.CHECKING, State.DELIVERING),
            exc.state,
            actor=actor,
            details={"error": exc.detail, "outcome_unknown": sent},
            **_release(
                reason=exc.reason,
                next_attempt_at=None,
                outcome_unknown=sent,
                # Nothing went out: the upstream identity is free for another member.
                **({} if sent else {"upstream_identity": ""}),
            ),
        )
    except Exception as exc:
        logger.exception("Completion %s failed unexpectedly", completion.pk)
        _retry_later(
            completion,
            token,
            _Transient(
                "Something went wrong on our side; we will try again.",
                f"{type(exc).__name__}: {exc}",
                outcome_unknown=_was_sent(completion),
            ),
            actor=actor,
        )
    return completion


def _mark_sent(completion: Completion) -> None:
    """Called right before a call that cannot be repeated (complete, a workflow, a store
    add): from here on, any error leaves an unknown outcome to check before a resend."""
    completion._sent = True


def _was_sent(completion: Completion) -> bool:
    return bool(getattr(completion, "_sent", False) or completion.outcome_unknown)


PAUSED_REASON = (
    "Delivery is paused while the site's BitBadges account is topped up; it goes on by itself."
)


def _park(
    completion: Completion, token: uuid.UUID, exc: bitbadges.PaymentRequired, *, actor: str
) -> None:
    """Wait on the delivery pause (starting it if need be): no attempt spent, nothing failed.

    The pause row is locked in the same transaction, so a probe that ends the pause
    either sees this completion parked (and queues it) or comes before it (and this
    starts a new pause, whose first probe resumes it).
    """
    sent = _was_sent(completion)
    with transaction.atomic():
        current = pause.start(exc)
        _fenced(
            completion,
            token,
            (State.CHECKING, State.DELIVERING),
            State.WAITING,
            actor=actor,
            details={"paused": current.reason, "error": str(exc), "outcome_unknown": sent},
            **_release(
                reason=PAUSED_REASON,
                next_attempt_at=None,
                paused_at=timezone.now(),
                attempts=max(0, completion.attempts - 1),  # this try does not count
                outcome_unknown=sent,
                **({} if sent else {"upstream_identity": ""}),
            ),
        )


def _retry_later(completion: Completion, token: uuid.UUID, exc: _Transient, *, actor: str) -> None:
    unknown = exc.outcome_unknown or _was_sent(completion)
    if completion.attempts >= max_attempts():
        reason = f"We gave up after {completion.attempts} tries: {exc.reason}"
        if unknown:
            reason = (
                f"We gave up after {completion.attempts} tries without confirming whether this "
                "was delivered; the site's admins will check."
            )
        _fenced(
            completion,
            token,
            (State.CHECKING, State.DELIVERING),
            State.FAILED,
            actor=actor,
            details={"error": exc.detail, "outcome_unknown": unknown},
            **_release(
                reason=reason,
                next_attempt_at=None,
                outcome_unknown=unknown,
                **({} if unknown else {"upstream_identity": ""}),
            ),
        )
        return
    delay = retry_delay(completion.attempts)
    if unknown:
        # Give whatever we may have sent time to land (a request the server is still
        # working on, an attempt in its queue) before asking BitBadges about it.
        delay = max(delay, unknown_outcome_wait())
    run_after = timezone.now() + delay
    moved = _fenced(
        completion,
        token,
        (State.CHECKING, State.DELIVERING),
        State.RETRYING,
        actor=actor,
        details={
            "error": exc.detail,
            "outcome_unknown": unknown,
            "next_attempt_at": run_after.isoformat(),
        },
        **_release(reason=exc.reason, next_attempt_at=run_after, outcome_unknown=unknown),
    )
    if moved:
        _enqueue(completion.pk, run_after)


def _process(completion: Completion, token: uuid.UUID, *, actor: str) -> None:
    claim, member = completion.claim, completion.member
    if completion.outcome_unknown:
        _not_while_paused(claim)
        if _verify_upstream(completion, token, actor=actor):
            return
    evaluation = evaluate(claim, member)
    evidence = evaluation.evidence()
    if not claim.enabled:
        raise _Permanent(State.INELIGIBLE, "This claim is not available any more.")
    failing = [result.rule for result in evaluation.results if not result.passed]
    if failing == ["window"] and claim.starts_at and timezone.now() < claim.starts_at:
        # Everything is in place but the claim has not opened: come back when it does.
        if _fenced(
            completion,
            token,
            (State.CHECKING,),
            State.WAITING,
            actor=actor,
            details={"reason": evaluation.reason},
            **_release(
                reason=evaluation.reason, evidence=evidence, next_attempt_at=claim.starts_at
            ),
        ):
            _enqueue(completion.pk, claim.starts_at)
        return
    if not evaluation.eligible:
        _fenced(
            completion,
            token,
            (State.CHECKING,),
            State.INELIGIBLE,
            actor=actor,
            details={"reason": evaluation.reason},
            **_release(
                reason=evaluation.reason,
                evidence=evidence,
                next_attempt_at=None,
                recheck_at=recheck_time(claim, completion.rechecks),
            ),
        )
        return
    _not_while_paused(claim)
    if not _start_delivery(completion, token, evaluation, actor=actor):
        return
    _deliver(completion, token, actor=actor)


def _not_while_paused(claim: Claim) -> None:
    """A delivery through BitBadges waits on its pause instead of meeting the 402."""
    if claim.delivery == Claim.Delivery.WORKFLOW and not claim.bitbadges_claim_id:
        return  # nothing here calls BitBadges
    current = pause.active()
    if current is not None:
        raise _Paused(
            bitbadges.PaymentRequired(current.reason, top_up_url=current.action_url or None)
        )


def _start_delivery(completion: Completion, token, evaluation: Evaluation, *, actor: str) -> bool:
    """checking -> delivering, after the cap and the identity are checked under a lock."""
    claim = completion.claim
    evidence = evaluation.evidence()
    try:
        with transaction.atomic():
            Claim.objects.select_for_update().filter(pk=claim.pk).first()  # one at a time per claim
            if claim.cap is not None:
                taken = (
                    Completion.objects.filter(
                        Q(state__in=[State.DELIVERING, State.COMPLETED]) | Q(outcome_unknown=True),
                        claim=claim,
                    )
                    .exclude(pk=completion.pk)
                    .count()
                )
                if taken >= claim.cap:
                    raise _Permanent(
                        State.INELIGIBLE,
                        f"All {claim.cap} of this claim have been given out.",
                    )
            identity = evaluation.identity or ""
            if identity and (
                Completion.objects.filter(claim=claim, upstream_identity=identity)
                .exclude(pk=completion.pk)
                .exists()
            ):
                app_name = claim.criterion_app.name if claim.criterion_app else "upstream"
                raise _Permanent(
                    State.INELIGIBLE,
                    f"This {app_name} account ({identity.split(':', 1)[-1]}) has already earned "
                    "this claim for another member.",
                )
            return _fenced(
                completion,
                token,
                (State.CHECKING,),
                State.DELIVERING,
                actor=actor,
                details={"method": claim.delivery, "address": evaluation.address},
                evidence=evidence,
                address=evaluation.address,
                upstream_identity=identity,
                lease_expires_at=timezone.now() + lease_duration(),
                reason="Delivering…",
            )
    except IntegrityError:
        raise _Permanent(
            State.INELIGIBLE,
            "This account has already earned this claim for another member.",
        ) from None
    except _Permanent as exc:
        _fenced(
            completion,
            token,
            (State.CHECKING,),
            exc.state,
            actor=actor,
            details={"reason": exc.reason},
            **_release(reason=exc.reason, evidence=evidence, next_attempt_at=None),
        )
        return False


def _completed(
    completion: Completion, token, *, actor: str, reference: str, note: str = ""
) -> bool:
    done = _fenced(
        completion,
        token,
        (State.CHECKING, State.DELIVERING),
        State.COMPLETED,
        actor=actor,
        details={"reference": reference[:200], **({"note": note} if note else {})},
        **_release(
            reason=note or "Completed.",
            delivery_reference=reference,
            completed_at=timezone.now(),
            outcome_unknown=False,
            resend_approved=False,
            next_attempt_at=None,
            recheck_at=None,
        ),
    )
    if done and completion.claim.trigger:
        _remove_triggers(completion)
    return done


def _remove_triggers(completion: Completion) -> None:
    """The claim is done for this member: its trigger has nothing left to tell us."""
    from claims.models import TriggerDeployment
    from claims.tasks import trigger_remove_task

    for deployment_id in TriggerDeployment.objects.filter(
        claim=completion.claim, member=completion.member
    ).values_list("pk", flat=True):
        trigger_remove_task.enqueue(deployment_id)


# --- Delivery -------------------------------------------------------------------------------


def _bitbadges_failure(exc: bitbadges.BitBadgesError) -> Exception:
    """Map a BitBadges error onto retry or stop, with a sentence for the member."""
    if isinstance(exc, bitbadges.InvalidAddress):
        return _Permanent(
            State.INELIGIBLE,
            "BitBadges does not accept your address. Check it on this page.",
            str(exc),
        )
    if isinstance(exc, bitbadges.AlreadyClaimed):
        return _Permanent(
            State.FAILED, "Your address has already received this claim on BitBadges.", str(exc)
        )
    if isinstance(exc, bitbadges.ClaimExhausted):
        return _Permanent(State.FAILED, "All of this claim's badges have been given out.", str(exc))
    if isinstance(exc, bitbadges.NotWhitelisted):
        return _Transient("BitBadges has not seen your address on the list yet.", str(exc))
    if isinstance(exc, (bitbadges.OutsideWindow, bitbadges.ClaimHalted)):
        return _Permanent(
            State.FAILED, f"BitBadges is not accepting this claim: {exc.message}", str(exc)
        )
    if isinstance(exc, bitbadges.SignInRequired):
        return _Permanent(
            State.FAILED,
            "BitBadges asks members to sign in for this claim, which this site cannot do for "
            "you; the site's admins have been told.",
            f"{exc} (turn off the claim's sign-in requirement on BitBadges, or deliver it by "
            "dynamic store)",
        )
    if isinstance(exc, bitbadges.ClaimRejected):
        return _Permanent(
            State.FAILED,
            "BitBadges refused this claim's settings; the site's admins have been told.",
            str(exc),
        )
    if isinstance(exc, bitbadges.AttemptTimeout):
        return _Transient(
            "BitBadges has not finished processing yet; we will check again.",
            str(exc),
            outcome_unknown=True,
        )
    if isinstance(exc, bitbadges.PaymentRequired):
        return _Paused(exc)
    if isinstance(exc, bitbadges.StoreRefused):
        return _Permanent(
            State.FAILED,
            "This claim's settings need attention; the site's admins have been told.",
            f"{exc} (the claim's dynamic store ID or store secret is wrong: correct them in "
            "the claim's settings, then Retry)",
        )
    if isinstance(exc, bitbadges.CannotVerify):
        return _Transient(
            "We are checking with BitBadges whether this was delivered.",
            str(exc),
            outcome_unknown=True,
        )
    if isinstance(exc, bitbadges.Unauthorized | bitbadges.NotConfigured):
        return _Transient(
            "BitBadges is refusing our requests at the moment; we will try again.", str(exc)
        )
    return _Transient(
        "BitBadges is not answering at the moment; we will try again.",
        str(exc),
        outcome_unknown=bool(getattr(exc, "outcome_unknown", False)),
    )


def _deliver(completion: Completion, token, *, actor: str) -> None:
    claim = completion.claim
    try:
        if claim.delivery == Claim.Delivery.BITBADGES:
            _deliver_bitbadges(completion, token, actor=actor)
        elif claim.delivery == Claim.Delivery.DYNAMIC_STORE:
            _deliver_store(completion, token, actor=actor)
        elif claim.delivery == Claim.Delivery.WORKFLOW:
            _deliver_workflow(completion, token, actor=actor)
        else:
            raise _Permanent(State.FAILED, "This claim has no delivery method.")
    except bitbadges.BitBadgesError as exc:
        raise _bitbadges_failure(exc) from exc
    except SecretUnreadable as exc:
        raise _Permanent(
            State.FAILED,
            "This claim's settings need attention; the site's admins have been told.",
            str(exc),
        ) from exc


class _LeaseLost(Exception):
    """Another worker took this completion over; this one must send nothing more."""


def _renew_lease(completion: Completion, token) -> None:
    """Right before a call that cannot be repeated: still ours? Then hold it a full lease.

    The lease then covers the call and the poll after it, however long the checks before
    it took; and a worker that lost its lease stops here instead of sending.
    """
    renewed = Completion.objects.filter(
        pk=completion.pk, lease_token=token, state=State.DELIVERING
    ).update(lease_expires_at=timezone.now() + lease_duration())
    if not renewed:
        raise _LeaseLost()


def _record_reference(completion: Completion, token, reference: str, *, actor: str) -> None:
    """Keep what we sent (e.g. the attempt ID) before waiting on its result."""
    _fenced(
        completion,
        token,
        (State.DELIVERING,),
        State.DELIVERING,
        actor=actor,
        details={"reference": reference[:200]},
        delivery_reference=reference,
    )


def _deliver_bitbadges(completion: Completion, token, *, actor: str) -> None:
    claim = completion.claim
    client = bitbadges.get_client()
    inputs = {claim.password_instance_id: {"password": claim.password()}}
    client.simulate(claim.bitbadges_claim_id, completion.address, inputs=inputs)
    _renew_lease(completion, token)
    _mark_sent(completion)
    attempt_id = client.complete(claim.bitbadges_claim_id, completion.address, inputs=inputs)
    _record_reference(completion, token, attempt_id, actor=actor)
    client.wait_for_attempt(attempt_id, interval=_poll_interval(), deadline=_poll_deadline())
    _completed(completion, token, actor=actor, reference=attempt_id)


def _wait_in_store(client, claim: Claim, address: str) -> bool:
    """Store actions land after a short lag: poll until the address shows up."""
    import time

    deadline = time.monotonic() + _poll_deadline()
    interval = _poll_interval()
    while True:
        if client.store_contains(claim.store_id, claim.store_secret(), address):
            return True
        if time.monotonic() + interval > deadline:
            return False
        time.sleep(interval)
        interval = min(interval * 1.5, 10.0)


def _deliver_store(completion: Completion, token, *, actor: str) -> None:
    claim = completion.claim
    client = bitbadges.get_client()
    _mark_sent(completion)
    client.store_add(claim.store_id, claim.store_secret(), completion.address)
    reference = f"store {claim.store_id}: added {completion.address}"
    _record_reference(completion, token, reference, actor=actor)
    if not _wait_in_store(client, claim, completion.address):
        raise _Transient(
            "BitBadges has not shown your address in the list yet; we will check again.",
            f"{completion.address} not in store {claim.store_id} after {_poll_deadline():g} s",
            outcome_unknown=True,
        )
    _completed(completion, token, actor=actor, reference=reference)


def _deliver_workflow(completion: Completion, token, *, actor: str) -> None:
    claim, member = completion.claim, completion.member
    body = {
        "address": completion.address,
        "claim": claim.slug,
        "bitbadges_claim_id": claim.bitbadges_claim_id,
    }
    _renew_lease(completion, token)
    _mark_sent(completion)
    try:
        answer = pipedream.get_client().invoke_workflow(
            claim.workflow_url, external_user_id=str(member.external_id), body=body
        )
    except pipedream.PipedreamError as exc:
        if isinstance(exc, pipedream.RateLimited):
            raise _Transient("Pipedream is busy; we will try again.", str(exc)) from exc
        if isinstance(exc, (pipedream.Unavailable, pipedream.InvalidResponse)):
            raise _Transient(
                "The workflow did not answer; we will check and try again.",
                str(exc),
                outcome_unknown=True,
            ) from exc
        if _says_nothing(exc.body) or _says_nothing(exc.message):
            said = exc.body or exc.message
            _record_reference(completion, token, _answer_text(said), actor=actor)
            raise _unknown_workflow_answer(said) from exc
        if isinstance(exc, pipedream.BadRequest):
            raise _Permanent(
                State.INELIGIBLE,
                f"The claim's workflow turned this down: {_workflow_error(exc)}",
                str(exc),
            ) from exc
        raise _Permanent(
            State.FAILED,
            "This claim's workflow could not be run; the site's admins have been told.",
            str(exc),
        ) from exc
    if _says_nothing(answer):
        # Pipedream answered for the workflow before it ran, or BitBadges' action hid
        # what happened: whether the claim was completed is unknown until BitBadges
        # shows it.
        _record_reference(completion, token, _answer_text(answer), actor=actor)
        raise _unknown_workflow_answer(answer)
    if isinstance(answer, dict) and answer.get("success") is False:
        raise _Permanent(
            State.INELIGIBLE,
            f"The claim's workflow turned this down: {answer.get('error') or 'no reason given'}",
        )
    reference = _answer_text(answer)
    attempt_id = answer.get("claimAttemptId") if isinstance(answer, dict) else None
    if isinstance(attempt_id, str) and attempt_id and claim.bitbadges_claim_id:
        # The workflow queued a BitBadges attempt and told us its id: follow it, so
        # "completed" means BitBadges completed it, not only that the workflow ran.
        _record_reference(completion, token, reference, actor=actor)
        bitbadges.get_client().wait_for_attempt(
            attempt_id, interval=_poll_interval(), deadline=_poll_deadline()
        )
    _completed(completion, token, actor=actor, reference=reference)


def _as_text(answer) -> str:
    return answer if isinstance(answer, str) else _json_text(answer)


def _answer_text(answer) -> str:
    """A workflow's answer as the delivery reference keeps it."""
    return _as_text(answer)[:REFERENCE_MAX]


def _says_nothing(answer) -> bool:
    """A workflow answer that tells nothing of the outcome (WORKFLOW_SAID_NOTHING)."""
    if answer is None:
        return False
    text = _as_text(answer).lower()
    return any(words in text for words in WORKFLOW_SAID_NOTHING)


def _unknown_workflow_answer(answer) -> _Transient:
    text = _answer_text(answer).lower()
    if PIPEDREAM_DEFAULT_RESPONSE in text:
        why = (
            "the workflow answered with Pipedream's default response, which is sent before "
            "the workflow runs: make it return a custom response (README, Claims)"
        )
    elif "respond" in text:
        why = "Pipedream says the workflow stopped or threw before it returned its response"
    else:
        why = (
            "the workflow answered with BitBadges' Pipedream action's catch-all error, which "
            "hides whether the claim was completed"
        )
    return _Transient(
        "We are checking with BitBadges whether this was delivered.",
        f"Outcome unknown: {why}. BitBadges is asked whether the claim was completed.",
        outcome_unknown=True,
    )


def _workflow_error(exc: pipedream.PipedreamError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    return exc.message or "no reason given"


def _json_text(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


DELIVERED, NOT_DELIVERED = "delivered", "not delivered"


def _verify_upstream(completion: Completion, token, *, actor: str) -> bool:
    """After an unknown outcome: did the earlier delivery land? True when it did (the
    completion is then recorded completed); False when delivery may go ahead.

    Each method asks its own way; a route that cannot tell raises CannotVerify, which
    is checked again later. Only a definite "did not land" allows a resend, never for a
    workflow on its own, and always after an admin's Retry (who then also accepts "BitBadges
    cannot tell").
    """
    claim = completion.claim
    verify = _VERIFIERS.get(claim.delivery)
    if verify is None:
        raise _Permanent(State.FAILED, "This claim has no delivery method.")
    try:
        verdict, reference, note = verify(completion)
    except bitbadges.CannotVerify as exc:
        if not completion.resend_approved:
            raise _bitbadges_failure(exc) from exc
        verdict, reference, note = NOT_DELIVERED, "", f"BitBadges cannot tell ({exc})"
    except _CannotAsk as exc:
        if not completion.resend_approved:
            raise _Permanent(
                State.FAILED,
                "We could not confirm whether this was delivered; the site's admins will check.",
                str(exc),
            ) from exc
        verdict, reference, note = NOT_DELIVERED, "", str(exc)
    except bitbadges.BitBadgesError as exc:
        raise _bitbadges_failure(exc) from exc
    if verdict == DELIVERED:
        return _completed(completion, token, actor=actor, reference=reference, note=note)
    if claim.delivery == Claim.Delivery.WORKFLOW and not completion.resend_approved:
        # BitBadges shows nothing yet, but the workflow may still be running, or may
        # have turned the member down: check again, and leave a resend to an admin.
        raise _Transient(
            "We are checking with BitBadges whether this was delivered.",
            f"BitBadges shows no completion of claim {claim.bitbadges_claim_id} for "
            f"{completion.address} after the workflow's unknown answer; checked again later. "
            "An admin's Retry runs the workflow again if it still shows none.",
            outcome_unknown=True,
        )
    # Certainly not delivered (or an admin accepted the risk): start over.
    Completion.objects.filter(pk=completion.pk, lease_token=token).update(
        outcome_unknown=False, resend_approved=False, delivery_reference=""
    )
    completion.outcome_unknown = False
    completion.resend_approved = False
    completion.delivery_reference = ""
    _event(
        completion,
        completion.state,
        completion.state,
        actor,
        {"verified": "not delivered", **({"note": note} if note else {})},
    )
    return False


class _CannotAsk(Exception):
    """Nothing upstream can say whether this delivery landed (a workflow with no claim ID)."""


CONFIRMED = "Completed (confirmed with BitBadges after a lost answer)."


def _recorded_attempt(client, attempt_id: str) -> bitbadges.AttemptStatus:
    """The attempt we were told of, resolved: still pending is checked again later."""
    status = client.attempt_status(attempt_id)
    if status.pending:
        raise _Transient(
            "BitBadges is still processing; we will check again.",
            f"attempt {attempt_id} still pending",
            outcome_unknown=True,
        )
    return status


def _verify_bitbadges(completion: Completion) -> tuple[str, str, str]:
    """The attempt we recorded, if any; else the address's successful attempts."""
    client = bitbadges.get_client()
    attempt_id = completion.delivery_reference
    if attempt_id:
        status = _recorded_attempt(client, attempt_id)
        if status.success:
            return DELIVERED, attempt_id, CONFIRMED
        return NOT_DELIVERED, "", f"attempt {attempt_id} failed: {status.error or 'no reason'}"
    return _verify_by_attempts(client, completion.claim, completion.address)


def _verify_by_attempts(client, claim: Claim, address: str) -> tuple[str, str, str]:
    count = client.success_count(claim.bitbadges_claim_id, address)
    if count > 0:
        return DELIVERED, f"confirmed by BitBadges' attempts for {address}", CONFIRMED
    return NOT_DELIVERED, "", f"BitBadges lists no successful attempt for {address}"


def _verify_store(completion: Completion) -> tuple[str, str, str]:
    claim = completion.claim
    client = bitbadges.get_client()
    if client.store_contains(claim.store_id, claim.store_secret(), completion.address):
        reference = completion.delivery_reference or f"store {claim.store_id}"
        return DELIVERED, reference, "Completed (confirmed in the store after a lost answer)."
    return NOT_DELIVERED, "", f"{completion.address} is not in store {claim.store_id}"


def _verify_workflow(completion: Completion) -> tuple[str, str, str]:
    """The attempt the workflow told us of, if any; else the claim's attempts."""
    claim = completion.claim
    if not claim.bitbadges_claim_id:
        raise _CannotAsk(
            "Outcome unknown and the claim has no BitBadges claim ID to check it against. "
            "Check on BitBadges; Retry runs the workflow again."
        )
    client = bitbadges.get_client()
    attempt_id = _attempt_id_in(completion.delivery_reference)
    if attempt_id and _recorded_attempt(client, attempt_id).success:
        return DELIVERED, completion.delivery_reference, CONFIRMED
    return _verify_by_attempts(client, claim, completion.address)


def _attempt_id_in(reference: str) -> str:
    """The claimAttemptId in a workflow answer we kept, if it was JSON and had one."""
    try:
        answer = json.loads(reference) if reference.startswith("{") else None
    except ValueError:
        return ""
    value = answer.get("claimAttemptId") if isinstance(answer, dict) else None
    return value if isinstance(value, str) else ""


_VERIFIERS = {
    Claim.Delivery.BITBADGES: _verify_bitbadges,
    Claim.Delivery.DYNAMIC_STORE: _verify_store,
    Claim.Delivery.WORKFLOW: _verify_workflow,
}


# --- Many at once -------------------------------------------------------------------------------


def completions_due(*, claim: Claim | None = None, limit: int | None = None):
    due = Completion.objects.due().filter(member__isnull=False).order_by("next_attempt_at", "pk")
    if claim is not None:
        due = due.filter(claim=claim)
    return due[:limit] if limit else due


@dataclass
class DryRunReport:
    claim: Claim
    members: int = 0
    qualify: int = 0
    completed: int = 0
    reasons: Counter = field(default_factory=Counter)
    rows: list[tuple] = field(default_factory=list)  # (member, evaluation or None, note)


def claim_dry_run(*, claim: Claim, members=None) -> DryRunReport:
    """Evaluate `claim` for every active member without delivering or writing anything.

    Criteria run their Pipedream action (reads only); members without the required
    apps are answered without any upstream call.
    """
    report = DryRunReport(claim=claim)
    if members is None:
        members = get_user_model().objects.filter(is_active=True).order_by("username")
    done = set(
        Completion.objects.filter(claim=claim, state=State.COMPLETED).values_list(
            "member_id", flat=True
        )
    )
    for member in members:
        report.members += 1
        if member.pk in done:
            report.completed += 1
            report.rows.append((member, None, "already completed"))
            continue
        try:
            evaluation = evaluate(claim, member)
        except (_Transient, _Permanent) as exc:
            note = f"could not check: {exc.detail}"
            report.reasons[note] += 1
            report.rows.append((member, None, note))
            continue
        if evaluation.eligible:
            report.qualify += 1
            report.rows.append((member, evaluation, "would qualify"))
        else:
            report.reasons[evaluation.reason] += 1
            report.rows.append((member, evaluation, evaluation.reason))
    return report

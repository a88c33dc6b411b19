"""Delivery by Pipedream workflow: this site calls the claim's workflow (an HTTP trigger)
with the member's address, and the workflow completes the claim its own way.

A workflow's answer may say nothing of the outcome (docs/fidelity.md, "Workflows"):
Pipedream's default HTTP response, sent before the workflow has run (HTML, or JSON with
"success": true); Pipedream's answers when a custom-response workflow threw or stopped
before responding; and the one error BitBadges' Pipedream action throws whatever went
wrong. Such an answer is an unknown outcome, settled on BitBadges; and since the
workflow may still be running or may have turned the member down, it is never sent
again without an admin's Retry.
"""

import json
from typing import Any

from django.utils.translation import gettext_noop

from claims import bitbadges, wording
from claims.engine.errors import CannotAsk, Permanent, Transient
from claims.engine.ledger import Run
from claims.engine.methods.base import (
    CONFIRMED,
    DeliveryMethod,
    Verdict,
    Withdrawal,
    recorded_attempt,
    verify_by_attempts,
)
from claims.engine.timing import poll_deadline, poll_interval
from claims.models import Claim, Completion
from claims.preflight import ClaimSettings, Problem, fetch_claim
from connections import pipedream
from connections.pipedream.actions import WorkflowNotAllowed, workflow_target

State = Completion.State
REFERENCE_MAX = 2000  # characters of a workflow's answer kept as the delivery reference
# Matched case-insensitively anywhere in the answer.
PIPEDREAM_DEFAULT_RESPONSE = "to customize this response"
WORKFLOW_SAID_NOTHING = (
    PIPEDREAM_DEFAULT_RESPONSE,
    "no $.respond called in workflow",
    "no $respond called in workflow",
    "$.respond() not called for this invocation",
    "internal error waiting for $respond",
    "failed to complete claim. please try again later",
)


class Workflow(DeliveryMethod):
    value = Claim.Delivery.WORKFLOW
    label = "Workflow"
    resends_by_itself = False

    def send(self, run: Run) -> None:
        completion = run.completion
        claim, member = completion.claim, completion.member
        if member is None:  # the ledger hands out only completions that have their member
            raise TypeError("a workflow is sent for a member")
        body = {
            "address": completion.address,
            "claim": claim.slug,
            "bitbadges_claim_id": claim.bitbadges_claim_id,
        }
        try:
            # Before anything is marked sent: a URL the token may not go to is a plain
            # stop, not an unknown outcome (the client refuses it again at the call).
            workflow_target(claim.workflow_url)
        except WorkflowNotAllowed as exc:
            raise _not_allowed(exc) from exc
        run.renew_lease()
        run.mark_sent()
        try:
            answer = pipedream.get_client().invoke_workflow(
                claim.workflow_url, external_user_id=str(member.external_id), body=body
            )
        except WorkflowNotAllowed as exc:
            raise _not_allowed(exc) from exc
        except pipedream.PipedreamError as exc:
            raise _refused(run, exc) from exc
        if says_nothing(answer):
            # Pipedream answered for the workflow before it ran, or BitBadges' action hid
            # what happened: whether the claim was completed is unknown until BitBadges
            # shows it.
            run.record(_answer_text(answer))
            raise _unknown_answer(answer)
        if isinstance(answer, dict) and answer.get("success") is False:
            raise Permanent(
                State.INELIGIBLE,
                wording.WORKFLOW_REFUSED % {"said": _said(answer.get("error"))},
            )
        reference = _answer_text(answer)
        attempt_id = answer.get("claimAttemptId") if isinstance(answer, dict) else None
        if isinstance(attempt_id, str) and attempt_id and claim.bitbadges_claim_id:
            # The workflow queued a BitBadges attempt and told us its id: follow it, so
            # "completed" means BitBadges completed it, not only that the workflow ran.
            run.record(reference)
            bitbadges.get_client().wait_for_attempt(
                attempt_id, interval=poll_interval(), deadline=poll_deadline()
            )
        run.completed(reference)

    def withdraw(self, claim: Claim, address: str, *, watch: float) -> Withdrawal:
        # A workflow completes claims its own way; nothing says how it would take one
        # back, and running it again could deliver twice: it is not run.
        return Withdrawal(
            "The workflow was not run: it completes claims and has no way to take one back, "
            f"so whatever it did for {address} on BitBadges stays. Only this site's ledger "
            "changed.",
            taken_back=False,
        )

    def verify(self, completion: Completion) -> Verdict:
        """The attempt the workflow told us of, if any; else the claim's attempts."""
        claim = completion.claim
        if not claim.bitbadges_claim_id:
            raise CannotAsk(
                "Outcome unknown and the claim has no BitBadges claim ID to check it against. "
                "Check on BitBadges; Retry runs the workflow again."
            )
        client = bitbadges.get_client()
        attempt_id = attempt_id_in(completion.delivery_reference)
        if attempt_id and recorded_attempt(client, attempt_id).success:
            return Verdict(True, completion.delivery_reference, CONFIRMED)
        return verify_by_attempts(client, claim, completion.address)

    def check_settings(
        self, client: bitbadges.BitBadgesClient, settings: ClaimSettings
    ) -> list[Problem]:
        """The workflow does what it likes; a claim ID given must exist."""
        if not settings.bitbadges_claim_id:
            return []
        claim = fetch_claim(client, settings.bitbadges_claim_id)
        return [] if isinstance(claim, dict) else [claim]

    def describe(self, claim: Claim) -> str:
        return "A workflow completes the claim on BitBadges for your address when you qualify."

    def calls_bitbadges(self, claim: Claim) -> bool:
        return bool(claim.bitbadges_claim_id)  # only to check an unknown outcome


def _not_allowed(exc: WorkflowNotAllowed) -> Permanent:
    """The claim's URL is not an allowed workflow endpoint: nothing was sent, and only an
    operator or an admin can change that (the setting, or the claim's URL)."""
    return Permanent(
        State.FAILED,
        gettext_noop("This claim's workflow could not be run; the site's admins have been told."),
        f"{exc} Correct the claim's workflow URL or the setting, then Retry.",
    )


def _refused(run: Run, exc: pipedream.PipedreamError) -> Exception:
    """What a failed workflow call means: retry, an unknown outcome, or a stop."""
    if isinstance(exc, pipedream.RateLimited):
        return Transient(gettext_noop("Pipedream is busy; we will try again."), str(exc))
    if exc.transient:
        # Down, or an answer we cannot read: the error says whether the call may have
        # reached the workflow (the run is marked sent before the call all the same).
        return Transient(
            gettext_noop("The workflow did not answer; we will check and try again."),
            str(exc),
            outcome_unknown=exc.outcome_unknown,
        )
    if says_nothing(exc.body) or says_nothing(exc.message):
        said = exc.body or exc.message
        run.record(_answer_text(said))
        return _unknown_answer(said)
    if isinstance(exc, pipedream.BadRequest):
        return Permanent(
            State.INELIGIBLE,
            wording.WORKFLOW_REFUSED % {"said": _workflow_error(exc)},
            str(exc),
        )
    return Permanent(
        State.FAILED,
        gettext_noop("This claim's workflow could not be run; the site's admins have been told."),
        str(exc),
    )


def _as_text(answer: Any) -> str:
    return answer if isinstance(answer, str) else json.dumps(answer, sort_keys=True, default=str)


def _answer_text(answer: Any) -> str:
    """A workflow's answer as the delivery reference keeps it."""
    return _as_text(answer)[:REFERENCE_MAX]


def says_nothing(answer: Any) -> bool:
    """A workflow answer that tells nothing of the outcome (WORKFLOW_SAID_NOTHING)."""
    if answer is None:
        return False
    text = _as_text(answer).lower()
    return any(words in text for words in WORKFLOW_SAID_NOTHING)


def _unknown_answer(answer: Any) -> Transient:
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
    return Transient(
        gettext_noop("We are checking with BitBadges whether this was delivered."),
        f"Outcome unknown: {why}. BitBadges is asked whether the claim was completed.",
        outcome_unknown=True,
    )


def _workflow_error(exc: pipedream.PipedreamError) -> str:
    return _said(exc.body.get("error") if isinstance(exc.body, dict) else None)


def _said(error: Any) -> str:
    """The workflow's own sentence for the member (its `error` text), else a neutral
    phrase: Pipedream's message and any other shape stay in the detail for staff."""
    text = error.strip() if isinstance(error, str) else ""
    return text[:300] if text else wording.NO_REASON_GIVEN


def attempt_id_in(reference: str) -> str:
    """The claimAttemptId in a workflow answer we kept, if it was JSON and had one."""
    try:
        answer = json.loads(reference) if reference.startswith("{") else None
    except ValueError:
        return ""
    value = answer.get("claimAttemptId") if isinstance(answer, dict) else None
    return value if isinstance(value, str) else ""

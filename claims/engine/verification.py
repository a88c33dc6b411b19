"""Verification of unknown outcomes: did an earlier send land, before anything is sent again?

An outcome is unknown when a worker died mid-delivery, `complete` timed out, a poll never
resolved or a workflow answered without saying. Each delivery method asks its own way
(its `verify`); only a definite "it did not land" allows a resend, never for a workflow
on its own (an admin's Retry decides), and a route that cannot tell is never read as
"no": it is asked again later, unless an admin's Retry accepted the risk.
"""

import uuid

from django.utils.translation import gettext_noop

from claims import bitbadges
from claims.audit import Actor
from claims.engine import ledger
from claims.engine.errors import CannotAsk, Permanent, Transient, bitbadges_failure
from claims.engine.methods import method_of
from claims.engine.methods.base import Verdict
from claims.models import Completion, CompletionEvent

State = Completion.State
Reason = CompletionEvent.Reason


def verify_upstream(completion: Completion, token: uuid.UUID, *, actor: Actor) -> bool:
    """After an unknown outcome: did the earlier delivery land? True when it did (the
    completion is then recorded completed); False when delivery may go ahead."""
    claim = completion.claim
    method = method_of(claim.delivery)
    if method is None:
        raise Permanent(State.FAILED, gettext_noop("This claim has no delivery method."))
    try:
        verdict = method.verify(completion)
    except bitbadges.CannotVerify as exc:
        if not completion.resend_approved:
            raise bitbadges_failure(exc) from exc
        verdict = Verdict(False, note=f"BitBadges cannot tell ({exc})")
    except CannotAsk as exc:
        if not completion.resend_approved:
            raise Permanent(
                State.FAILED,
                gettext_noop(
                    "We could not confirm whether this was delivered; the site's admins will check."
                ),
                str(exc),
            ) from exc
        verdict = Verdict(False, note=str(exc))
    except bitbadges.BitBadgesError as exc:
        raise bitbadges_failure(exc) from exc
    if verdict.delivered:
        return ledger.completed(
            completion,
            token,
            actor=actor,
            reference=verdict.reference,
            note=verdict.note,
            why=Reason.VERIFIED,
        )
    if not method.resends_by_itself and not completion.resend_approved:
        # BitBadges shows nothing yet, but the workflow may still be running, or may
        # have turned the member down: check again, and leave a resend to an admin.
        raise Transient(
            gettext_noop("We are checking with BitBadges whether this was delivered."),
            f"BitBadges shows no completion of claim {claim.bitbadges_claim_id} for "
            f"{completion.address} after the workflow's unknown answer; checked again later. "
            "An admin's Retry runs the workflow again if it still shows none.",
            outcome_unknown=True,
        )
    # Certainly not delivered (or an admin accepted the risk): start over, letting go of
    # the address (and identity) it took; the delivery that follows takes them again.
    freed = completion.address_key
    fields = {
        "outcome_unknown": False,
        "resend_approved": False,
        "delivery_reference": "",
        **ledger.given_back(completion, sent=False),
    }
    Completion.objects.filter(pk=completion.pk, lease_token=token).update(**fields)
    for name, value in fields.items():
        setattr(completion, name, value)
    ledger.event(
        completion,
        completion.state,
        completion.state,
        actor,
        Reason.VERIFIED,
        {"verified": "not delivered", **({"note": verdict.note} if verdict.note else {})},
    )
    if freed:
        ledger.address_freed(claim.pk, freed)
    return False

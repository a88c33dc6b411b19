"""Whether a member's start claim (users.start_path) is still worth sending them back to.

users sits below claims, so it asks through the check registered here at start-up
(claims.apps). A login lands on the claim page a member set out from only while that
page can still lead somewhere by their own doing: the claim is enabled and takes
deliveries (claims.life.stop_for: not closed, used up, halted or not yet open), and the
member's completion is not settled (completed, taken back), not failed on the claim's
own settings (an administrator must act), and not refused by a "must not" requirement
the member was last found to meet.
"""

from allauth.account.signals import user_signed_up

from claims import life, wording
from claims.models import Claim, Completion
from claims.models import Requirement as RequirementModel
from users.start_path import on_user_signed_up, register_open_check

State = Completion.State

# Values a check records when it gave no answer about the member (evaluation.py).
_NO_ANSWER = ("(not checked)", "(error)")


def open_to(member, slug: str) -> bool:
    claim = Claim.objects.enabled().filter(slug=slug).first()
    if claim is None or life.stop_for(claim) is not None:
        return False
    completion = Completion.objects.filter(claim=claim, member=member).first()
    if completion is None:
        return True
    if completion.state in Completion.SETTLED:
        return False
    if completion.state == State.FAILED and completion.reason in wording.SETTINGS_FAILURES:
        return False
    return not _refused_by_must_not(claim, completion)


def _refused_by_must_not(claim: Claim, completion: Completion) -> bool:
    """Not eligible because a "none" requirement found what it must not (the engine keeps
    that check's result as failed in the evidence, under the requirement's rule key)."""
    if completion.state != State.INELIGIBLE:
        return False
    keys = {
        requirement.rule_key
        for requirement in claim.requirements.filter(group=RequirementModel.Group.NONE)
    }
    return any(
        isinstance(item, dict)
        and item.get("rule") in keys
        and item.get("passed") is False
        and item.get("value") not in _NO_ANSWER
        for item in completion.evidence or []
    )


def register() -> None:
    register_open_check(open_to)
    # A sign-up with BitBadges keeps its claim page as a password sign-up does.
    user_signed_up.connect(on_user_signed_up, dispatch_uid="users.start_path.signed_up")

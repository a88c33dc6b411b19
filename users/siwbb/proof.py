"""What BitBadges' answer does to the member: their address, and whether it is proven.

Proven means User.address is exactly User.proven_address, the address BitBadges' answer
named, and User.address_proven_at says when (users.models.User.address_proven; proven_q
for SQL). A sign-up or a connect makes the proven address the member's; a log-in
refreshes the proof of the address they have; removing the BitBadges login of that
address drops the proof (receivers.py).
"""

from django.contrib.auth import get_user_model
from django.utils import timezone

from users.models import same_account
from users.siwbb.client import proven_address
from users.siwbb.signals import address_proven

PROOF_FIELDS = ["address", "address_proven_at", "proven_address"]


def set_proven(member, answer: dict) -> str:
    """Make the address BitBadges proved `member`'s, proven now (not saved: a new
    member is saved by allauth). Returns the address the member had before."""
    previous = member.address
    member.address = proven_address(answer)
    member.proven_address = member.address
    member.address_proven_at = timezone.now()
    return previous


def prove(member, answer: dict) -> str:
    """`set_proven`, saved, and said to the apps above when it is news (claims waiting for
    an address or a proof are checked again): a proof the member did not have, or
    another address. A log-in that only renews the proof sends nothing (REVIEW_claims
    #7: each would re-queue the member's failed and ineligible claims). Returns the
    previous address."""
    was_proven = member.address_proven
    previous = set_proven(member, answer)
    member.save(update_fields=PROOF_FIELDS)
    if not was_proven or previous != member.address:
        address_proven.send(
            sender=get_user_model(), member=member, address=member.address, previous=previous
        )
    return previous


def refresh(member, uid: str) -> bool:
    """A log-in with BitBadges as `uid`: the proof of the member's address is renewed
    when it is that account, and a member without an address gets it. An address the
    member typed since is kept as they chose it (not proven). Whether it was proven."""
    if member.address and not same_account(member.address, uid):
        return False
    prove(member, {"bitbadgesAddress": uid, "address": member.address or uid})
    return True


def drop(member_id: int, uid: str) -> bool:
    """The BitBadges login `uid` was removed: the proof goes if it was for it."""
    members = get_user_model().objects.filter(pk=member_id)
    proven = members.values_list("proven_address", flat=True).first()
    if not proven or not same_account(proven, uid):
        return False
    return bool(members.update(address_proven_at=None, proven_address=""))

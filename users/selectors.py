"""Reads about members: whether their email address is confirmed."""

from dataclasses import dataclass

from allauth.account.models import EmailAddress


@dataclass(frozen=True)
class EmailState:
    verified: bool
    # The address a confirmation link went (or would go) to, when none is verified.
    pending: str = ""


def member_email_state(*, member) -> EmailState:
    """Whether `member` has a verified email address, and if not, which one to confirm."""
    addresses = list(EmailAddress.objects.filter(user_id=member.pk).order_by("-primary", "pk")[:20])
    if any(address.verified for address in addresses):
        return EmailState(verified=True)
    pending = addresses[0].email if addresses else (member.email or "")
    return EmailState(verified=False, pending=pending)


def member_email_verified(*, member) -> bool:
    return EmailAddress.objects.filter(user_id=member.pk, verified=True).exists()

"""Sending what is due, from the task worker: one email per badge, and one email per
member listing every account that stopped working (however many one sync broke).

A worker takes rows with a conditional update (pending -> sending, stamped with its
batch): two workers never take the same row, so nothing goes twice. Whether to send is
decided at sending time, from the database as it is then: the member (active, with a
confirmed address), their choices, and for an account whether it is still broken and
an enabled claim they have not earned still needs it (claims.needs.broken_needed).
"""

import datetime
import logging
import uuid
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from claims.models import Completion
from claims.needs import broken_needed
from notifications import emails
from notifications.models import Kind, Notification, Preference

logger = logging.getLogger(__name__)

# A claim's check under way (the sync that broke the account queued it) hides whether it
# needs the account: the notice waits for it, this long at a time, up to WAIT_AT_MOST
# after the break; then it is skipped as not needed.
WAIT_FOR_CHECKS = datetime.timedelta(seconds=30)
WAIT_AT_MOST = datetime.timedelta(hours=1)


@dataclass
class Outcome:
    summary: str
    again_at: datetime.datetime | None = None


State = Notification.State

# Why a row was not sent: for the admin's list (English, staff read it).
NO_MEMBER = "The member's account is deactivated."
NO_ADDRESS = "The member has no confirmed email address."
TURNED_OFF = "The member turned these emails off."
NOT_COMPLETED = "The completion is no longer completed."
ACCOUNT_GONE = "The account was disconnected."
ACCOUNT_BACK = "The account works again."
NOT_NEEDED = "No enabled claim the member has not earned needs this account now."


def confirmed_address(member) -> str | None:
    """The member's confirmed address: the primary one when it is confirmed."""
    address = (
        EmailAddress.objects.filter(user=member, verified=True)
        .order_by("-primary", "pk")
        .values_list("email", flat=True)
        .first()
    )
    return address or None


def _take(member_id: int) -> list[Notification]:
    """This worker's rows of the member: every due badge row, and when any account row is
    due, every pending account row (so that all of them go in one email)."""
    now = timezone.now()
    due = Notification.objects.filter(member_id=member_id, state=State.PENDING, send_after__lte=now)
    kinds = set(due.values_list("kind", flat=True))
    if not kinds:
        return []
    wanted = Q(kind=Kind.BADGE_EARNED, send_after__lte=now)
    if Kind.ACCOUNT_BROKEN in kinds:
        wanted |= Q(kind=Kind.ACCOUNT_BROKEN)
    batch = uuid.uuid4()
    Notification.objects.filter(wanted, member_id=member_id, state=State.PENDING).update(
        state=State.SENDING, batch=batch
    )
    return list(
        Notification.objects.filter(batch=batch, state=State.SENDING)
        .select_related("completion__claim", "account__app")
        .order_by("pk")
    )


def _close(rows: list[Notification], state: str, reason: str = "") -> None:
    fields = {"state": state, "reason": reason[:255]}
    if state == State.SENT:
        fields["sent_at"] = timezone.now()
    Notification.objects.filter(pk__in=[row.pk for row in rows], state=State.SENDING).update(
        **fields
    )
    for row in rows:
        logger.info(
            "Notification %s (%s): %s",
            row.pk,
            row.kind,
            state,
            extra={"notification": row.pk, "member": row.member_id, "kind": row.kind},
        )


def _deliver(rows: list[Notification], member, address: str, email: emails.Email) -> None:
    try:
        emails.send(email, address)
    except Exception as exc:  # the mail server's refusal or a network error
        logger.warning("Notifications %s: sending failed", [row.pk for row in rows], exc_info=True)
        _close(rows, State.FAILED, f"Sending failed: {type(exc).__name__}: {exc}")
        return
    _close(rows, State.SENT)


def send_due(member_id: int) -> Outcome:
    """Send (or skip, saying why) what is due for the member; what happened, and when to
    look again if some of it must wait."""
    rows = _take(member_id)
    if not rows:
        return Outcome("nothing due")
    member = get_user_model().objects.filter(pk=member_id).first()
    if member is None or not member.is_active:
        _close(rows, State.SKIPPED, NO_MEMBER)
        return Outcome("skipped: member")
    address = confirmed_address(member)
    if address is None:
        _close(rows, State.SKIPPED, NO_ADDRESS)
        return Outcome("skipped: no address")
    preference = Preference.objects.filter(member=member).first() or Preference(member=member)
    badges = [row for row in rows if row.kind == Kind.BADGE_EARNED]
    accounts = [row for row in rows if row.kind == Kind.ACCOUNT_BROKEN]
    sent, again_at = 0, None
    try:
        for row in badges:
            sent += _badge(row, member, address, preference)
        if accounts:
            again_at = _waits_for_checks(accounts, member)
            if again_at is None:
                sent += _accounts(accounts, member, address, preference)
    except Exception as exc:
        # A bug while building an email: the rows say so rather than stay "sending".
        _close(rows, State.FAILED, f"Not sent: {type(exc).__name__}: {exc}")
        raise
    return Outcome(f"sent {sent} of {len(rows)}", again_at)


def _waits_for_checks(rows: list[Notification], member) -> datetime.datetime | None:
    """When a claim's check is under way and one of these accounts is still broken, the
    rows go back to pending until then (all of them: they stay one email)."""
    now = timezone.now()
    if min(row.created_at for row in rows) < now - WAIT_AT_MOST:
        return None
    broken = [row for row in rows if row.account is not None and row.account.needs_reconnect]
    if not broken:
        return None
    checking = Completion.objects.filter(
        member=member, state__in=Completion.IN_PROGRESS, claim__enabled=True
    ).exists()
    if not checking:
        return None
    again_at = now + WAIT_FOR_CHECKS
    Notification.objects.filter(pk__in=[row.pk for row in rows], state=State.SENDING).update(
        state=State.PENDING, send_after=again_at, batch=None
    )
    return again_at


def _badge(row: Notification, member, address: str, preference: Preference) -> int:
    if not preference.badge_earned:
        _close([row], State.SKIPPED, TURNED_OFF)
        return 0
    completion = row.completion
    if completion is None or completion.state != Completion.State.COMPLETED:
        _close([row], State.SKIPPED, NOT_COMPLETED)
        return 0
    claim = completion.claim
    badge = emails.one_line(claim.bitbadges_name or claim.name)
    email = emails.build(
        member,
        Kind.BADGE_EARNED,
        "badge_earned",
        {"badge": badge, "claim": claim, "claim_url": emails.absolute(f"/c/{claim.slug}/")},
    )
    _deliver([row], member, address, email)
    return 1


def _accounts(rows: list[Notification], member, address: str, preference: Preference) -> int:
    if not preference.account_broken:
        _close(rows, State.SKIPPED, TURNED_OFF)
        return 0
    needs = {need.account.pk: need for need in broken_needed(member)}
    listed, listed_rows = [], []
    for row in rows:
        need = needs.get(row.account_id) if row.account_id else None
        if need is not None:
            listed.append(need)
            listed_rows.append(row)
        elif row.account is None:
            _close([row], State.SKIPPED, ACCOUNT_GONE)
        elif not row.account.needs_reconnect:
            _close([row], State.SKIPPED, ACCOUNT_BACK)
        else:
            _close([row], State.SKIPPED, NOT_NEEDED)
    if not listed:
        return 0
    items = [
        {
            "sentence": need.sentence,
            "app": need.app.name,
            "account": need.account.name,
            "url": emails.absolute(need.reconnect_url),
        }
        for need in listed
    ]
    context = {"items": items, "count": len(items)}
    if len(items) == 1:
        context["app"] = emails.one_line(items[0]["app"], 80)
    email = emails.build(member, Kind.ACCOUNT_BROKEN, "account_broken", context)
    _deliver(listed_rows, member, address, email)
    return 1

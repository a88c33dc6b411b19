"""Sending what is due, from the task worker: one email per member listing every badge
of the settle window, and one listing every account that stopped working.

A worker takes rows with a conditional update (pending -> sending, stamped with its
batch and the time): two workers never take the same row, and a row is closed only by
the worker whose batch holds it. Whether to send is decided at sending time, from the
database as it is then: the member (active, with a confirmed address), their choices,
and for an account whether it is still broken, an enabled claim they have not earned
still needs it (claims.needs.broken_needed), and they were not told about it lately.

A send the mail server refuses goes back to pending, tried again after RETRY_AFTER; after
the last try the rows are failed (an account's broken episode closed with them). What is
stored and logged about a failure is the exception's class and the SMTP codes, never its
text (a refused recipient's text holds the address). Emails are rendered in the site's
language (members have no language of their own yet), whatever language the worker has
active.
"""

import datetime
import logging
import smtplib
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone, translation

from claims.models import Completion
from claims.needs import broken_needed
from notifications import emails, services
from notifications.models import Kind, Notification, Preference
from users.selectors import member_confirmed_address

logger = logging.getLogger(__name__)

# A claim's check under way (the sync that broke the account queued it) hides whether it
# needs the account: the notice waits for it, this long at a time, up to WAIT_AT_MOST
# after the break; then it is skipped as not needed.
WAIT_FOR_CHECKS = datetime.timedelta(seconds=30)
WAIT_AT_MOST = datetime.timedelta(hours=1)
# After the n-th refused send, the next try waits RETRY_AFTER[n-1]; after the last, failed.
RETRY_AFTER = (
    datetime.timedelta(minutes=1),
    datetime.timedelta(minutes=5),
    datetime.timedelta(minutes=30),
)
TRIES = len(RETRY_AFTER) + 1


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
TOLD_LATELY = "The member was told about this account at %s UTC; not again so soon."


def member_language(member) -> str:
    """The language to write to the member in: the site's (no member has one stored)."""
    return settings.LANGUAGE_CODE


def failure(exc: BaseException) -> str:
    """What is kept about a failed send: the class and the SMTP codes, never the text."""
    codes: set[int] = set()
    if isinstance(exc, smtplib.SMTPResponseException):
        codes.add(exc.smtp_code)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        for answer in exc.recipients.values():
            if isinstance(answer, tuple) and answer and isinstance(answer[0], int):
                codes.add(answer[0])
    return " ".join([type(exc).__name__, *(str(code) for code in sorted(codes))])


def _take(member_id: int) -> list[Notification]:
    """This worker's rows of the member: when a row of a kind is due, every pending row of
    that kind (so that all of them go in one email)."""
    now = timezone.now()
    due = Notification.objects.filter(member_id=member_id, state=State.PENDING, send_after__lte=now)
    kinds = set(due.values_list("kind", flat=True))
    if not kinds:
        return []
    batch = uuid.uuid4()
    Notification.objects.filter(member_id=member_id, state=State.PENDING, kind__in=kinds).update(
        state=State.SENDING, batch=batch, taken_at=now
    )
    return list(
        Notification.objects.filter(batch=batch, state=State.SENDING)
        .select_related("completion__claim", "account__app")
        .order_by("pk")
    )


def _ours(rows: list[Notification]):
    """The rows still held by this worker's batch (the sweep may have handed a send that
    took too long to another worker)."""
    return Notification.objects.filter(
        pk__in=[row.pk for row in rows], state=State.SENDING, batch=rows[0].batch
    )


def _close(rows: list[Notification], state: str, reason: str = "", **fields) -> None:
    if not rows:
        return
    fields.update(state=state, reason=reason[:255])
    if state == State.SENT:
        fields["sent_at"] = timezone.now()
    _ours(rows).update(**fields)
    for row in rows:
        logger.info(
            "Notification %s (%s): %s",
            row.pk,
            row.kind,
            state,
            extra={"notification": row.pk, "member": row.member_id, "kind": row.kind},
        )


def _failed(rows: list[Notification], what: str) -> datetime.datetime | None:
    """A refused send: pending again after a while, or failed after the last try (an
    account's episode then ends, so that a later break tells the member)."""
    now = timezone.now()
    tries = max(row.attempts for row in rows) + 1
    logger.warning(
        "Notifications %s: sending failed (%s), try %s of %s",
        [row.pk for row in rows],
        what,
        tries,
        TRIES,
    )
    if tries < TRIES:
        again_at = now + RETRY_AFTER[tries - 1]
        _ours(rows).update(
            state=State.PENDING,
            send_after=again_at,
            batch=None,
            attempts=tries,
            reason=f"Sending failed ({what}); trying again at {again_at:%Y-%m-%d %H:%M} UTC.",
        )
        return again_at
    _ours(rows).filter(kind=Kind.ACCOUNT_BROKEN, resolved_at__isnull=True).update(resolved_at=now)
    _close(rows, State.FAILED, f"Sending failed {tries} times ({what}); given up.", attempts=tries)
    return None


def _deliver(rows: list[Notification], address: str, email: emails.Email):
    """Send one email for `rows`: (1 if it went else 0, when to try again if refused)."""
    if _ours(rows).count() != len(rows):
        return 0, None  # handed to another worker meanwhile: it sends them
    try:
        emails.send(email, address)
    except Exception as exc:  # the mail server's refusal or a network error
        return 0, _failed(rows, failure(exc))
    _close(rows, State.SENT)
    return 1, None


def _earliest(*moments):
    known = [moment for moment in moments if moment is not None]
    return min(known) if known else None


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
    address = member_confirmed_address(member=member)
    if address is None:
        _close(rows, State.SKIPPED, NO_ADDRESS)
        return Outcome("skipped: no address")
    preference = services.preference_of(member)
    badges = [row for row in rows if row.kind == Kind.BADGE_EARNED]
    accounts = [row for row in rows if row.kind == Kind.ACCOUNT_BROKEN]
    sent, again_at = 0, None
    try:
        with translation.override(member_language(member)):
            if badges:
                done, again_at = _badges(badges, member, address, preference)
                sent += done
            if accounts:
                waits = _waits_for_checks(accounts, member)
                if waits is None:
                    done, retry = _accounts(accounts, member, address, preference)
                    sent += done
                    again_at = _earliest(again_at, retry)
                else:
                    again_at = _earliest(again_at, waits)
    except Exception as exc:
        # A bug while building an email: the rows say so rather than stay "sending".
        _close(rows, State.FAILED, f"Not sent: {type(exc).__name__}")
        raise
    return Outcome(f"sent {sent} of {len(rows)}", again_at)


def _waits_for_checks(rows: list[Notification], member) -> datetime.datetime | None:
    """When a check of a claim needing one of these still-broken accounts' apps is waiting
    or under way, the rows go back to pending until then (all of them: they stay one
    email). A claim past its check (delivering, retrying a delivery) reads no account."""
    now = timezone.now()
    if min(row.created_at for row in rows) < now - WAIT_AT_MOST:
        return None
    apps = {row.account.app_id for row in rows if row.account and row.account.needs_reconnect}
    if not apps:
        return None
    checking = Completion.objects.filter(
        member=member,
        state__in=(Completion.State.WAITING, Completion.State.CHECKING),
        claim__enabled=True,
        claim__requirements__app_id__in=apps,
    ).exists()
    if not checking:
        return None
    again_at = now + WAIT_FOR_CHECKS
    _ours(rows).update(state=State.PENDING, send_after=again_at, batch=None)
    return again_at


def _badges(rows: list[Notification], member, address: str, preference: Preference):
    if not preference.badge_earned:
        _close(rows, State.SKIPPED, TURNED_OFF)
        return 0, None
    earned = []
    for row in rows:
        completion = row.completion
        if completion is None or completion.state != Completion.State.COMPLETED:
            _close([row], State.SKIPPED, NOT_COMPLETED)
        else:
            earned.append(row)
    if not earned:
        return 0, None
    items = [
        {
            "badge": emails.one_line(
                row.completion.claim.bitbadges_name or row.completion.claim.name
            ),
            "url": emails.absolute(reverse("claims:landing", args=[row.completion.claim.slug])),
        }
        for row in earned
    ]
    context = {"items": items, "count": len(items), "badge": items[0]["badge"]}
    email = emails.build(member, Kind.BADGE_EARNED, "badge_earned", context)
    return _deliver(earned, address, email)


def _told_lately(rows: list[Notification]) -> dict[str, datetime.datetime]:
    """The accounts (by Pipedream id) the member was emailed about within the cooldown."""
    since = timezone.now() - datetime.timedelta(
        seconds=settings.NOTIFICATIONS_ACCOUNT_COOLDOWN_SECONDS
    )
    told: dict[str, datetime.datetime] = {}
    sent = (
        Notification.objects.filter(
            kind=Kind.ACCOUNT_BROKEN,
            state=State.SENT,
            sent_at__gte=since,
            pipedream_id__in=[row.pipedream_id for row in rows if row.pipedream_id],
        )
        .exclude(pk__in=[row.pk for row in rows])
        .values_list("pipedream_id", "sent_at")
    )
    for pipedream_id, sent_at in sent:
        told[pipedream_id] = max(sent_at, told.get(pipedream_id, sent_at))
    return told


def _accounts(rows: list[Notification], member, address: str, preference: Preference):
    if not preference.account_broken:
        _close(rows, State.SKIPPED, TURNED_OFF)
        return 0, None
    needs = {need.account.pk: need for need in broken_needed(member)}
    told = _told_lately(rows)
    listed, listed_rows = [], []
    for row in rows:
        need = needs.get(row.account_id) if row.account_id else None
        if need is not None and row.pipedream_id in told:
            _close([row], State.SKIPPED, TOLD_LATELY % f"{told[row.pipedream_id]:%Y-%m-%d %H:%M}")
        elif need is not None:
            listed.append(need)
            listed_rows.append(row)
        elif row.account is None:
            _close([row], State.SKIPPED, ACCOUNT_GONE)
        elif not row.account.needs_reconnect:
            _close([row], State.SKIPPED, ACCOUNT_BACK)
        else:
            _close([row], State.SKIPPED, NOT_NEEDED)
    if not listed:
        return 0, None
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
    return _deliver(listed_rows, address, email)

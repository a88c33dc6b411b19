"""A member across the apps: deleting their account, at Pipedream first, then in every app."""

import logging

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from claims import services as claims_services
from claims.audit import Actor
from claims.engine import ledger as claims_ledger
from claims.models import Completion, CompletionEvent
from connections import pipedream
from connections.services import UpstreamError, attempt_count
from members import scrub
from users.models import User

logger = logging.getLogger(__name__)

# What replaces the member's personal data in the ledger they leave behind.
DELETED = scrub.DELETED


class MemberDeleteFailed(UpstreamError):
    """Pipedream could not delete the member, so nothing was deleted here either.

    `str(exc)` is a sentence for the member; `cause` is the PipedreamError.
    """


def member_delete(*, member, by_staff: bool = False, limited: bool = False) -> int:
    """Delete `member` at Pipedream, then here; returns how many ledger rows were anonymised.

    Upstream first: if Pipedream fails, the member still has an account here from which
    to try again, and nothing is lost. Pipedream deletes the external user with their
    accounts and deployed triggers; a 404 means it was already gone (a retry after a
    lost answer, or a member who never connected anything).

    Here the member's row goes with what cascades from it (connected accounts, Connect
    sessions, trigger deployments, email addresses). The completion ledger stays for
    audit, without the member: the row's member and the events' actor become NULL (the
    foreign keys do that; an event keeps its actor kind, "member", and never held a
    username), and the address and the member's email addresses are replaced by
    "(deleted)" wherever the ledger quotes them (in the member's spelling, in bb1, and
    their BitBadges logins'). `upstream_identity` (e.g. github:octocat) stays, and so does
    `address_key` (the bb1 address, on a one-completion-per-address claim) on a row that
    may have delivered, on purpose: they stop the same upstream account, or the same
    BitBadges address, from completing the claim again through a new account here. A row
    that sent nothing (not delivering, completed or revoked, no unknown outcome) lets go
    of its address: a delivery that never happened keeps nobody out (the members refused
    that address are checked again). (The engine gives back the identity of such rows
    already: claims.engine.ledger.given_back.)

    What outlives the member is scrubbed too (members/scrub.py): the raw bodies of the
    Connect webhooks and trigger deliveries that were theirs are emptied (digest and size
    stay); the names of their upstream accounts (connected, replaced, or disconnected but
    named in those bodies), their Pipedream account ids, upstream identities and external
    id are replaced by "(deleted)" in the ledger (reason, evidence, delivery reference,
    event details), in those deliveries' details, and in the admin's history of every
    row of theirs (the member, email addresses, completions, accounts, ...).

    Once deleted, a notice goes to each confirmed email address the member had
    (`by_staff`: the site's staff deleted the account, not the member).

    `limited`: the member asked, and may do so ACCOUNT_CHANGE_RATE_LIMIT times per
    window: past it, TooManyAttempts and Pipedream is not called (while it fails, each
    try would call it again, with retries).
    """
    if limited:
        attempt_count(
            "account-delete",
            member.pk,
            setting="ACCOUNT_CHANGE_RATE_LIMIT",
            doing="tried to delete your account too often",
        )
    external_user_id = str(member.external_id)
    try:
        pipedream.get_client().delete_external_user(external_user_id)
    except pipedream.NotFound:
        logger.info("Member %s was already gone at Pipedream", member.pk)
    except pipedream.PipedreamError as exc:
        logger.warning("Pipedream failed while deleting member %s: %s", member.pk, exc)
        raise MemberDeleteFailed(exc) from exc

    member_id = member.pk
    notice = _notice(member, by_staff=by_staff)
    with transaction.atomic():
        # Read before anything is emptied: the webhooks' bodies name disconnected accounts.
        secrets = scrub.personal_strings(member)
        completions = list(Completion.objects.select_for_update().filter(member=member))
        for completion in completions:
            freed = completion.address_key if _address_given_back(completion) else ""
            completion.address = ""
            completion.address_key = "" if freed else completion.address_key
            completion.reason = scrub.scrub(completion.reason, secrets)
            completion.evidence = scrub.scrub(completion.evidence, secrets)
            completion.delivery_reference = scrub.scrub(completion.delivery_reference, secrets)
            completion.save(
                update_fields=[
                    "address",
                    "address_key",
                    "reason",
                    "evidence",
                    "delivery_reference",
                    "updated_at",
                ]
            )
            if freed:  # the members refused that address are checked again
                claims_ledger.address_freed(completion.claim_id, freed)
        events = CompletionEvent.objects.filter(completion__in=completions)
        for event in events.exclude(details={}):
            details = scrub.scrub(event.details, secrets)
            if details != event.details:
                event.details = details
                event.save(update_fields=["details"])
        scrub.empty_deliveries(member, secrets)
        scrub.scrub_admin_history(member, secrets)
        member.delete()
        transaction.on_commit(notice)
    logger.info(
        "Member %s deleted their account (%d ledger rows anonymised)", member_id, len(completions)
    )
    return len(completions)


def _address_given_back(completion: Completion) -> bool:
    """Whether a deleted member's row lets go of its address: it holds one, and nothing
    it sent may have landed (not delivering, completed or revoked; no unknown outcome)."""
    sending = (
        Completion.State.DELIVERING,
        Completion.State.COMPLETED,
        Completion.State.REVOKED,
    )
    return bool(
        completion.address_key
        and completion.state not in sending
        and not completion.outcome_unknown
    )


def _notice(member, *, by_staff: bool):
    """A function that emails the deletion notice to the member's confirmed addresses
    (read now: they go with the member). A failure to send is logged, never raised: the
    account is gone either way."""
    addresses = sorted(
        set(EmailAddress.objects.filter(user=member, verified=True).values_list("email", flat=True))
    )
    context = {
        "username": member.get_username(),
        "deleted_at": timezone.now(),
        "by_staff": by_staff,
        "public_url": settings.PUBLIC_URL,
    }
    member_id = member.pk

    def send() -> None:
        adapter = get_adapter()
        for address in addresses:
            try:
                adapter.render_mail("account/email/account_deleted", address, context).send()
            except Exception:
                logger.exception("Member %s: the deletion notice could not be sent", member_id)

    return send


# --- a member made active again ------------------------------------------------------
# A deactivated member earns nothing: claims hold what is asked for them. Made active
# again (the admin's change form), what was held is asked for again once that commits.
# apps.py connects these to User's pre_save and post_save.


def member_saving(sender, instance: User, update_fields=None, **kwargs) -> None:
    if update_fields is not None and "is_active" not in update_fields:
        return  # a login's last_login, and the like: is_active is not being saved
    instance._reactivated = bool(  # type: ignore[attr-defined]
        instance.pk
        and instance.is_active
        and User.objects.filter(pk=instance.pk, is_active=False).exists()
    )


def member_saved(sender, instance: User, **kwargs) -> None:
    if not getattr(instance, "_reactivated", False):
        return
    instance._reactivated = False  # type: ignore[attr-defined]
    transaction.on_commit(lambda: member_reactivated(member=instance))


def member_reactivated(*, member: User) -> None:
    claims_services.requests_for_reactivated(
        member=member, actor=Actor.signal("member reactivated")
    )

"""A member across the apps: deleting their account, at Pipedream first, then in every app."""

import logging

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from claims import services as claims_services
from claims.audit import Actor
from claims.models import Completion, CompletionEvent, TriggerDelivery
from connections import pipedream
from connections.models import ConnectedAccount, WebhookEvent
from connections.services import UpstreamError
from users.models import User

logger = logging.getLogger(__name__)

# What replaces the member's personal data in the ledger they leave behind.
DELETED = "(deleted)"


class MemberDeleteFailed(UpstreamError):
    """Pipedream could not delete the member, so nothing was deleted here either.

    `str(exc)` is a sentence for the member; `cause` is the PipedreamError.
    """


def member_delete(*, member, by_staff: bool = False) -> int:
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
    "(deleted)" wherever the ledger quotes them. `upstream_identity` (e.g. github:octocat)
    stays: it is what stops the same upstream account from completing a claim twice
    through a new account here.

    What outlives the member is scrubbed too: the upstream account names of their
    connected accounts (logins, emails), their Pipedream account ids and their external
    id are replaced by "(deleted)" in the ledger (reason, evidence, delivery reference,
    event details), in the raw bodies and details of the Connect webhooks and trigger
    deliveries that were theirs, and in the admin's history of their rows.

    Once deleted, a notice goes to each confirmed email address the member had
    (`by_staff`: the site's staff deleted the account, not the member).
    """
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
        secrets = _personal_strings(member)
        completions = list(Completion.objects.select_for_update().filter(member=member))
        for completion in completions:
            completion.address = ""
            completion.reason = _scrub(completion.reason, secrets)
            completion.evidence = _scrub(completion.evidence, secrets)
            completion.delivery_reference = _scrub(completion.delivery_reference, secrets)
            completion.save(
                update_fields=["address", "reason", "evidence", "delivery_reference", "updated_at"]
            )
        events = CompletionEvent.objects.filter(completion__in=completions)
        for event in events.exclude(details={}):
            details = _scrub(event.details, secrets)
            if details != event.details:
                event.details = details
                event.save(update_fields=["details"])
        _scrub_deliveries(member, secrets)
        _scrub_admin_history(member, secrets)
        member.delete()
        transaction.on_commit(notice)
    logger.info(
        "Member %s deleted their account (%d ledger rows anonymised)", member_id, len(completions)
    )
    return len(completions)


def _personal_strings(member) -> list[str]:
    """The strings that would name the member in what stays: their address, emails and
    external id, and their connected accounts' names and Pipedream ids."""
    values = {member.address, member.email, str(member.external_id)}
    values.update(EmailAddress.objects.filter(user=member).values_list("email", flat=True))
    for name, pipedream_id in ConnectedAccount.objects.filter(member=member).values_list(
        "name", "pipedream_id"
    ):
        values.update((name, pipedream_id))
    # Longest first, so one value that contains another is replaced whole.
    return sorted((v for v in values if v and len(v) >= 3), key=len, reverse=True)


def _scrub_deliveries(member, secrets: list[str]) -> None:
    """Connect webhooks and trigger deliveries that were the member's: their Connect
    sessions' and trigger deployments' (which go with the member and leave these without
    a link), and any whose raw body names the member's external id."""
    external_id = str(member.external_id)
    webhooks = WebhookEvent.objects.filter(
        Q(session__member=member) | Q(body__contains=external_id)
    )
    for webhook in webhooks:
        body, detail = _scrub(webhook.body, secrets), _scrub(webhook.detail, secrets)
        if (body, detail) != (webhook.body, webhook.detail):
            webhook.body, webhook.detail = body, detail
            webhook.save(update_fields=["body", "detail"])
    deliveries = TriggerDelivery.objects.filter(
        Q(deployment__member=member) | Q(body__contains=external_id)
    )
    for delivery in deliveries:
        scrubbed = {
            "body": _scrub(delivery.body, secrets),
            "headers": _scrub(delivery.headers, secrets),
            "detail": _scrub(delivery.detail, secrets),
        }
        changed = [name for name, value in scrubbed.items() if value != getattr(delivery, name)]
        if changed:
            for name in changed:
                setattr(delivery, name, scrubbed[name])
            delivery.save(update_fields=changed)


def _scrub_admin_history(member, secrets: list[str]) -> None:
    """The admin's history names a row by its text (a username, an account's name)."""
    rows = [(ContentType.objects.get_for_model(member), [str(member.pk)])]
    accounts = ConnectedAccount.objects.filter(member=member).values_list("pk", flat=True)
    rows.append((ContentType.objects.get_for_model(ConnectedAccount), [str(pk) for pk in accounts]))
    for content_type, object_ids in rows:
        entries = LogEntry.objects.filter(content_type=content_type, object_id__in=object_ids)
        for entry in entries:
            scrubbed = _scrub(entry.object_repr, [*secrets, member.get_username()])
            if scrubbed != entry.object_repr:
                entry.object_repr = scrubbed
                entry.save(update_fields=["object_repr"])


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


def _scrub(value, secrets: list[str]):
    """`value` (JSON: str, list, dict) with each of `secrets` replaced by "(deleted)"."""
    if isinstance(value, str):
        lowered = value.lower()
        for secret in secrets:
            needle = secret.lower()
            start = lowered.find(needle)
            while start != -1:
                value = value[:start] + DELETED + value[start + len(needle) :]
                lowered = value.lower()
                start = lowered.find(needle, start + len(DELETED))
        return value
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    return value


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

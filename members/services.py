"""A member across the apps: deleting their account, at Pipedream first, then in every app."""

import logging

from allauth.account.models import EmailAddress
from django.db import transaction

from claims.models import Completion, CompletionEvent
from connections import pipedream
from connections.services import UpstreamError

logger = logging.getLogger(__name__)

# What replaces the member's personal data in the ledger they leave behind.
DELETED = "(deleted)"


class MemberDeleteFailed(UpstreamError):
    """Pipedream could not delete the member, so nothing was deleted here either.

    `str(exc)` is a sentence for the member; `cause` is the PipedreamError.
    """


def member_delete(*, member) -> int:
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
    with transaction.atomic():
        secrets = _personal_strings(member)
        completions = list(Completion.objects.select_for_update().filter(member=member))
        for completion in completions:
            completion.address = ""
            completion.reason = _scrub(completion.reason, secrets)
            completion.evidence = _scrub(completion.evidence, secrets)
            completion.save(update_fields=["address", "reason", "evidence", "updated_at"])
        events = CompletionEvent.objects.filter(completion__in=completions)
        for event in events.exclude(details={}):
            details = _scrub(event.details, secrets)
            if details != event.details:
                event.details = details
                event.save(update_fields=["details"])
        member.delete()
    logger.info(
        "Member %s deleted their account (%d ledger rows anonymised)", member_id, len(completions)
    )
    return len(completions)


def _personal_strings(member) -> list[str]:
    """The strings that would name the member in the ledger: address and emails."""
    values = {member.address, member.email}
    values.update(EmailAddress.objects.filter(user=member).values_list("email", flat=True))
    # Longest first, so one value that contains another is replaced whole.
    return sorted((v for v in values if v and len(v) >= 3), key=len, reverse=True)


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

"""What outlives a deleted member, without them (members.services.member_delete).

Three steps, in this order, inside member_delete's transaction:

1. `personal_strings`: every string that names the member or their upstream accounts,
   read while their rows are still here, including the accounts they disconnected
   (whose rows are gone): the names and ids in their Connect webhooks' raw bodies.
2. `empty_deliveries`: the raw bodies of those webhooks and of their trigger
   deliveries are emptied whole (digest and size stay); their details are scrubbed.
3. `scrub` on the ledger, and `scrub_admin_history` on the admin's history of every row
   of theirs (the member, their email addresses, completions, accounts, sessions, ...).
"""

import json
import re

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import CharField, Q
from django.db.models.functions import Cast

from claims.models import Completion, TriggerDelivery, TriggerDeployment
from connections.models import ConnectedAccount, ReplacedAccount, WebhookEvent
from core.addresses import normalize_address, to_bitbadges_address

# What replaces the member's personal data in what they leave behind.
DELETED = "(deleted)"
# Shorter strings are not replaced: they would take pieces of unrelated words with them.
SHORTEST = 3
# In what is shared with others (the site's deliveries, the history of rows now gone),
# only strings this long, not all digits, and only as whole words: a member named "star"
# or an upstream id "123456" must not take pieces of other people's records with them.
SHARED_SHORTEST = 6


def member_webhooks(member):
    """The Connect webhooks that were the member's: their Connect sessions' (which go
    with the member and leave these without a link), and any whose body names them."""
    return WebhookEvent.objects.filter(
        Q(session__member=member) | Q(body__contains=str(member.external_id))
    )


def member_deliveries(member):
    """The trigger deliveries that were the member's: their deployments', and any whose
    body names their external id."""
    return TriggerDelivery.objects.filter(
        Q(deployment__member=member) | Q(body__contains=str(member.external_id))
    )


def personal_strings(member) -> list[str]:
    """The strings that name the member in what stays, longest first: their address
    (as they typed it, and in bb1, as the ledger writes it), emails and external id; their
    BitBadges logins' addresses; their upstream accounts' names and Pipedream ids
    (connected now, replaced, deployed on, or named in their webhooks' bodies, so also
    the ones they disconnected); the upstream identities their completions took."""
    values = {member.address, member.email, str(member.external_id)}
    values.add(_bb1(member.address))
    for uid, extra in SocialAccount.objects.filter(user=member, provider="bitbadges").values_list(
        "uid", "extra_data"
    ):
        values.add(uid)
        if isinstance(extra, dict):
            for key in ("bitbadgesAddress", "address"):
                if isinstance(extra.get(key), str):
                    values.update((extra[key], _bb1(extra[key])))
    values.update(EmailAddress.objects.filter(user=member).values_list("email", flat=True))
    for name, pipedream_id in ConnectedAccount.objects.filter(member=member).values_list(
        "name", "pipedream_id"
    ):
        values.update((name, pipedream_id))
    values.update(
        ReplacedAccount.objects.filter(member=member).values_list("pipedream_id", flat=True)
    )
    for account_id, trigger_id in TriggerDeployment.objects.filter(member=member).values_list(
        "account_pipedream_id", "pipedream_id"
    ):
        values.update((account_id, trigger_id))
    for identity in Completion.objects.filter(member=member).values_list(
        "upstream_identity", flat=True
    ):
        values.update((identity, identity.split(":", 1)[-1]))
    for body in member_webhooks(member).exclude(body="").values_list("body", flat=True):
        values.update(_account_names(body))
    # Longest first, so one value that contains another is replaced whole.
    return sorted(
        {v for v in values if isinstance(v, str) and len(v.strip()) >= SHORTEST},
        key=len,
        reverse=True,
    )


def _bb1(address: str) -> str:
    """The bb1 spelling of an address, or "" when it has none."""
    try:
        return to_bitbadges_address(normalize_address(address)) if address else ""
    except (ValidationError, ValueError):
        return ""


def _account_names(body: str) -> set[str]:
    """The upstream account's id and name in a Connect webhook's raw body, if any."""
    try:
        payload = json.loads(body)
    except ValueError:
        return set()
    account = payload.get("account") if isinstance(payload, dict) else None
    if not isinstance(account, dict):
        return set()
    return {account[key] for key in ("id", "name") if isinstance(account.get(key), str)}


def empty_deliveries(member, secrets: list[str]) -> None:
    """Empty the raw bodies (and a trigger delivery's raw headers) of what the member's
    upstreams sent us, whatever names they hold; keep their digests and sizes, and our
    own detail with `secrets` replaced. Deliveries shared with others keep their bodies,
    with `secrets` replaced."""
    for webhook in member_webhooks(member):
        detail = scrub(webhook.detail, secrets)
        if webhook.body or detail != webhook.detail:
            webhook.body, webhook.detail = "", detail
            webhook.save(update_fields=["body", "detail"])
    for delivery in member_deliveries(member):
        detail = scrub(delivery.detail, secrets)
        if delivery.body or delivery.headers or detail != delivery.detail:
            delivery.body, delivery.headers, delivery.detail = "", {}, detail
            delivery.save(update_fields=["body", "headers", "detail"])
    # The site's trigger deliveries (a star on a shared repository), and those of
    # deployments since removed, are not the member's alone: their names are replaced.
    words = distinctive(secrets)
    named = Q()
    for word in words:
        named |= Q(body__icontains=word) | Q(detail__icontains=word)
    others = TriggerDelivery.objects.filter(deployment__member__isnull=True).filter(named)
    for delivery in others if words else ():
        scrubbed = {
            "body": scrub(delivery.body, words, whole=True),
            "headers": scrub(delivery.headers, words, whole=True),
            "detail": scrub(delivery.detail, words, whole=True),
        }
        changed = [name for name, value in scrubbed.items() if value != getattr(delivery, name)]
        if changed:
            for name in changed:
                setattr(delivery, name, scrubbed[name])
            delivery.save(update_fields=changed)


def scrub_admin_history(member, secrets: list[str]) -> None:
    """The admin's history names a row by its text (object_repr: a username, an email
    address, "claim · username · state") and its change message quotes inline rows.
    Every row that is the member's (anything with a foreign key to them: email
    addresses, completions, accounts, sessions, and the audit rows of what they did),
    and any account row of theirs already gone, is scrubbed."""
    words = sorted({*secrets, member.get_username()}, key=len, reverse=True)
    rows: dict[ContentType, set[str]] = {
        ContentType.objects.get_for_model(member): {str(member.pk)}
    }
    for relation in member._meta.get_fields(include_hidden=True):
        model = relation.related_model
        if not (relation.auto_created and not relation.concrete) or relation.many_to_many:
            continue  # a field of the member's own, or their groups and permissions
        if model is LogEntry or model._meta.auto_created:
            continue
        pks = model._base_manager.filter(**{relation.field.name: member}).values_list(
            "pk", flat=True
        )
        rows.setdefault(ContentType.objects.get_for_model(model), set()).update(map(str, pks))
    entries = Q()
    for content_type, object_ids in rows.items():
        entries |= Q(content_type=content_type, object_id__in=object_ids)
    # Accounts disconnected, or deleted at Pipedream: their rows are gone, their names not.
    # (Whose they were is not recorded: only distinctive names, as whole words, are
    # looked for; the member's own rows above are scrubbed of every string.)
    named = Q()
    for word in distinctive(secrets):
        named |= Q(object_repr__icontains=word) | Q(change_message__icontains=word)
    for model in (ConnectedAccount, ReplacedAccount) if distinctive(secrets) else ():
        remaining = model.objects.values_list(Cast("pk", CharField()), flat=True)
        entries |= (
            Q(content_type=ContentType.objects.get_for_model(model))
            & named
            & ~Q(object_id__in=remaining)
        )
    for entry in LogEntry.objects.filter(entries):
        object_repr = scrub(entry.object_repr, words)
        change_message = _scrub_message(entry.change_message, words)
        if (object_repr, change_message) != (entry.object_repr, entry.change_message):
            entry.object_repr, entry.change_message = object_repr, change_message
            entry.save(update_fields=["object_repr", "change_message"])


def _scrub_message(message: str, words: list[str]) -> str:
    """A LogEntry's change_message: JSON (the admin's) scrubbed value by value, else text."""
    try:
        parsed = json.loads(message)
    except ValueError:
        return scrub(message, words)
    scrubbed = scrub(parsed, words)
    return message if scrubbed == parsed else json.dumps(scrubbed)


def distinctive(secrets: list[str]) -> list[str]:
    """The strings fit to look for in what others share (SHARED_SHORTEST)."""
    return [word for word in secrets if len(word) >= SHARED_SHORTEST and not word.isdigit()]


def scrub(value, secrets: list[str], *, whole: bool = False):
    """`value` (JSON: str, list, dict) with each of `secrets` replaced by "(deleted)";
    with `whole`, only where it stands as a word of its own (not inside a longer name,
    id or address)."""
    if whole and isinstance(value, str):
        for secret in secrets:
            pattern = rf"(?<![\w.@-]){re.escape(secret)}(?![\w@-]|\.\w)"
            value = re.sub(pattern, DELETED, value, flags=re.IGNORECASE)
        return value
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
        return [scrub(item, secrets, whole=whole) for item in value]
    if isinstance(value, dict):
        return {key: scrub(item, secrets, whole=whole) for key, item in value.items()}
    return value

"""Everything the site holds about one member, as one JSON file (/profile/data/).

The file is versioned (FORMAT, VERSION) and holds the member's own rows only: their
record (with when Sign in with BitBadges proved their address), email addresses, second
factors, their BitBadges login (the address only), connected accounts, Connect sessions
and the connection webhooks those sessions received, completions and every event of
their ledger, trigger deployments and their deliveries, and what staff checks found
about them. Secrets never appear: no password hash, no second-factor secret or recovery code,
no Connect token or its digest, no trigger signing key, no webhook body (Pipedream's
carries the Connect token), nothing of a claim beyond its slug and name. Nor does what
is about other people or meant for staff alone: no trigger delivery's body or the note
naming whom its events were about (a member's trigger can report other people, such as
other stargazers or message authors), and no reason staff gave for a revoke, re-issue or
grant (the admin tells them members do not see it; STAFF_ONLY_DETAILS).

Every model with a foreign key to the member is either a section here (COVERED) or
named in EXCLUDED with the reason, and every field of a section's model is exported or
omitted with a reason (Spec); tests/users/test_member_data.py fails on anything new that
is neither. What the member did as staff is counted (staff_work), not listed: those
rows are about other people and the site.

The file is written to a spooled temporary file (memory up to SPOOL_BYTES, then disk)
while each section is read with one query (`iterator`, CHUNK rows per fetch), so a
member with many events neither fills memory nor makes a query per row; the response
only starts once the file is whole (a failure is an error page, not a cut-off file).
"""

import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.contrib.admin.models import LogEntry
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F, Model, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy

from claims.audit import ClaimRuleChange
from claims.job_models import ClaimJob, DryRunRow
from claims.models import Completion, CompletionEvent
from claims.trigger_models import TriggerDelivery, TriggerDeployment
from connections.models import ConnectedAccount, ConnectSession, ReplacedAccount, WebhookEvent
from notifications.models import Notification, Preference

FORMAT = "connect-and-claim/member-data"
VERSION = 1
CHUNK = 500
SPOOL_BYTES = 256 * 1024
# Downloads per member and window (seconds): building the file reads every row of theirs.
RATE_LIMIT = (5, 3600)

# "<app label>.<Model>.<field>" of each foreign key to the member -> the section holding
# their rows (a test walks the models and fails on a key found in neither dict).
COVERED = {
    "account.EmailAddress.user": "email_addresses",
    "mfa.Authenticator.user": "second_factors",
    "socialaccount.SocialAccount.user": "bitbadges_logins",
    "users.User_groups.user": "member",
    "users.User_user_permissions.user": "member",
    "connections.ConnectedAccount.member": "connected_accounts",
    "connections.ReplacedAccount.member": "replaced_accounts",
    "connections.ConnectSession.member": "connect_sessions",
    "claims.Completion.member": "completions",
    "claims.TriggerDeployment.member": "trigger_deployments",
    "claims.ClaimJob.member": "staff_try_it",
    "claims.DryRunRow.member": "staff_dry_runs",
    # Events on the member's completions are listed; what they caused as staff on other
    # people's completions is counted in staff_work.
    "claims.CompletionEvent.actor": "completion_events",
    "notifications.Preference.member": "email_choices",
    "notifications.Notification.member": "emails_sent",
}
EXCLUDED = {
    "admin.LogEntry.user": "the admin's history of what a staff user changed names other "
    "people's records; staff_work counts it",
    "claims.ClaimRuleChange.actor": "a staff user's changes to a claim's rules are about "
    "the claim, not the member; staff_work counts them",
    "claims.ClaimJob.requested_by": "checks a staff user asked for are about other "
    "members; staff_work counts them",
    "api.ApiKey.created_by": "API keys a staff user made are the host site's, not the "
    "member's; the key itself is never readable",
    "api.ApiKey.revoked_by": "API keys a staff user revoked are the host site's, not the member's",
}
# Said in the file itself: what it leaves out on purpose.
NOT_INCLUDED = [
    gettext_lazy(
        "Your password (only a one-way hash of it is kept) and the secrets of your second "
        "factor and its recovery codes."
    ),
    gettext_lazy(
        "Connect tokens and their digests, trigger signing keys, and the raw bodies of "
        "Pipedream's connection webhooks (they carry a Connect token)."
    ),
    gettext_lazy(
        "Your login sessions and the short-lived counters that limit how often you can do something."
    ),
    gettext_lazy(
        "What your connected accounts' triggers sent: the events can be about other people "
        "(someone who starred your repository, the author of a message), so only when each "
        "arrived, its size, a fingerprint of it and what the site did with it are listed."
    ),
    gettext_lazy(
        "The notes the organiser's staff wrote for themselves when they took a claim back, "
        "sent it again or granted it to you: each such step is listed, with the reason you were "
        "given."
    ),
    gettext_lazy(
        "The credentials of your connected accounts: Pipedream holds them, never this site."
    ),
    gettext_lazy(
        "What BitBadges answered when you signed in with it, beyond your address: the site "
        "keeps no BitBadges token."
    ),
    gettext_lazy(
        "After you delete your account, the claims ledger keeps its rows without your name, "
        "emails or address, with one exception: a claim delivered to you keeps the BitBadges "
        "address it went to (bb1 spelling) and the account that earned it (e.g. github:name), "
        "so that neither can earn that claim again through a new account."
    ),
]


def _dump(value: Any) -> bytes:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Spec:
    """One model's rows in the file: `fields` as stored, `related` {key: lookup} read
    through a foreign key, `omitted` {field: why it is left out}. Every concrete field
    of the model is in one of them (a test checks it)."""

    model: type[Model]
    fields: tuple[str, ...]
    omitted: dict[str, str]
    related: dict[str, str] = field(default_factory=dict)


YOU = "it is you"
SPECS = {
    "email_addresses": Spec(EmailAddress, ("id", "email", "verified", "primary"), {"user": YOU}),
    "second_factors": Spec(
        Authenticator,
        ("id", "type", "created_at", "last_used_at"),
        {"user": YOU, "data": "the second factor's secret and recovery codes"},
    ),
    # The BitBadges address the member signs in with (allauth's social account, its uid):
    # the address only, never what BitBadges answered (no token is kept anyway).
    "bitbadges_logins": Spec(
        SocialAccount,
        ("id", "provider", "last_login", "date_joined"),
        {
            "user": YOU,
            "extra_data": "what BitBadges answered at sign-in; the address is listed, "
            "and no token is kept",
        },
        {"address": "uid"},
    ),
    "connected_accounts": Spec(
        ConnectedAccount,
        (
            "id",
            "name",
            "pipedream_id",
            "healthy",
            "dead",
            "error",
            "upstream_created_at",
            "upstream_updated_at",
            "last_synced_at",
            "created_at",
            "updated_at",
        ),
        {"member": YOU},
        {"app_slug": "app__slug", "app_name": "app__name"},
    ),
    "replaced_accounts": Spec(
        ReplacedAccount,
        ("id", "pipedream_id", "error", "attempts", "created_at", "last_tried_at"),
        {"member": YOU},
    ),
    "connect_sessions": Spec(
        ConnectSession,
        (
            "id",
            "public_id",
            "mode",
            "status",
            "reconnect_account",
            "account",
            "error",
            "return_path",
            "expires_at",
            "created_at",
            "completed_at",
        ),
        {"member": YOU, "token_digest": "a digest of a Connect token"},
        {"app_slug": "app__slug"},
    ),
    "connection_webhooks": Spec(
        WebhookEvent,
        (
            "id",
            "session",
            "event",
            "outcome",
            "detail",
            "content_type",
            "body_size",
            "received_at",
            "processed_at",
        ),
        {
            "body": "Pipedream's raw body carries a Connect token",
            "body_digest": "a digest of that body",
        },
    ),
    "completions": Spec(
        Completion,
        (
            "id",
            "state",
            "reason",
            "evidence",
            "address",
            "address_proven",
            "address_key",
            "upstream_identity",
            "delivery_reference",
            "staff_granted",
            "attempts",
            "rechecks",
            "outcome_unknown",
            "resend_approved",
            "last_attempt_at",
            "next_attempt_at",
            "recheck_at",
            "paused_at",
            "completed_at",
            "created_at",
            "updated_at",
        ),
        {
            "member": YOU,
            "lease_token": "a worker's lock",
            "lease_expires_at": "a worker's lock",
        },
        {"claim_slug": "claim__slug", "claim_name": "claim__name"},
    ),
    "completion_events": Spec(
        CompletionEvent,
        (
            "id",
            "completion",
            "at",
            "from_state",
            "to_state",
            "reason",
            "details",
            "actor_kind",
            "actor_detail",
            "actor",
        ),
        {},
        {"claim_slug": "completion__claim__slug"},
    ),
    "trigger_deployments": Spec(
        TriggerDeployment,
        (
            "id",
            "status",
            "error",
            "account",
            "account_pipedream_id",
            "pipedream_id",
            "events",
            "created_at",
            "deploy_started_at",
            "last_event_at",
        ),
        {
            "member": YOU,
            "site_account": "only the site's own deployments have one",
            "signing_key_encrypted": "the trigger's signing key",
            "events_cursor": "where the site stopped reading the trigger's events",
        },
        {"claim_slug": "claim__slug"},
    ),
    "trigger_deliveries": Spec(
        TriggerDelivery,
        (
            "id",
            "deployment",
            "event_id",
            "outcome",
            "body_digest",
            "body_size",
            "received_at",
        ),
        {
            "headers": "request headers, kept for the admin when a signature failed",
            "body": "the raw event can be about other people (a stargazer, a message's author)",
            "detail": "the site's note names whom the events were about: other people too",
        },
    ),
    "staff_try_it": Spec(
        ClaimJob,
        ("id", "kind", "state", "result", "created_at", "started_at", "finished_at"),
        {
            "member": YOU,
            "requested_by": "the staff user who asked",
            **{
                name: "the job's own bookkeeping"
                for name in (
                    "show_values",
                    "total",
                    "done",
                    "counts",
                    "requirements",
                    "reasons",
                    "try_requirement",
                    "error",
                    "heartbeat_at",
                )
            },
        },
        {"claim_slug": "claim__slug"},
    ),
    "staff_dry_runs": Spec(
        DryRunRow,
        ("id", "job", "outcome", "note", "value_note"),
        {"member": YOU},
        {"claim_slug": "job__claim__slug", "checked_at": "job__created_at"},
    ),
    "email_choices": Spec(
        Preference, ("id", "badge_earned", "account_broken", "updated_at"), {"member": YOU}
    ),
    "emails_sent": Spec(
        Notification,
        (
            "id",
            "kind",
            "state",
            "reason",
            "completion",
            "pipedream_id",
            "created_at",
            "send_after",
            "sent_at",
            "resolved_at",
            "attempts",
        ),
        {
            "member": YOU,
            "key": "the site's own key against sending twice",
            "account": "connected_accounts lists it (pipedream_id names it here)",
            "batch": "the sending worker's mark",
            "taken_at": "the sending worker's mark",
        },
    ),
    # What staff changed in the member's record through the admin (not who did it).
    "admin_history": Spec(
        LogEntry,
        ("id", "action_time", "action_flag", "object_repr", "change_message"),
        {
            "user": "the staff user who made the change is theirs to know",
            "content_type": "it is your record",
            "object_id": "it is your record",
        },
    ),
}
# The member's record: every concrete field of the user model but these.
MEMBER_OMITTED = {"password": "only a one-way hash of it is kept"}
# Keys of a ledger event's details left out: a staff member's own reason for a revoke,
# re-issue or grant, written under "members do not see it" (claims/admin/life_actions.py).
STAFF_ONLY_DETAILS = ("staff_reason",)


def _rows(name: str, member) -> Iterator[dict[str, Any]]:
    """The section's rows of `member`, one query, CHUNK rows per fetch."""
    spec = SPECS[name]
    queryset = spec.model._default_manager.filter(_whose(name, member)).order_by("pk")
    lookups = {key: F(path) for key, path in spec.related.items()}
    for row in queryset.values(*spec.fields, **lookups).iterator(chunk_size=CHUNK):
        if "actor" in row:  # a staff user's id is theirs: say only whether it was you
            row["by_you"] = row.pop("actor") == member.pk
        if isinstance(row.get("details"), dict):
            for key in STAFF_ONLY_DETAILS:
                row["details"].pop(key, None)
        yield row


def _whose(name: str, member) -> Q:
    return {
        "email_addresses": Q(user=member),
        "second_factors": Q(user=member),
        "bitbadges_logins": Q(user=member),
        "connection_webhooks": Q(session__member=member),
        "completion_events": Q(completion__member=member),
        "trigger_deliveries": Q(deployment__member=member),
        "admin_history": Q(
            content_type__app_label=member._meta.app_label,
            content_type__model=member._meta.model_name,
            object_id=str(member.pk),
        ),
    }.get(name, Q(member=member))


def _member(member) -> dict[str, Any]:
    record = {
        concrete.name: concrete.value_from_object(member)
        for concrete in member._meta.concrete_fields
        if concrete.name not in MEMBER_OMITTED
    }
    # Whether a second factor is on (recovery codes alone are not one); second_factors
    # says which and since when.
    record["second_factor_on"] = (
        Authenticator.objects.filter(user=member)
        .exclude(type=Authenticator.Type.RECOVERY_CODES)
        .exists()
    )
    # address_proven_at is the time; whether it still proves the address, said plainly.
    record["address_proven"] = member.address_proven
    record["groups"] = sorted(member.groups.values_list("name", flat=True))
    record["permissions"] = sorted(
        f"{app}.{codename}"
        for app, codename in member.user_permissions.values_list(
            "content_type__app_label", "codename"
        )
    )
    return record


def _staff_work(member) -> dict[str, int]:
    """How much the member did as staff; the rows themselves are about others."""
    others = ~Q(completion__member=member) | Q(completion__member__isnull=True)
    return {
        "admin_changes": LogEntry.objects.filter(user=member).count(),
        "claim_rule_changes": ClaimRuleChange.objects.filter(actor=member).count(),
        "checks_requested": ClaimJob.objects.filter(requested_by=member).count(),
        "ledger_events_on_others": CompletionEvent.objects.filter(others, actor=member).count(),
    }


# The file's sections in order: a dict, or a list of rows (SPECS).
SECTIONS: list[tuple[str, Callable[[Any], Any]]] = [
    ("member", _member),
    *((name, partial(_rows, name)) for name in SPECS),
    ("staff_work", _staff_work),
]


def _write_list(out: IO[bytes], items: Iterable[Any]) -> None:
    out.write(b"[")
    for index, item in enumerate(items):
        out.write(b",\n" if index else b"\n")
        out.write(_dump(item))
    out.write(b"]")


def write(member, out: IO[bytes]) -> None:
    """The member's file, written to `out` a row at a time."""
    out.write(b"{")
    header = {"format": FORMAT, "version": VERSION, "generated_at": timezone.now()}
    for key, value in header.items():
        out.write(_dump(key) + b": " + _dump(value) + b",\n")
    for key, section in SECTIONS:
        out.write(_dump(key) + b": ")
        value = section(member)
        if isinstance(value, dict):
            out.write(_dump(value))
        else:
            _write_list(out, value)
        out.write(b",\n")
    out.write(_dump("not_included") + b": " + _dump(NOT_INCLUDED) + b"}\n")


def export(member) -> IO[bytes]:
    """The member's file, rewound: in memory up to SPOOL_BYTES, then on disk."""
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (returned)
    try:
        write(member, out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def filename(member) -> str:
    """connect-and-claim-<username>-<date>.json, with only safe characters."""
    safe = "".join(
        c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in member.get_username()
    )
    return f"connect-and-claim-{safe}-{timezone.localdate():%Y-%m-%d}.json"

"""Members' connected accounts: recorded as Pipedream describes them, kept in line with
Pipedream by a sync, disconnected at Pipedream first. Sends the signals in
connections.signals on commit.

A reconnect never breeds a second account. Pipedream documents `accountId` for the
iframe only; a Connect Link (or emailed link) may connect a new upstream account
instead of refreshing the old one. A new account that a reconnect of the member's
account produced (same member, same app, no different name) takes the old one's place:
the row, and everything that points at it, stays; it names the new Pipedream account,
and the old one is deleted at Pipedream as a duplicate.
"""

import datetime
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from connections import pipedream, signals
from connections.models import App, ConnectedAccount, ConnectSession, ReplacedAccount
from connections.services.apps import app_upsert_from_pipedream, upstream_text
from connections.services.errors import (
    AccountNotFound,
    ForeignAccount,
    attempt_count,
    upstream_failed,
)

logger = logging.getLogger(__name__)


def _parse_time(value) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def account_fields(data: dict, now: datetime.datetime) -> dict:
    """Our ConnectedAccount fields from a Pipedream Account object (docs §3)."""
    return {
        "name": upstream_text(data.get("name"), 255),
        # `healthy` is documented as a bool; a missing one is not a reason to alarm.
        "healthy": data.get("healthy") is not False,
        "dead": bool(data.get("dead")),
        "error": upstream_text(data.get("error")),
        "upstream_created_at": _parse_time(data.get("created_at")),
        "upstream_updated_at": _parse_time(data.get("updated_at")),
        "last_synced_at": now,
    }


def _health_of(fields: dict) -> str:
    return ConnectedAccount.health_of(healthy=fields["healthy"], dead=fields["dead"])


def _send_on_commit(signal, **kwargs) -> None:
    """Send `signal` once the transaction has committed, to every receiver: one that
    raises is logged and never stops the others, the callbacks after it (the rest of a
    sync's signals) or the caller, whose rows are written already."""
    transaction.on_commit(functools.partial(_send_robust, signal, kwargs))


def _send_robust(signal, kwargs: dict) -> None:
    for receiver, answer in signal.send_robust(sender=ConnectedAccount, **kwargs):
        if isinstance(answer, Exception):
            account = kwargs.get("account")
            logger.error(
                "Account %s: a receiver of %s failed",
                getattr(account, "pk", kwargs.get("pipedream_id")),
                _signal_name(signal),
                exc_info=answer,
                extra={"receiver": repr(receiver)},
            )


def _signal_name(signal) -> str:
    names = [name for name, value in vars(signals).items() if value is signal]
    return names[0] if names else repr(signal)


def app_for_account(data: dict, known: App | None = None) -> App:
    """The app of Pipedream's account `data`: `known` (the session's app, read already)
    when it is that app, else from the database (recorded when new)."""
    app_data = data.get("app")
    if not isinstance(app_data, dict) or not app_data.get("name_slug"):
        raise pipedream.InvalidResponse(
            "the account has no app with a name_slug", operation="read an account"
        )
    if known is not None and known.slug == app_data["name_slug"]:
        return known
    try:
        return App.objects.get(slug=app_data["name_slug"])
    except App.DoesNotExist:
        # An app the admin never enabled: recorded, but not offered to members.
        return app_upsert_from_pipedream(data=app_data)[0]


# How far Pipedream's clock may lag ours when a new account is matched to the reconnect
# that produced it (an account older than the reconnect is not its result).
RECONNECT_CLOCK_SLACK = datetime.timedelta(minutes=5)


def _reconnect_replaced(
    *, member, app: App, data: dict, session: ConnectSession | None
) -> ConnectedAccount | None:
    """The member's account that the new upstream account `data` is a reconnect of, or None.

    The reconnect is `session` when given, else the member's latest open reconnect of the
    app (a sync that sees the new account before the webhook or the redirect does). The
    upstream identity must agree: the same member (external user) and app, and names
    that do not differ when both are set. Another login is another account.
    """
    if session is not None:
        candidates = [session] if session.reconnect_account_id else []
    else:
        candidates = list(
            ConnectSession.objects.filter(
                member=member,
                app=app,
                status=ConnectSession.Status.ISSUED,
                reconnect_account__isnull=False,
                expires_at__gt=timezone.now(),
            ).order_by("-created_at")[:1]
        )
    for reconnect in candidates:
        if reconnect.reconnect_account_id is None:
            continue
        old = (
            ConnectedAccount.objects.select_for_update()
            .filter(pk=reconnect.reconnect_account_id, member=member, app=app)
            .exclude(pipedream_id=data["id"])
            .first()
        )
        if old is None:
            continue
        created = _parse_time(data.get("created_at"))
        if created is not None and created < reconnect.created_at - RECONNECT_CLOCK_SLACK:
            continue  # older than the reconnect: not what it produced
        name = upstream_text(data.get("name"), 255)
        if old.name and name and old.name != name:
            continue  # another upstream login: a second account, not a reconnect
        return old
    return None


def _duplicate_delete(pipedream_id: str, member) -> bool:
    """Delete at Pipedream the account a reconnect replaced (after commit). When Pipedream
    does not, it is kept as a ReplacedAccount: syncs skip it, and `replaced_accounts_delete`
    (the health poll) tries again. True once it is gone."""
    try:
        pipedream.get_client().delete_account(pipedream_id)
    except pipedream.NotFound:
        pass
    except pipedream.PipedreamError as exc:
        logger.warning(
            "Account %s of member %s was replaced by a reconnect but not deleted at Pipedream "
            "(kept to try again): %s",
            pipedream_id,
            member.pk,
            exc,
        )
        row, created = ReplacedAccount.objects.get_or_create(
            pipedream_id=pipedream_id, defaults={"member": member, "error": str(exc)[:1000]}
        )
        if not created:
            ReplacedAccount.objects.filter(pk=row.pk).update(
                error=str(exc)[:1000], attempts=F("attempts") + 1, last_tried_at=timezone.now()
            )
        return False
    ReplacedAccount.objects.filter(pipedream_id=pipedream_id).delete()
    logger.info("Account %s of member %s replaced by a reconnect: deleted", pipedream_id, member.pk)
    return True


def replaced_accounts_delete(limit: int | None = None) -> int:
    """Try again to delete at Pipedream the accounts reconnects replaced; how many went."""
    rows = ReplacedAccount.objects.select_related("member").order_by("last_tried_at")
    return sum(_duplicate_delete(row.pipedream_id, row.member) for row in rows[: limit or None])


def _account_upsert(
    *, member, data: dict, now, session: ConnectSession | None = None, replaced: list | None = None
) -> tuple[ConnectedAccount, bool, str | None]:
    """Create or refresh the member's account from Pipedream's data, inside a transaction.

    Returns (account, created, previous health when it changed). Sends
    account_health_changed on commit. ForeignAccount when another member holds the id.
    A new account that a reconnect produced takes over the reconnected row (see the
    module's docstring); the replaced Pipedream id is appended to `replaced`.
    """
    fields = account_fields(data, now)
    # A session's app row is read with the session (the webhook's task): not read again.
    known = session.app if session is not None and ConnectSession.app.is_cached(session) else None
    app = app_for_account(data, known)
    # The id is unique: no ordering, whose join would lock the app's row too.
    locked = ConnectedAccount.objects.select_for_update().filter(pipedream_id=data["id"])
    account = next(iter(locked.order_by()[:1]), None)
    if account is None and ReplacedAccount.objects.filter(pipedream_id=data["id"]).exists():
        # A reconnect replaced it and Pipedream has not deleted it yet (a late webhook or
        # redirect naming it): never a second account.
        raise ForeignAccount(
            _("That account was replaced when you reconnected it: the reconnected one is kept.")
        )
    if account is None and (
        old := _reconnect_replaced(member=member, app=app, data=data, session=session)
    ):
        old_id, account = old.pipedream_id, old
        account.pipedream_id = data["id"]
        if replaced is not None:
            replaced.append(old_id)
        transaction.on_commit(functools.partial(_duplicate_delete, old_id, member))
        logger.info("Account %s of member %s reconnected as %s", old_id, member.pk, data["id"])
    if account is None:
        try:
            with transaction.atomic():
                account = ConnectedAccount.objects.create(
                    member=member, app=app, pipedream_id=data["id"], **fields
                )
            return account, True, None
        except IntegrityError:
            # Recorded at this very moment by another request (the webhook and the
            # browser race): take that row.
            account = ConnectedAccount.objects.select_for_update().get(pipedream_id=data["id"])
    if account.member_id != member.pk:
        logger.warning(
            "Account %s belongs to member %s, not %s: refused",
            data["id"],
            account.member_id,
            member.pk,
        )
        raise ForeignAccount()
    previous = account.health
    for name, value in {**fields, "app_id": app.pk}.items():
        setattr(account, name, value)
    account.save()
    current = account.health
    if current != previous:
        signals.account_health_changing.send(
            sender=ConnectedAccount,
            account=account,
            member=member,
            previous=str(previous),
            current=str(current),
        )
        _send_on_commit(
            signals.account_health_changed,
            account=account,
            member=member,
            previous=str(previous),
            current=str(current),
        )
        return account, False, previous
    return account, False, None


def account_record(
    *,
    member,
    pipedream_id: str,
    session: ConnectSession | None = None,
    listed: dict | None = None,
) -> ConnectedAccount:
    """Record an account the member says they connected, as Pipedream describes it
    (account_record_connecting, without saying whether this call connected `session`)."""
    return account_record_connecting(
        member=member, pipedream_id=pipedream_id, session=session, listed=listed
    )[0]


def account_record_connecting(
    *,
    member,
    pipedream_id: str,
    session: ConnectSession | None = None,
    listed: dict | None = None,
    on_tied: Callable[[ConnectedAccount], object] | None = None,
) -> tuple[ConnectedAccount, bool]:
    """Record an account the member says they connected, as Pipedream describes it; and
    whether this very call tied `session` to it (under the session's row lock: of two
    calls racing for one session, one only). `on_tied(account)` runs when it does, in
    the same transaction, while that lock is held.

    The id comes from the browser or a webhook, so it is only a hint: the account is
    fetched with the server's credentials and must belong to this member's external
    user. `listed` is the account as the member's own list gave it a moment ago (a sync,
    asked with the server's credentials for this external user): then nothing is asked
    again. Recording the same account again changes nothing but its fields.
    """
    if session is not None and session.member_id != member.pk:
        raise ValueError("The session belongs to another member")
    if listed is not None and listed.get("id") == pipedream_id:
        # Listed for this external user: a missing external_id is theirs; another is not.
        data = {"external_id": str(member.external_id), **listed}
    else:
        try:
            data = pipedream.get_client().get_account(pipedream_id)
        except pipedream.NotFound:
            raise AccountNotFound() from None
        except pipedream.PipedreamError as exc:
            raise upstream_failed(exc, f"get account {pipedream_id}") from exc
    if data.get("external_id") != str(member.external_id):
        logger.warning(
            "Account %s is not member %s's external user: refused", pipedream_id, member.pk
        )
        raise ForeignAccount()
    data = {**data, "id": pipedream_id}
    now = timezone.now()
    with transaction.atomic():
        try:
            account, created, _ = _account_upsert(
                member=member, data=data, now=now, session=session
            )
        except pipedream.InvalidResponse as exc:
            raise upstream_failed(exc, f"read account {pipedream_id}") from exc
        newly_connected = created
        connected_session = False
        if session is not None:
            # One UPDATE, unless the session is tied to this account already: it takes
            # the session's row lock, and a call racing this one waits for our commit,
            # then finds the session tied and changes nothing.
            connected = ConnectSession.Status.CONNECTED
            tied = (
                ConnectSession.objects.filter(pk=session.pk)
                .exclude(status=connected, account=account)
                .update(status=connected, account=account, error="", completed_at=now)
            )
            if tied:
                newly_connected = connected_session = True
                session.status, session.account = connected, account
                session.error, session.completed_at = "", now
                if on_tied is not None:
                    on_tied(account)
        if newly_connected:
            _send_on_commit(
                signals.account_connected,
                account=account,
                member=member,
                created=created,
                session=session,
            )
    logger.info(
        "Account %s %s for member %s",
        pipedream_id,
        "recorded" if created else "refreshed",
        member.pk,
    )
    return account, connected_session


@dataclass
class SyncResult:
    """What a sync found, as lists of Pipedream account ids."""

    created: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    health_changed: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    # Each account of the member's own list, as Pipedream described it (by id).
    listed: dict = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        return (
            f"{len(self.created)} new, {len(self.updated)} updated, "
            f"{len(self.removed)} removed, {len(self.health_changed)} changed health"
        )


_COMPARED = ("name", "healthy", "dead", "error", "upstream_updated_at")


def upstream_accounts(external_user_id: str, *, whose: str) -> list[dict]:
    """Every page of the external user's accounts at Pipedream (those with an id);
    UpstreamError, saying `whose` accounts, when Pipedream fails."""
    try:
        return [
            data
            for data in pipedream.get_client().iter_accounts(external_user_id=external_user_id)
            if isinstance(data, dict) and data.get("id")
        ]
    except pipedream.PipedreamError as exc:
        raise upstream_failed(exc, f"list {whose} accounts") from exc


def accounts_sync(*, member, dry_run: bool = False) -> SyncResult:
    """Make the member's accounts match Pipedream's: every page, upsert, remove the gone.

    `dry_run` computes the same result without writing or signalling anything.
    """
    external_id = str(member.external_id)
    upstream = upstream_accounts(external_id, whose=f"member {member.pk}'s")
    result = SyncResult()
    now = timezone.now()
    local = {
        a.pipedream_id: a
        for a in ConnectedAccount.objects.filter(member=member).select_related("app")
    }
    others = set(
        ConnectedAccount.objects.filter(pipedream_id__in=[d["id"] for d in upstream])
        .exclude(member=member)
        .values_list("pipedream_id", flat=True)
    )
    # Replaced by a reconnect, and not yet deleted at Pipedream: never a second account.
    others |= set(
        ReplacedAccount.objects.filter(pipedream_id__in=[d["id"] for d in upstream]).values_list(
            "pipedream_id", flat=True
        )
    )
    wanted = []
    for data in upstream:
        pid = data["id"]
        if data.get("external_id") not in (None, external_id) or pid in others:
            result.skipped.append(pid)  # never someone else's account
            continue
        wanted.append(data)
        result.listed[pid] = data
        account = local.get(pid)
        if account is None:
            result.created.append(pid)
            continue
        fields = account_fields(data, now)
        if any(getattr(account, name) != fields[name] for name in _COMPARED):
            result.updated.append(pid)
        if account.health != _health_of(fields):
            result.health_changed.append(pid)
    seen = {data["id"] for data in wanted} | set(result.skipped)
    result.removed = [pid for pid in local if pid not in seen]
    if dry_run:
        return result
    replaced: list[str] = []
    with transaction.atomic():
        # New accounts first: one that a reconnect produced replaces its old account,
        # which is then skipped (it is about to be deleted at Pipedream).
        for data in sorted(wanted, key=lambda d: d["id"] in local):
            if data["id"] in replaced:
                continue
            before = len(replaced)
            try:
                account, created, _ = _account_upsert(
                    member=member, data=data, now=now, replaced=replaced
                )
            except (ForeignAccount, pipedream.InvalidResponse):
                continue
            if len(replaced) > before:
                result.created.remove(data["id"])
                result.updated.append(data["id"])
            if created or len(replaced) > before:
                _send_on_commit(
                    signals.account_connected,
                    account=account,
                    member=member,
                    created=created,
                    session=None,
                )
        for pid in result.removed:
            account = local[pid]
            account.delete()
            _send_on_commit(
                signals.account_disconnected,
                member=member,
                app_slug=account.app.slug,
                pipedream_id=pid,
            )
    if result.created or result.removed or result.health_changed:
        logger.info("Synced member %s's accounts: %s", member.pk, result)
    return result


def account_disconnect(*, member, account: ConnectedAccount, limited: bool = False) -> None:
    """Delete the account at Pipedream, then here; the row stays if Pipedream fails.

    `limited`: the member asked (not the staff), and may do so ACCOUNT_CHANGE_RATE_LIMIT
    times per window: past it, TooManyAttempts and Pipedream is not called (while it
    fails, each try would call it again, with retries)."""
    if account.member_id != member.pk:
        raise ConnectedAccount.DoesNotExist("That account is not this member's")
    if limited:
        attempt_count(
            "account-disconnect",
            member.pk,
            setting="ACCOUNT_CHANGE_RATE_LIMIT",
            doing="tried to disconnect accounts too often",
        )
    try:
        pipedream.get_client().delete_account(account.pipedream_id)
    except pipedream.NotFound:
        pass  # already gone upstream: deleting here is all that is left
    except pipedream.PipedreamError as exc:
        raise upstream_failed(exc, f"delete account {account.pipedream_id}") from exc
    app_slug, pipedream_id = account.app.slug, account.pipedream_id
    with transaction.atomic():
        ConnectedAccount.objects.filter(pk=account.pk).delete()
        _send_on_commit(
            signals.account_disconnected,
            member=member,
            app_slug=app_slug,
            pipedream_id=pipedream_id,
        )
    logger.info("Account %s of member %s disconnected", pipedream_id, member.pk)

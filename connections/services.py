"""Writes for Pipedream Connect: everything that changes what the site knows."""

import datetime
import functools
import hashlib
import logging
import math
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin, urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from connections import pipedream, references, signals
from connections.models import App, ConnectedAccount, ConnectSession
from core import ratelimit
from users.selectors import member_email_state

logger = logging.getLogger(__name__)


def app_fields_from_pipedream(data: dict) -> dict:
    """Our App fields from a Pipedream App object (docs §3 'App object')."""
    auth_type = data.get("auth_type") or App.AuthType.NONE
    if auth_type not in App.AuthType.values:
        auth_type = App.AuthType.NONE
    image = str(data.get("img_src") or "").strip()
    if image and not image.startswith(("http://", "https://")):
        image = urljoin(settings.PUBLIC_URL + "/", image)
    if not image.startswith(("http://", "https://")):
        image = ""  # javascript:, data: and the like are no logo of ours
    return {
        "name": _upstream_text(data.get("name") or data["name_slug"], 200),
        "image_url": image[:500],
        "description": _upstream_text(data.get("description")),
        "auth_type": auth_type,
    }


@transaction.atomic
def app_upsert_from_pipedream(
    *, data: dict, enabled: bool | None = None, order: int | None = None
) -> tuple[App, bool]:
    """Create or refresh an App from Pipedream's catalogue; the admin's choices stay.

    `enabled` and `order` apply only when given (seeding); a sync never flips them.
    """
    wanted = app_fields_from_pipedream(data)
    wanted.update({k: v for k, v in (("enabled", enabled), ("order", order)) if v is not None})
    app, created = App.objects.select_for_update().get_or_create(
        slug=data["name_slug"], defaults=wanted
    )
    if not created:
        changed = [name for name, value in wanted.items() if getattr(app, name) != value]
        for name in changed:
            setattr(app, name, wanted[name])
        if changed:
            app.save(update_fields=[*changed, "updated_at"])
    return app, created


# --- Errors a member can act on ----------------------------------------------------


class ConnectError(Exception):
    """Connecting or changing an account failed; `str(exc)` is a sentence for the member."""


class AppNotAvailable(ConnectError):
    def __init__(self, message: str = "") -> None:
        super().__init__(message or "This app is not available to connect on this site.")


class TooManyAttempts(ConnectError):
    def __init__(self, *, retry_after: int) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(
            "You have started too many connections in a short time. "
            f"Try again in {self.retry_after} seconds."
        )


class ForeignAccount(ConnectError):
    def __init__(self, message: str = "") -> None:
        super().__init__(
            message or "That account was connected by someone else, so it cannot be added to yours."
        )


class AccountNotFound(ConnectError):
    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "Pipedream has no such account. It may have been removed; try connecting again."
        )


class UpstreamError(ConnectError):
    """Pipedream failed; `cause` is the PipedreamError (for logs and admins, not members)."""

    def __init__(self, cause: pipedream.PipedreamError) -> None:
        self.cause = cause
        super().__init__(self._sentence(cause))

    @staticmethod
    def _sentence(cause: pipedream.PipedreamError) -> str:
        if isinstance(cause, pipedream.RateLimited):
            wait = f"{math.ceil(cause.retry_after)} seconds" if cause.retry_after else "a minute"
            return f"Pipedream is busy right now. Nothing was changed; try again in {wait}."
        if isinstance(cause, pipedream.Unauthorized | pipedream.NotConfigured):
            return (
                "This site could not sign in to Pipedream. Nothing was changed; "
                "please tell the site's administrators."
            )
        if isinstance(cause, pipedream.Unavailable | pipedream.InvalidResponse):
            return (
                "Pipedream is not answering right now. Nothing was changed; try again in a minute."
            )
        return (
            "Pipedream refused the request. Nothing was changed; try again, and tell the "
            "site's administrators if it keeps happening."
        )


class EmailNotVerified(ConnectError):
    """The member has no verified email address: no Connect token until they confirm one."""

    def __init__(self, *, pending_email: str = "") -> None:
        self.pending_email = pending_email
        if pending_email:
            message = (
                "Confirm your email address first: we sent a link to "
                f"{pending_email}. Open it, then connect your account."
            )
        else:
            message = (
                "Add an email address and confirm it first (on your email page), "
                "then connect your account."
            )
        super().__init__(message)


class LinkExpired(ConnectError):
    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "This link has expired. Ask for a new one, or connect from your account page."
        )


class LinkInvalid(ConnectError):
    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "This link is not valid. Check that you copied all of it, or ask for a new one."
        )


def _upstream(exc: pipedream.PipedreamError, doing: str) -> UpstreamError:
    logger.warning("Pipedream failed while trying to %s: %s", doing, exc)
    return UpstreamError(exc)


# --- Connect sessions ----------------------------------------------------------------


def token_digest(token: str) -> str:
    """What we keep of a Connect token: enough to recognise it, useless to replay."""
    return hashlib.sha256(token.encode()).hexdigest()


def _public_origin() -> str:
    parts = urlsplit(settings.PUBLIC_URL)
    return f"{parts.scheme}://{parts.netloc}"


def _rate_limit() -> tuple[int, int]:
    limit, window = getattr(settings, "CONNECT_TOKEN_RATE_LIMIT", (10, 60))
    return int(limit), int(window)


def _rate_limit_hit(member) -> None:
    """Count one mint for `member`; TooManyAttempts past the limit (a fixed window)."""
    limit, window = _rate_limit()
    retry_after = ratelimit.hit("connect-token", member.pk, limit=limit, window=window)
    if retry_after is not None:
        raise TooManyAttempts(retry_after=retry_after)


def session_reference(session: ConnectSession) -> str:
    return references.session_reference_make(session.public_id)


def connect_session_for_reference(reference: str) -> ConnectSession | None:
    """The session a signed reference names; None when bad, expired or tampered."""
    public_id = references.session_reference_read(reference)
    if public_id is None:
        return None
    return (
        ConnectSession.objects.select_related("member", "app", "account")
        .filter(public_id=public_id)
        .first()
    )


def connect_session_start(
    *, member, app: App, mode: str, reconnect_account: ConnectedAccount | None = None
) -> tuple[ConnectSession, pipedream.ConnectToken]:
    """Mint a Connect token for `member` and `app`; record the session once it exists.

    Nothing is written when Pipedream fails. The token goes back to the caller (the
    member's browser needs it) but only its digest is stored. A member without a
    verified email address gets EmailNotVerified (every way of connecting comes here).
    """
    if mode not in ConnectSession.Mode.values:
        raise ValueError(f"Unknown connect mode {mode!r}")
    if not app.enabled:
        raise AppNotAvailable()
    if reconnect_account is not None and (
        reconnect_account.member_id != member.pk or reconnect_account.app_id != app.pk
    ):
        raise AppNotAvailable("That account cannot be reconnected from here.")
    email = member_email_state(member=member)
    if not email.verified:
        raise EmailNotVerified(pending_email=email.pending)
    _rate_limit_hit(member)
    public_id = uuid.uuid4()
    query = {"s": references.session_reference_make(public_id)}
    base = settings.PUBLIC_URL
    try:
        token = pipedream.get_client().create_connect_token(
            external_user_id=str(member.external_id),
            allowed_origins=[_public_origin()],
            success_redirect_uri=f"{base}/connect/done/?{urlencode({**query, 'result': 'success'})}",
            error_redirect_uri=f"{base}/connect/done/?{urlencode({**query, 'result': 'error'})}",
            webhook_uri=f"{base}/connect/webhook/?{urlencode(query)}",
        )
    except pipedream.PipedreamError as exc:
        raise _upstream(exc, f"create a Connect token for {app.slug}") from exc
    # One INSERT, atomic by itself (no BEGIN and COMMIT round trips around it).
    session = ConnectSession.objects.create(
        public_id=public_id,
        member=member,
        app=app,
        mode=mode,
        token_digest=token_digest(token.token),
        reconnect_account=reconnect_account,
        expires_at=token.expires_at,
    )
    logger.info("Connect session %s started (%s, %s)", public_id, app.slug, mode)
    return session, token


def connect_link_for(
    *,
    token: pipedream.ConnectToken,
    app: App,
    reconnect_account: ConnectedAccount | None = None,
) -> str:
    """Pipedream's hosted Connect Link page for this token and app."""
    return pipedream.connect_link_url(
        token.connect_link_url,
        app=app.slug,
        oauth_app_id=app.oauth_app_id or None,
        account_id=reconnect_account.pipedream_id if reconnect_account else None,
    )


def iframe_url_for(
    *,
    token: pipedream.ConnectToken,
    app: App,
    reconnect_account: ConnectedAccount | None = None,
) -> str:
    """The page the browser SDK would frame (no connectLink: the answer is a postMessage)."""
    query = {"token": token.token, "app": app.slug}
    if app.oauth_app_id:
        query["oauthAppId"] = app.oauth_app_id
    if reconnect_account is not None:
        query["accountId"] = reconnect_account.pipedream_id
    return f"{settings.PIPEDREAM_CONNECT_URL}/_static/connect.html?{urlencode(query)}"


def connect_session_fail(*, session: ConnectSession, error: str) -> None:
    """Mark an issued session failed with Pipedream's reason (a settled one stays)."""
    now = timezone.now()
    with transaction.atomic():
        changed = ConnectSession.objects.filter(
            pk=session.pk, status=ConnectSession.Status.ISSUED
        ).update(status=ConnectSession.Status.FAILED, error=error[:2000], completed_at=now)
    if changed:
        session.status, session.error, session.completed_at = (
            ConnectSession.Status.FAILED,
            error[:2000],
            now,
        )


def connect_sessions_expire() -> int:
    """Mark issued sessions whose Connect token has expired; returns how many."""
    with transaction.atomic():
        return ConnectSession.objects.filter(
            status=ConnectSession.Status.ISSUED, expires_at__lte=timezone.now()
        ).update(status=ConnectSession.Status.EXPIRED)


# --- Accounts ------------------------------------------------------------------------


def _parse_time(value) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def _upstream_text(value, limit: int | None = None) -> str:
    """A text from upstream as a text column takes it: a string (whatever JSON type came),
    with NUL, which PostgreSQL refuses, replaced."""
    text = value if isinstance(value, str) else str(value or "")
    return text.replace("\x00", "\ufffd")[:limit]


def _account_fields(data: dict, now: datetime.datetime) -> dict:
    """Our ConnectedAccount fields from a Pipedream Account object (docs §3)."""
    return {
        "name": _upstream_text(data.get("name"), 255),
        # `healthy` is documented as a bool; a missing one is not a reason to alarm.
        "healthy": data.get("healthy") is not False,
        "dead": bool(data.get("dead")),
        "error": _upstream_text(data.get("error")),
        "upstream_created_at": _parse_time(data.get("created_at")),
        "upstream_updated_at": _parse_time(data.get("updated_at")),
        "last_synced_at": now,
    }


def _health_of(fields: dict) -> str:
    if fields["dead"]:
        return ConnectedAccount.Health.DEAD
    return (
        ConnectedAccount.Health.HEALTHY if fields["healthy"] else ConnectedAccount.Health.UNHEALTHY
    )


def _send_on_commit(signal, **kwargs) -> None:
    transaction.on_commit(functools.partial(signal.send, sender=ConnectedAccount, **kwargs))


def _app_for_account(data: dict) -> App:
    app_data = data.get("app")
    if not isinstance(app_data, dict) or not app_data.get("name_slug"):
        raise pipedream.InvalidResponse(
            "the account has no app with a name_slug", operation="read an account"
        )
    try:
        return App.objects.get(slug=app_data["name_slug"])
    except App.DoesNotExist:
        # An app the admin never enabled: recorded, but not offered to members.
        return app_upsert_from_pipedream(data=app_data)[0]


def _account_upsert(*, member, data: dict, now) -> tuple[ConnectedAccount, bool, str | None]:
    """Create or refresh the member's account from Pipedream's data, inside a transaction.

    Returns (account, created, previous health when it changed). Sends
    account_health_changed on commit. ForeignAccount when another member holds the id.
    """
    fields = _account_fields(data, now)
    app = _app_for_account(data)
    account = ConnectedAccount.objects.select_for_update().filter(pipedream_id=data["id"]).first()
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
    *, member, pipedream_id: str, session: ConnectSession | None = None
) -> ConnectedAccount:
    """Record an account the member says they connected, as Pipedream describes it.

    The id comes from the browser or a webhook, so it is only a hint: the account is
    fetched with the server's credentials and must belong to this member's external
    user. Recording the same account again changes nothing but its fields.
    """
    if session is not None and session.member_id != member.pk:
        raise ValueError("The session belongs to another member")
    try:
        data = pipedream.get_client().get_account(pipedream_id)
    except pipedream.NotFound:
        raise AccountNotFound() from None
    except pipedream.PipedreamError as exc:
        raise _upstream(exc, f"get account {pipedream_id}") from exc
    if data.get("external_id") != str(member.external_id):
        logger.warning(
            "Account %s is not member %s's external user: refused", pipedream_id, member.pk
        )
        raise ForeignAccount()
    data = {**data, "id": pipedream_id}
    now = timezone.now()
    with transaction.atomic():
        try:
            account, created, _ = _account_upsert(member=member, data=data, now=now)
        except pipedream.InvalidResponse as exc:
            raise _upstream(exc, f"read account {pipedream_id}") from exc
        newly_connected = created
        if session is not None:
            session = ConnectSession.objects.select_for_update().get(pk=session.pk)
            if (
                session.status != ConnectSession.Status.CONNECTED
                or session.account_id != account.pk
            ):
                newly_connected = True
                session.status = ConnectSession.Status.CONNECTED
                session.account = account
                session.error = ""
                session.completed_at = now
                session.save(update_fields=["status", "account", "error", "completed_at"])
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
    return account


@dataclass
class SyncResult:
    """What a sync found, as lists of Pipedream account ids."""

    created: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    health_changed: list = field(default_factory=list)
    skipped: list = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.created)} new, {len(self.updated)} updated, "
            f"{len(self.removed)} removed, {len(self.health_changed)} changed health"
        )


_COMPARED = ("name", "healthy", "dead", "error", "upstream_updated_at")


def accounts_sync(*, member, dry_run: bool = False) -> SyncResult:
    """Make the member's accounts match Pipedream's: every page, upsert, remove the gone.

    `dry_run` computes the same result without writing or signalling anything.
    """
    external_id = str(member.external_id)
    try:
        upstream = [
            data
            for data in pipedream.get_client().iter_accounts(external_user_id=external_id)
            if isinstance(data, dict) and data.get("id")
        ]
    except pipedream.PipedreamError as exc:
        raise _upstream(exc, f"list member {member.pk}'s accounts") from exc
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
    wanted = []
    for data in upstream:
        pid = data["id"]
        if data.get("external_id") not in (None, external_id) or pid in others:
            result.skipped.append(pid)  # never someone else's account
            continue
        wanted.append(data)
        account = local.get(pid)
        if account is None:
            result.created.append(pid)
            continue
        fields = _account_fields(data, now)
        if any(getattr(account, name) != fields[name] for name in _COMPARED):
            result.updated.append(pid)
        if account.health != _health_of(fields):
            result.health_changed.append(pid)
    seen = {data["id"] for data in wanted} | set(result.skipped)
    result.removed = [pid for pid in local if pid not in seen]
    if dry_run:
        return result
    with transaction.atomic():
        for data in wanted:
            try:
                account, created, _ = _account_upsert(member=member, data=data, now=now)
            except (ForeignAccount, pipedream.InvalidResponse):
                continue
            if created:
                _send_on_commit(
                    signals.account_connected,
                    account=account,
                    member=member,
                    created=True,
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


def account_disconnect(*, member, account: ConnectedAccount) -> None:
    """Delete the account at Pipedream, then here; the row stays if Pipedream fails."""
    if account.member_id != member.pk:
        raise ConnectedAccount.DoesNotExist("That account is not this member's")
    try:
        pipedream.get_client().delete_account(account.pipedream_id)
    except pipedream.NotFound:
        pass  # already gone upstream: deleting here is all that is left
    except pipedream.PipedreamError as exc:
        raise _upstream(exc, f"delete account {account.pipedream_id}") from exc
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


# --- Emailed links -------------------------------------------------------------------

EMAILED_LINK_MAX = datetime.timedelta(days=30)


def emailed_link_make(*, member, app: App, expires: datetime.timedelta) -> str:
    """An absolute link of ours that starts a Connect Link flow when opened."""
    if not datetime.timedelta(0) < expires <= EMAILED_LINK_MAX:
        raise ValueError("A link lives between a minute and 30 days")
    signed = references.emailed_link_sign(
        member_pk=member.pk,
        external_id=str(member.external_id),
        app_slug=app.slug,
        expires_at=references._now() + expires,
    )
    return f"{settings.PUBLIC_URL}/connect/l/{signed}/"


def emailed_link_open(signed: str) -> tuple:
    """(member, app) for a link made by emailed_link_make; LinkExpired / LinkInvalid."""
    try:
        payload = references.emailed_link_read(signed)
    except references.EmailedLinkExpired:
        raise LinkExpired() from None
    except references.EmailedLinkInvalid:
        raise LinkInvalid() from None
    member = (
        get_user_model()
        .objects.filter(pk=payload["member_pk"], external_id=payload["external_id"], is_active=True)
        .first()
    )
    if member is None:
        raise LinkInvalid("This link's account no longer exists on this site.")
    app = App.objects.enabled().filter(slug=payload["app_slug"]).first()
    if app is None:
        raise LinkInvalid("This app can no longer be connected on this site.")
    return member, app

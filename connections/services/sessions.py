"""Connect sessions and their tokens: minted for a member and an app, found again by
their signed reference, then failed or expired (connected is the accounts' business)."""

import hashlib
import logging
import uuid
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from connections import pipedream, references
from connections.models import App, ConnectedAccount, ConnectSession
from connections.services.accounts import account_record
from connections.services.errors import (
    AppNotAvailable,
    EmailNotVerified,
    LinkUsed,
    attempt_count,
    upstream_failed,
)
from users.selectors import member_email_state, member_identity_confirmed
from users.siwbb.config import siwbb_enabled
from users.start_path import claim_path

logger = logging.getLogger(__name__)


def token_digest(token: str) -> str:
    """What we keep of a Connect token: enough to recognise it, useless to replay."""
    return hashlib.sha256(token.encode()).hexdigest()


def _public_origin() -> str:
    parts = urlsplit(settings.PUBLIC_URL)
    return f"{parts.scheme}://{parts.netloc}"


def connect_return_hit(*, member, session: ConnectSession | None = None) -> None:
    """Count one visit to /connect/done/ or /connect/callback/ by `member` (or, with
    `session`, for that session); TooManyAttempts past CONNECT_RETURN_RATE_LIMIT (or
    CONNECT_RETURN_SESSION_RATE_LIMIT)."""
    doing = "come back from Pipedream too often"
    if session is None:
        attempt_count("connect-return", member.pk, setting="CONNECT_RETURN_RATE_LIMIT", doing=doing)
    else:
        attempt_count(
            "connect-return-session",
            session.public_id.hex,
            setting="CONNECT_RETURN_SESSION_RATE_LIMIT",
            doing=doing,
        )


def session_spent(session: ConnectSession) -> bool:
    """True once the session has recorded its account: nothing more to ask Pipedream."""
    return session.status == ConnectSession.Status.CONNECTED and session.account_id is not None


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


def connect_session_for_webhook(reference: str) -> ConnectSession | None:
    """connect_session_for_reference for the webhook: the session's own columns that a
    delivery is checked and stored with, and its account's Pipedream id (as
    `account_pipedream_id`, None without an account), in one query.

    Written as SQL: on the path every delivery takes, the ORM's compiling of this query
    cost more CPU than the rest of reading it (0.7 ms against 0.2 ms here)."""
    public_id = references.session_reference_read(reference)
    if public_id is None:
        return None
    field = ConnectSession._meta.get_field("public_id")
    value = field.get_db_prep_value(public_id, connections[DEFAULT_DB_ALIAS])  # uuid or hex
    return next(iter(ConnectSession.objects.raw(_WEBHOOK_SQL, [value])), None)


def _webhook_sql() -> str:
    session, account = ConnectSession._meta, ConnectedAccount._meta
    # Table names from the models, never from input; the public id is a parameter.
    columns = 's."id", s."member_id", s."token_digest", s."status", s."account_id"'
    joined = f'"{session.db_table}" s LEFT OUTER JOIN "{account.db_table}" a'
    return (
        f'SELECT {columns}, a."pipedream_id" AS "account_pipedream_id" '  # noqa: S608
        f'FROM {joined} ON a."id" = s."account_id" WHERE s."public_id" = %s'
    )


_WEBHOOK_SQL = _webhook_sql()


def connect_session_start(
    *,
    member,
    app: App,
    mode: str,
    reconnect_account: ConnectedAccount | None = None,
    public_id: uuid.UUID | None = None,
    return_path: str = "",
) -> tuple[ConnectSession, pipedream.ConnectToken]:
    """Mint a Connect token for `member` and `app`; record the session once it exists.

    Nothing is written when Pipedream fails. The token goes back to the caller (the
    member's browser needs it) but only its digest is stored. A member with neither a
    confirmed email address nor an address proven by Sign in with BitBadges
    (users.selectors.member_identity_confirmed) gets EmailNotVerified, which asks for the
    email, or for connecting BitBadges when Sign in with BitBadges is on (every way of
    connecting comes here).
    `public_id` is an emailed link's id for this opening (LinkUsed if it was just taken).
    `return_path` is the claim page /connect/done/ returns to; anything but a claim
    landing path (users.start_path.claim_path) is dropped.
    """
    if mode not in ConnectSession.Mode.values:
        raise ValueError(f"Unknown connect mode {mode!r}")
    if not app.enabled:
        raise AppNotAvailable()
    if reconnect_account is not None and (
        reconnect_account.member_id != member.pk or reconnect_account.app_id != app.pk
    ):
        raise AppNotAvailable(_("That account cannot be reconnected from here."))
    if not member_identity_confirmed(member=member):
        raise EmailNotVerified(
            pending_email=member_email_state(member=member).pending, bitbadges=siwbb_enabled()
        )
    attempt_count(
        "connect-token",
        member.pk,
        setting="CONNECT_TOKEN_RATE_LIMIT",
        doing="started too many connections",
    )
    public_id = public_id or uuid.uuid4()
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
        raise upstream_failed(exc, f"create a Connect token for {app.slug}") from exc
    fields = dict(
        public_id=public_id,
        member=member,
        app=app,
        mode=mode,
        token_digest=token_digest(token.token),
        reconnect_account=reconnect_account,
        expires_at=token.expires_at,
        return_path=claim_path(return_path),
    )
    try:
        # One INSERT, atomic by itself (no BEGIN and COMMIT round trips around it); a
        # savepoint only where the id is chosen by an emailed link, so may be taken.
        if mode != ConnectSession.Mode.EMAILED:
            session = ConnectSession.objects.create(**fields)
        else:
            with transaction.atomic():
                session = ConnectSession.objects.create(**fields)
    except IntegrityError:
        if mode != ConnectSession.Mode.EMAILED:
            raise
        raise LinkUsed(
            _("This link was opened in another window just now: use that one.")
        ) from None
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


# What a session that failed without a reason says (the member came back through the
# error redirect, which carries none); Pipedream's CONNECTION_ERROR may fill it in later.
NO_REASON = gettext_noop("The connection was not completed.")  # stored: English


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


def session_account_found(*, member, session: ConnectSession, result) -> ConnectedAccount | None:
    """The account the session produced, as far as a sync (`result`) shows it, or None.

    A new connection: the one account of the app that appeared since the session began
    (new in this sync, or recorded since by the webhook). A reconnect: the account it
    names, once Pipedream says it is healthy and was updated since the session began.
    """
    accounts = ConnectedAccount.objects.filter(member=member, app=session.app_id)
    if session.reconnect_account_id:
        account = accounts.filter(pk=session.reconnect_account_id).first()
        if account is None or account.upstream_updated_at is None or not account.healthy:
            return None
        return account if account.upstream_updated_at >= session.created_at else None
    found = list(
        accounts.filter(Q(pipedream_id__in=result.created) | Q(created_at__gte=session.created_at))
    )
    return found[0] if len(found) == 1 else None


def session_mark_done(*, member, session: ConnectSession, result) -> None:
    """Tie the session to the account it produced, when the sync (`result`) makes that clear.

    The redirect carries no account id. A reconnect produced the account it names; a
    new connection produced the one new account of that app the sync found. Recording
    it through the service marks the session connected (and re-checks ownership).
    """
    if session.status != ConnectSession.Status.ISSUED:
        return
    if session.reconnect_account is not None:
        candidates = [session.reconnect_account.pipedream_id]
    else:
        candidates = list(
            ConnectedAccount.objects.filter(
                member=member, app=session.app_id, pipedream_id__in=result.created
            ).values_list("pipedream_id", flat=True)
        )
    if len(candidates) == 1:
        # The sync's own list names it: recording it asks Pipedream nothing more.
        account_record(
            member=member,
            pipedream_id=candidates[0],
            session=session,
            listed=result.listed.get(candidates[0]),
        )

"""Event-driven claims: a claim's Pipedream trigger, deployed once per member, whose
events make us check the member again.

Lifecycle: when a member connects the app a claim's trigger runs on, the trigger is
deployed for them (once: a row per claim and member is taken first, and only the
request that created it deploys). Disconnecting the account, or the claim completing,
removes the deployment upstream.

A delivery to our webhook is a wake-up call, never evidence. Its URL carries our own
reference to the deployment, signed with Django's signing (a forged or altered one is
refused, and nothing changes); it is stored raw and answered at once; at most
TRIGGER_CHECK_RATE_LIMIT deliveries per deployment and window ask for a task (those
past it are acknowledged and ask for nothing, and one wake-up runs after the window).
The task reads which events happened, and whom they name, from the deployed trigger's
events list (Pipedream's published `{e, k, ts, id}` shape), not from the delivery's
body, and asks for a check of the member, whose state the check reads upstream.

Pipedream documents that it signs trigger deliveries with HMAC-SHA256 and the trigger's
signing key, but no public source gives the header names and the signed string. So the
signature is verified only when PIPEDREAM_TRIGGER_SIGNATURE names a format ("pd-v1":
X-PD-Signature t=<ts>,v1=<hex HMAC-SHA256(key, "<ts>.<event id>.<body>")>, X-PD-Event-Id;
the sandbox's, unconfirmed); with "none" (the default) a delivery to a valid reference
is accepted, and every delivery whose signature was not verified keeps its headers
(secrets redacted) so an operator can read the real format on the first live day.
"""

import datetime
import hashlib
import hmac
import logging
import re
import time

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from claims import queue
from claims.audit import Actor
from claims.engine import check_requests
from claims.models import Claim, Completion, TriggerDelivery, TriggerDeployment
from claims.secrets import SecretUnreadable
from connections import pipedream
from connections.models import ConnectedAccount
from core import ratelimit

logger = logging.getLogger(__name__)

REFERENCE_SALT = "claims.trigger-webhook"
SIGNATURE_HEADER = "X-PD-Signature"
TIMESTAMP_HEADER = "X-PD-Timestamp"
EVENT_ID_HEADER = "X-PD-Event-Id"
FRESHNESS = 300  # seconds either way
BODY_MAX = 64 * 1024
REFUSED_BODY_MAX = 1024


# --- Deploying and removing ------------------------------------------------------------


def webhook_url(deployment: TriggerDeployment) -> str:
    reference = signing.dumps(deployment.pk, salt=REFERENCE_SALT, compress=True)
    return f"{settings.PUBLIC_URL}{reverse('claims:trigger-webhook')}?d={reference}"


def claims_with_trigger_on(app_slug: str):
    return Claim.objects.enabled().exclude(trigger="").filter(criterion_app__slug=app_slug)


def deployment_ensure(
    *, claim: Claim, member, account: ConnectedAccount
) -> TriggerDeployment | None:
    """Deploy the claim's trigger for `member` unless it is deployed (or being deployed).

    A live deployment on `account` whose upstream account is no longer the account's
    (a reconnect replaced it, and Pipedream deleted the old one) is deployed again: the
    same row, its old trigger removed upstream first.

    Returns the live deployment, or None when there is none to watch with: the claim is
    completed, a removal is under way, or Pipedream refused (the row is then `failed`
    with the reason, and `recheck_claims` tries again).
    """
    if Completion.objects.completed().filter(claim=claim, member=member).exists():
        return None
    Status = TriggerDeployment.Status
    with transaction.atomic():
        deployment, created = TriggerDeployment.objects.select_for_update().get_or_create(
            claim=claim, member=member, defaults={"account": account}
        )
        retry = deployment.status == Status.FAILED
        moved = (
            deployment.status == Status.ACTIVE
            and deployment.account_id == account.pk
            and deployment.account_pipedream_id != account.pipedream_id
        )
        if retry or moved:  # deployed (again); take the row back first
            deployment.status = Status.DEPLOYING
            deployment.account = account
            # What a disconnect of the account looks for, from now on.
            deployment.account_pipedream_id = account.pipedream_id
            deployment.save(update_fields=["status", "account", "account_pipedream_id"])
    if not (created or retry or moved):
        return deployment if deployment.status == Status.ACTIVE else None
    if deployment.pipedream_id and not _earlier_remove(deployment, member):
        return None
    return _deploy(deployment, claim=claim, member=member, account=account)


def _earlier_remove(deployment: TriggerDeployment, member) -> bool:
    """Before the row is deployed again: remove the trigger it names upstream (one on an
    account a reconnect replaced, or one left by a deploy that gave no signing key), so
    no trigger stays deployed that no row names. Gone already (404) is removed. False
    when Pipedream failed: the row is then `failed` and keeps the trigger's id, so
    `recheck_claims` tries again."""
    Status = TriggerDeployment.Status
    if _delete_upstream(deployment.pipedream_id, member):
        TriggerDeployment.objects.filter(pk=deployment.pk, status=Status.DEPLOYING).update(
            pipedream_id="", signing_key_encrypted=""
        )
        deployment.pipedream_id = deployment.signing_key_encrypted = ""
        return True
    TriggerDeployment.objects.filter(pk=deployment.pk, status=Status.DEPLOYING).update(
        status=Status.FAILED, error="The trigger deployed before could not be removed yet."
    )
    return False


def _deploy(deployment, *, claim: Claim, member, account: ConnectedAccount):
    client = pipedream.get_client()
    # A deploy of an earlier try may have happened without its answer reaching us.
    _orphans_remove(claim=claim, member=member)
    try:
        # The account under the trigger's own app prop name, and the dynamic props its
        # definition makes for this account (github-new-star's reload on repoFullname).
        props, dynamic_props_id = client.props_for_account(
            claim.trigger,
            app_slug=account.app.slug,
            account_id=account.pipedream_id,
            external_user_id=str(member.external_id),
            props=claim.trigger_props or {},
        )
        data = client.deploy_trigger(
            trigger_id=claim.trigger,
            external_user_id=str(member.external_id),
            configured_props=props,
            webhook_url=webhook_url(deployment),
            dynamic_props_id=dynamic_props_id,
            emit_on_deploy=False,
        )
    except pipedream.PipedreamError as exc:
        logger.warning("Trigger %s not deployed for member %s: %s", claim.trigger, member.pk, exc)
        TriggerDeployment.objects.filter(
            pk=deployment.pk, status=TriggerDeployment.Status.DEPLOYING
        ).update(status=TriggerDeployment.Status.FAILED, error=str(exc)[:1000])
        return None
    trigger_id = str(data.get("id") or "")
    key = str(data.get("webhook_signing_key") or "")
    deployment.set_signing_key(key)
    # Only if the row is still ours to finish: a removal may have come meanwhile.
    finished = TriggerDeployment.objects.filter(
        pk=deployment.pk, status=TriggerDeployment.Status.DEPLOYING
    ).update(
        pipedream_id=trigger_id,
        account_pipedream_id=account.pipedream_id,
        signing_key_encrypted=deployment.signing_key_encrypted,
        status=TriggerDeployment.Status.ACTIVE if key else TriggerDeployment.Status.FAILED,
        error="" if key else "Pipedream gave no signing key: events could not be verified.",
    )
    if not finished or not key:
        # Removed while deploying, or unusable: nothing may stay deployed unwatched.
        _delete_upstream(trigger_id, member)
        if not finished:
            TriggerDeployment.objects.filter(pk=deployment.pk).delete()
        return None
    deployment.refresh_from_db()
    return deployment


def _delete_upstream(trigger_id: str, member) -> bool:
    if not trigger_id:
        return True
    try:
        pipedream.get_client().delete_deployed_trigger(
            trigger_id, external_user_id=str(member.external_id)
        )
    except pipedream.NotFound:
        return True
    except pipedream.PipedreamError as exc:
        logger.warning("Trigger %s not removed yet: %s", trigger_id, exc)
        return False
    return True


def _orphans_remove(*, claim: Claim, member) -> int:
    """After a deploy whose answer was lost: a trigger may exist upstream that we hold no
    row (and no signing key) for. Remove the member's deployments of this component that
    no row of ours names, so nothing deployed goes unwatched. Skipped while another of
    the member's deployments of the same component is being made (its id is not known
    yet, and it is not an orphan)."""
    busy = (
        TriggerDeployment.objects.filter(
            member=member,
            claim__trigger=claim.trigger,
            status=TriggerDeployment.Status.DEPLOYING,
        )
        .exclude(claim=claim)
        .exists()
    )
    if busy:
        return 0
    client = pipedream.get_client()
    ours = set(
        TriggerDeployment.objects.filter(member=member)
        .exclude(pipedream_id="")
        .values_list("pipedream_id", flat=True)
    )
    removed = 0
    try:
        for data in client.list_deployed_triggers(external_user_id=str(member.external_id)):
            if data.get("component_key") == claim.trigger and data.get("id") not in ours:
                client.delete_deployed_trigger(data["id"], external_user_id=str(member.external_id))
                removed += 1
    except pipedream.PipedreamError as exc:
        logger.warning("Orphan triggers of member %s not removed: %s", member.pk, exc)
    return removed


def deployment_remove(deployment: TriggerDeployment) -> bool:
    """Delete the trigger upstream, then the row. A deployment still being made is only
    marked: its deploy sees that and deletes what it made. False (row kept, marked
    removing) when Pipedream failed: `recheck_claims` tries again."""
    with transaction.atomic():
        current = TriggerDeployment.objects.select_for_update().filter(pk=deployment.pk).first()
        if current is None:
            return True
        deploying = current.status == TriggerDeployment.Status.DEPLOYING
        current.status = TriggerDeployment.Status.REMOVING
        current.save(update_fields=["status"])
    if deploying:
        return True
    if current.member_id and not _delete_upstream(current.pipedream_id, current.member):
        return False
    current.delete()
    return True


def deployments_to_remove(
    *, member, account_pipedream_id: str | None = None, claim: Claim | None = None
):
    deployments = TriggerDeployment.objects.filter(member=member).select_related("member")
    if account_pipedream_id is not None:
        deployments = deployments.filter(account_pipedream_id=account_pipedream_id)
    if claim is not None:
        deployments = deployments.filter(claim=claim)
    return deployments


# --- Receiving ----------------------------------------------------------------------------


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def signature_format() -> str:
    return getattr(settings, "PIPEDREAM_TRIGGER_SIGNATURE", "none")


def _signature_ok(key: str, headers, body: bytes) -> str:
    """pd-v1: the event id when the signature is the deployment's and fresh; else Refused."""
    signature = headers.get(SIGNATURE_HEADER, "")
    event_id = headers.get(EVENT_ID_HEADER, "")
    try:
        parts = dict(item.split("=", 1) for item in signature.split(","))
        stamp, given = parts["t"], parts["v1"]
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            raise ValueError
        if not (len(given) == 64 and all(c in "0123456789abcdef" for c in given)):
            raise ValueError
        timestamp = int(stamp)
    except (KeyError, ValueError):
        raise Refused(401, "Missing or malformed signature.") from None
    if not event_id or len(event_id) > 200:
        raise Refused(400, "Missing or malformed event id.")
    if abs(time.time() - timestamp) > FRESHNESS:
        raise Refused(401, "The signature is too old (or from the future).")
    message = f"{timestamp}.{event_id}.".encode() + body
    expected = hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise Refused(401, "The signature does not match.")
    return event_id


_REDACTED_NAMES = {"authorization", "proxy-authorization", "cookie", "set-cookie"}
_SECRET_WORDS = ("signature", "key", "token", "secret", "auth", "password", "session")
_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}")


def _shape(value: str) -> str:
    """A value's format without its content: long runs become <N digits|hex|chars>."""

    def kind(match: re.Match[str]) -> str:
        run = match.group()
        what = "digits" if run.isdigit() else "hex" if re.fullmatch(r"[0-9a-f]+", run) else "chars"
        return f"<{len(run)} {what}>"

    return _RUN.sub(kind, value)[:200]


def headers_kept(headers) -> dict[str, str]:
    """The headers an operator needs to learn a delivery's real signature format, with
    secrets out: credentials and cookies dropped to a mark; a header named like a
    signature, key or token kept as its shape and a digest (never its value)."""
    kept: dict[str, str] = {}
    for name, value in list(headers.items())[:60]:
        name = str(name)[:100]
        lower = name.lower()
        text = str(value).replace("\x00", "\ufffd")
        if lower in _REDACTED_NAMES:
            kept[name] = "[redacted]"
        elif any(word in lower for word in _SECRET_WORDS):
            digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]
            kept[name] = (
                f"[redacted: {len(text)} characters, shape {_shape(text)!r}, sha256 {digest}]"
            )
        else:
            kept[name] = text[:500]
    return kept


def _deployment_for(reference: str) -> TriggerDeployment:
    """The live deployment our signed reference names; Refused when forged or gone."""
    try:
        deployment_id = signing.loads(reference or "", salt=REFERENCE_SALT)
    except signing.BadSignature:
        raise Refused(400, "Missing or tampered deployment reference.") from None
    if not isinstance(deployment_id, int):
        raise Refused(400, "Missing or tampered deployment reference.")
    deployment = (
        TriggerDeployment.objects.select_related("claim", "member").filter(pk=deployment_id).first()
    )
    if deployment is None or deployment.status != TriggerDeployment.Status.ACTIVE:
        raise Refused(410, "This trigger is no longer deployed here.")
    return deployment


def _verified_event_id(deployment: TriggerDeployment, headers, body: bytes) -> str:
    """The event id a configured signature format vouches for; "" when none is configured."""
    if signature_format() != "pd-v1":
        return ""
    try:
        key = deployment.signing_key()
    except SecretUnreadable:
        raise Refused(401, "The deployment's signing key cannot be read.") from None
    if not key:
        raise Refused(401, "The deployment has no signing key.")
    return _signature_ok(key, headers, body)


def delivery_receive(*, reference: str, headers, body: bytes) -> TriggerDelivery:
    """Store the delivery raw, verify what can be verified, and record the outcome (never
    raises Refused: the returned delivery says, and `.http_status` is the answer to give).

    A delivery is a wake-up call, never evidence: its body is stored, not read. What it
    can do is ask, at most TRIGGER_CHECK_RATE_LIMIT times per deployment and window, for
    a task that reads the trigger's events list and the member's state upstream."""
    # As text a database stores: PostgreSQL refuses NUL characters.
    raw = body[:BODY_MAX].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    deployment = None
    try:
        if len(body) > BODY_MAX:
            raise Refused(413, "The delivery is too large.")
        deployment = _deployment_for(reference)
        event_id = _verified_event_id(deployment, headers, body)
    except Refused as exc:
        delivery = TriggerDelivery.objects.create(
            deployment=deployment,
            event_id=str(headers.get(EVENT_ID_HEADER, ""))[:200].replace("\x00", "\ufffd"),
            # Without a deployment of ours it is anyone's: keep only its start.
            body=raw if deployment is not None else raw[:REFUSED_BODY_MAX],
            headers=headers_kept(headers) if deployment is not None else {},
            outcome=TriggerDelivery.Outcome.REFUSED,
            detail=exc.message,
        )
        delivery.http_status = exc.status
        logger.warning("Trigger delivery %s refused: %s", delivery.pk, exc.message)
        return delivery
    kept = {} if event_id else headers_kept(headers)
    unchecked = "" if event_id else "Signature not checked (PIPEDREAM_TRIGGER_SIGNATURE=none). "
    count, seconds = settings.TRIGGER_CHECK_RATE_LIMIT
    wait = ratelimit.hit("trigger-check", deployment.pk, limit=count, window=seconds)
    if wait is not None:
        delivery = TriggerDelivery.objects.create(
            deployment=deployment,
            event_id=event_id,
            body=raw,
            headers=kept,
            outcome=TriggerDelivery.Outcome.THROTTLED,
            detail=f"{unchecked}Over {count} checks in {seconds} s: no check asked for.",
        )
        # One wake-up after the window, so the window's last event is not left unread.
        # (The mark lasts until the window ends: the first throttled delivery sets it.)
        if cache.add(f"trigger-wake:{deployment.pk}", 1, timeout=wait):
            run_after = timezone.now() + datetime.timedelta(seconds=wait)
            transaction.on_commit(lambda: queue.trigger_event(delivery.pk, run_after=run_after))
        delivery.http_status = 200
        return delivery
    try:
        with transaction.atomic():
            delivery = TriggerDelivery.objects.create(
                deployment=deployment,
                event_id=event_id,
                body=raw,
                headers=kept,
                outcome=TriggerDelivery.Outcome.ACCEPTED,
                detail=f"{unchecked}A wake-up call: the check reads the events list.",
            )
            TriggerDeployment.objects.filter(pk=deployment.pk).update(
                last_event_at=timezone.now(), events=F("events") + 1
            )
            transaction.on_commit(lambda: queue.trigger_event(delivery.pk))
    except IntegrityError:
        delivery = TriggerDelivery.objects.create(
            deployment=deployment,
            event_id=event_id,
            body=raw,
            outcome=TriggerDelivery.Outcome.DUPLICATE,
            detail="This event was received before; nothing changes.",
        )
    delivery.http_status = 202 if delivery.outcome == TriggerDelivery.Outcome.ACCEPTED else 200
    return delivery


def event_subject(event: object) -> str:
    """Whom an emitted event names, as the component emits it (components' sources):
    github-new-star's `sender.login` (webhook mode) or `login` (polling mode); a Discord
    member's `userId`; a Slack `team_join`'s `user.id`. "" when it names nobody known."""
    if not isinstance(event, dict):
        return ""
    sender = event.get("sender")
    if isinstance(sender, dict) and isinstance(sender.get("login"), str):
        return sender["login"]
    user = event.get("user")
    if isinstance(user, dict) and isinstance(user.get("id"), str):
        return user["id"]
    for field in ("login", "userId"):
        if isinstance(event.get(field), str):
            return str(event[field])
    return ""


def _new_events(deployment: TriggerDeployment) -> list[dict] | None:
    """The events of the deployed trigger newer than those already read, taken (so a
    concurrent task does not read them again); None when Pipedream cannot list them."""
    try:
        events = pipedream.get_client().list_trigger_events(
            deployment.pipedream_id, external_user_id=str(deployment.member.external_id)
        )
    except pipedream.PipedreamError as exc:
        logger.warning("Events of trigger %s not listed: %s", deployment.pipedream_id, exc)
        return None
    fresh = [
        event
        for event in events
        if isinstance(event.get("ts"), int) and event["ts"] > deployment.events_cursor
    ]
    if not fresh:
        return []
    newest = max(event["ts"] for event in fresh)
    taken = TriggerDeployment.objects.filter(pk=deployment.pk, events_cursor__lt=newest).update(
        events_cursor=newest
    )
    return sorted(fresh, key=lambda event: event["ts"]) if taken else []


def event_process(delivery_id: int) -> bool:
    """A delivery woke us: read the trigger's events list (never the delivery's body), and
    when it holds events not read before, ask for a check of the deployment's member,
    whose state the check reads upstream. True when a check was asked for."""
    delivery = (
        TriggerDelivery.objects.select_related("deployment__claim", "deployment__member")
        .filter(
            pk=delivery_id,
            outcome__in=(TriggerDelivery.Outcome.ACCEPTED, TriggerDelivery.Outcome.THROTTLED),
        )
        .first()
    )
    if delivery is None or delivery.deployment is None:
        return False
    deployment = delivery.deployment
    if deployment.status != TriggerDeployment.Status.ACTIVE:
        return False
    if delivery.outcome == TriggerDelivery.Outcome.THROTTLED:
        # The wake-up after a window: it counts against the window it runs in.
        count, seconds = settings.TRIGGER_CHECK_RATE_LIMIT
        if ratelimit.hit("trigger-check", deployment.pk, limit=count, window=seconds):
            return False
    events = _new_events(deployment)
    if events == []:
        note = "No event in the trigger's events list that was not read before: no check."
        TriggerDelivery.objects.filter(pk=delivery.pk).update(detail=note)
        return False
    if events is None:  # Pipedream could not list them: the check reads upstream anyway
        event_id, note = delivery.event_id, "The events list could not be read; checked anyway."
    else:
        event_id = str(events[-1].get("id") or "")[:200]
        named = ", ".join(
            f"{str(event.get('id'))[:60]} ({event_subject(event.get('e'))[:60] or 'nobody named'})"
            for event in events[-5:]
        )
        note = f"Events read: {named}. A check of the member was asked for."
    TriggerDelivery.objects.filter(pk=delivery.pk).update(detail=note[:1000])
    check_requests.completion_request(
        claim=deployment.claim,
        member=deployment.member,
        actor=Actor.trigger(deployment.claim.trigger, event_id),
    )
    return True


def tidy(limit: int | None = None) -> int:
    """Removals Pipedream refused earlier are tried again; deploys that failed (or that a
    stopped worker left half-made) are tried again while the account is still connected
    and the claim not completed. Returns how many were settled."""
    Status = TriggerDeployment.Status
    TriggerDeployment.objects.filter(
        status=Status.DEPLOYING, created_at__lt=timezone.now() - datetime.timedelta(minutes=10)
    ).update(status=Status.FAILED, error="The deploy did not finish.")
    settled = 0
    removing = TriggerDeployment.objects.filter(status=Status.REMOVING).select_related("member")
    for deployment in removing[:limit] if limit else removing:
        settled += deployment_remove(deployment)
    failed = TriggerDeployment.objects.filter(status=Status.FAILED).select_related(
        "claim__criterion_app", "member", "account__app"
    )
    for deployment in failed[:limit] if limit else failed:
        claim, member = deployment.claim, deployment.member
        account = deployment.account or (
            ConnectedAccount.objects.filter(member=member, app=claim.criterion_app)
            .select_related("app")
            .first()
        )
        done = Completion.objects.completed().filter(claim=claim, member=member).exists()
        if account is None or done or not claim.enabled or not claim.trigger:
            deployment.delete()  # nothing left to watch
            continue
        settled += deployment_ensure(claim=claim, member=member, account=account) is not None
    return settled

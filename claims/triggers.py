"""Event-driven claims: a claim's Pipedream trigger, deployed once per member, whose
signed events check the member again.

Lifecycle: when a member connects the app a claim's trigger runs on, the trigger is
deployed for them (once: a row per claim and member is taken first, and only the
request that created it deploys). Each event Pipedream POSTs to our webhook is stored
raw, verified (the deployment named by a signed reference, the HMAC signature made with
that deployment's signing key, a fresh timestamp, an event id not seen before), and
answered at once; a task then asks for a check of that member's completion.
Disconnecting the account, or the claim completing, removes the deployment upstream.

The signature format (X-PD-Signature: t=<ts>,v1=<hex HMAC-SHA256(key, "<ts>.<event
id>.<body>")>, X-PD-Event-Id, X-PD-Timestamp) is the sandbox's: Pipedream documents
HMAC-SHA256 signing with the trigger's key, but no public source gives the header names
and signed string, so this is the one place to change when they are confirmed.
"""

import datetime
import hashlib
import hmac
import logging
import time

from django.conf import settings
from django.core import signing
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

    Returns the live deployment, or None when there is none to watch with: the claim is
    completed, a removal is under way, or Pipedream refused (the row is then `failed`
    with the reason, and `recheck_claims` tries again).
    """
    if Completion.objects.completed().filter(claim=claim, member=member).exists():
        return None
    with transaction.atomic():
        deployment, created = TriggerDeployment.objects.select_for_update().get_or_create(
            claim=claim, member=member, defaults={"account": account}
        )
        retry = deployment.status == TriggerDeployment.Status.FAILED
        if retry:  # a failed deploy is tried again; take it back first
            deployment.status = TriggerDeployment.Status.DEPLOYING
            deployment.account = account
            deployment.save(update_fields=["status", "account"])
    if not (created or retry):
        return deployment if deployment.status == TriggerDeployment.Status.ACTIVE else None
    return _deploy(deployment, claim=claim, member=member, account=account)


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


def _signature_ok(key: str, headers, body: bytes) -> str:
    """The event id when the signature is the deployment's and fresh; else Refused."""
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


def delivery_receive(*, reference: str, headers, body: bytes) -> TriggerDelivery:
    """Store the delivery raw, verify it, and record the outcome (never raises Refused:
    the returned delivery says, and `.http_status` is the answer to give)."""
    # As text a database stores: PostgreSQL refuses NUL characters.
    raw = body[:BODY_MAX].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    deployment = None
    try:
        if len(body) > BODY_MAX:
            raise Refused(413, "The delivery is too large.")
        try:
            deployment_id = signing.loads(reference or "", salt=REFERENCE_SALT)
        except signing.BadSignature:
            raise Refused(400, "Missing or tampered deployment reference.") from None
        deployment = (
            TriggerDeployment.objects.select_related("claim", "member")
            .filter(pk=deployment_id)
            .first()
        )
        if deployment is None or deployment.status != TriggerDeployment.Status.ACTIVE:
            raise Refused(410, "This trigger is no longer deployed here.")
        try:
            key = deployment.signing_key()
        except SecretUnreadable:
            raise Refused(401, "The deployment's signing key cannot be read.") from None
        if not key:
            raise Refused(401, "The deployment has no signing key.")
        event_id = _signature_ok(key, headers, body)
    except Refused as exc:
        delivery = TriggerDelivery.objects.create(
            deployment=deployment,
            event_id=str(headers.get(EVENT_ID_HEADER, ""))[:200].replace("\x00", "\ufffd"),
            # Without a deployment of ours it is anyone's: keep only its start.
            body=raw if deployment is not None else raw[:REFUSED_BODY_MAX],
            outcome=TriggerDelivery.Outcome.REFUSED,
            detail=exc.message,
        )
        delivery.http_status = exc.status
        logger.warning("Trigger delivery %s refused: %s", delivery.pk, exc.message)
        return delivery
    try:
        with transaction.atomic():
            delivery = TriggerDelivery.objects.create(
                deployment=deployment,
                event_id=event_id,
                body=raw,
                outcome=TriggerDelivery.Outcome.ACCEPTED,
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


def event_process(delivery_id: int) -> bool:
    """An accepted event: ask for a check of the deployment's member and claim."""
    delivery = (
        TriggerDelivery.objects.select_related("deployment__claim", "deployment__member")
        .filter(pk=delivery_id, outcome=TriggerDelivery.Outcome.ACCEPTED)
        .first()
    )
    if delivery is None or delivery.deployment is None:
        return False
    deployment = delivery.deployment
    check_requests.completion_request(
        claim=deployment.claim,
        member=deployment.member,
        actor=Actor.trigger(deployment.claim.trigger, delivery.event_id),
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

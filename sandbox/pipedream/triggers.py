"""Deployed triggers in the sandbox: the real sources of sandbox/pipedream/components.py, emitting when told to.

A real trigger (a Pipedream "source") listens to its upstream and emits an event when
something happens there. The sandbox's upstream is the accounts' `profile`, so nothing
happens by itself: `emit(trigger, event)` is the "something happened" (the control
page's Emit event button, or a test). The event is what the source would emit (for
github-new-star, GitHub's star webhook body without `repository`, or a stargazer in
polling mode); one the source would never emit is refused. `emit` records the event
(GET .../events lists it), queues one signed delivery per webhook URL, and with
`apply=True` changes the profiles the event implies, so a criterion checked afterwards
sees the change: a star by `sender.login` adds the trigger's `repoFullname` to the
`starred` of that login's GitHub accounts; a new guild member adds the guild to the
`guilds` of the Discord accounts with that `userId`.

`emit_on_deploy` (default true, as Pipedream's) emits one sample event at deploy time
(built from the profile as it is, and not applied), the way many real sources emit a
few historical events when deployed. An inactive (paused) trigger emits nothing.

Signing (an ASSUMPTION: Pipedream's docs say trigger webhooks are signed with the
trigger's signing key using HMAC-SHA256, but the header names and the signed string
could not be confirmed from a public source). Each delivery carries

    X-PD-Event-Id:  <event id>
    X-PD-Timestamp: <unix seconds when the event was recorded>
    X-PD-Signature: t=<timestamp>,v1=<hex HMAC-SHA256(signing key, "<t>.<event id>.<body>")>

where <body> is the exact request body (UTF-8 JSON). A receiver recomputes the HMAC
with its key, compares in constant time, rejects a stale timestamp, and ignores an
event id it has already seen (retries resend the same bytes and headers).
SANDBOX_TRIGGER_SIGNATURE="none" sends no signature headers, and "other" another format
(`signature_headers`), so tests show the product does not depend on this one.
"""

import hashlib
import hmac
import json
import secrets
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sandbox.pipedream import components, webhooks
from sandbox.pipedream.components import Component
from sandbox.pipedream.models import DeployedTrigger, TriggerEvent, WebhookDelivery, sortable_id

EVENT = "TRIGGER_EVENT"  # WebhookDelivery.event of trigger deliveries
SIGNATURE_HEADER = "X-PD-Signature"
TIMESTAMP_HEADER = "X-PD-Timestamp"
EVENT_ID_HEADER = "X-PD-Event-Id"
TRIGGER_ID_HEADER = "X-PD-Deployed-Component-Id"
OTHER_SIGNATURE_HEADER = "X-Signature"  # SANDBOX_TRIGGER_SIGNATURE="other"


class TriggerError(Exception):
    """An emit that cannot happen (bad event, unknown trigger)."""


# The trigger components (real sources, defined in sandbox/pipedream/components.py).
Trigger = Component
TRIGGERS = components.TRIGGERS


# --- Shapes --------------------------------------------------------------------------


def epoch_ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def _configurable_props(component: Component | None, trigger: DeployedTrigger) -> list[dict]:
    """The component's props with the dynamic ones its configured props bring."""
    if component is None:
        return []
    profile = trigger.account.profile if trigger.account else {}
    props = trigger.configured_props or {}
    return component.configurable_props(component.dynamic_props(profile or {}, props))


def deployed_component_json(trigger: DeployedTrigger, *, signing_key: bool = False) -> dict:
    """The DeployedComponent object (docs §5); the signing key only when asked for."""
    component = TRIGGERS.get(trigger.component_key)
    data = {
        "id": trigger.trigger_id,
        "owner_id": trigger.user.public_id,
        "component_id": component.component_id if component else "",
        "component_key": trigger.component_key,
        "configurable_props": _configurable_props(component, trigger),
        "configured_props": trigger.configured_props or {},
        "active": trigger.active,
        "created_at": epoch_ms(trigger.created_at),
        "updated_at": epoch_ms(trigger.updated_at),
        "name": trigger.name,
        "name_slug": trigger.name_slug,
        "callback_observations": None,
        "emit_on_deploy": trigger.emit_on_deploy,
        "type": "DeployedComponent",
    }
    if signing_key:
        data["webhook_signing_key"] = trigger.signing_key
    return data


def event_json(event: TriggerEvent) -> dict:
    """The EmittedEvent object: {e: payload, k: "emit", ts: epoch ms, id}."""
    return {"e": event.payload, "k": "emit", "ts": event.ts, "id": event.event_id}


def webhook_json(trigger: DeployedTrigger, hook: dict, *, signing_key: bool) -> dict:
    data = {"id": hook["id"], "url": hook["url"], "signing_key_set": bool(trigger.signing_key)}
    if signing_key:
        data["signing_key"] = trigger.signing_key
    return data


def webhook_with_key_json(trigger: DeployedTrigger, hook: dict) -> dict:
    """WebhookWithSigningKey: the key, and epoch-second timestamps."""
    return {
        **webhook_json(trigger, hook, signing_key=True),
        "created_at": hook["created_at"],
        "updated_at": hook["updated_at"],
    }


# --- Writes --------------------------------------------------------------------------


def new_signing_key() -> str:
    return secrets.token_hex(32)


def make_webhooks(urls: list[str], existing: list[dict] | None = None) -> list[dict]:
    """Webhook records for `urls`, keeping the id and dates of URLs already there."""
    by_url = {hook["url"]: hook for hook in existing or []}
    now = int(time.time())
    hooks = []
    for url in dict.fromkeys(urls):  # no duplicates, order kept
        hooks.append(
            by_url.get(url)
            or {"id": sortable_id("hook_"), "url": url, "created_at": now, "updated_at": now}
        )
    return hooks


def deploy(
    *,
    component: Trigger,
    account,
    configured_props: dict,
    webhook_url: str = "",
    emit_on_deploy: bool = True,
    workflow_id: str = "",
    dynamic_props_id: str = "",
) -> tuple[DeployedTrigger, list[WebhookDelivery]]:
    """Deploy `component` for the account's user; returns the trigger and the deliveries
    of its deploy-time event (none without emit_on_deploy or a webhook URL)."""
    now = timezone.now()
    trigger_id = sortable_id("dc_")
    trigger = DeployedTrigger.objects.create(
        trigger_id=trigger_id,
        user=account.user,
        component_key=component.key,
        account=account,
        configured_props=configured_props,
        name=component.name,
        name_slug=f"{component.key}-{trigger_id[-6:]}",
        emit_on_deploy=emit_on_deploy,
        workflow_id=workflow_id,
        dynamic_props_id=dynamic_props_id,
        signing_key=new_signing_key(),
        webhooks=make_webhooks([webhook_url] if webhook_url else []),
        created_at=now,
        updated_at=now,
    )
    deliveries = []
    if emit_on_deploy:
        event = emit(trigger, apply=False)
        deliveries = event.deliveries if event else []
    return trigger, deliveries


def remove(trigger: DeployedTrigger) -> None:
    """Delete a trigger: its events go with it, its deliveries not yet made never are."""
    webhooks.cancel(trigger.trigger_id)
    trigger.delete()


def sign(signing_key: str, timestamp: int, event_id: str, body: str) -> str:
    """The X-PD-Signature value for `body` (see the module docstring)."""
    message = f"{timestamp}.{event_id}.{body}".encode()
    digest = hmac.new(signing_key.encode(), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signature_headers(trigger: DeployedTrigger, event_id: str, timestamp: int, body: str) -> dict:
    """A delivery's headers in the format SANDBOX_TRIGGER_SIGNATURE names: "pd-v1" (the
    module docstring's), "none" (no signature at all) or "other" (`X-Signature:
    sha256=<hex HMAC-SHA256(key, body)>`, a format the product does not recognise). The
    real format is unconfirmed, so the product must work whichever arrives."""
    headers = {TRIGGER_ID_HEADER: trigger.trigger_id}
    chosen = getattr(settings, "SANDBOX_TRIGGER_SIGNATURE", "pd-v1")
    if chosen == "pd-v1":
        headers[SIGNATURE_HEADER] = sign(trigger.signing_key, timestamp, event_id, body)
        headers[TIMESTAMP_HEADER] = str(timestamp)
        headers[EVENT_ID_HEADER] = event_id
    elif chosen == "other":
        digest = hmac.new(trigger.signing_key.encode(), body.encode(), hashlib.sha256)
        headers[OTHER_SIGNATURE_HEADER] = f"sha256={digest.hexdigest()}"
    return headers


def verify(signing_key: str, headers, body: bytes | str, *, tolerance: float = 300) -> bool:
    """What a receiver does: the signature matches the body and is fresh."""
    if isinstance(body, bytes):
        body = body.decode()
    lower = {str(name).lower(): value for name, value in dict(headers).items()}
    try:
        signature = lower[SIGNATURE_HEADER.lower()]
        parts = dict(item.split("=", 1) for item in signature.split(","))
        timestamp = int(parts["t"])
        event_id = lower[EVENT_ID_HEADER.lower()]
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(signing_key, timestamp, event_id, body), signature)


def _resolve(trigger_or_id) -> DeployedTrigger:
    if isinstance(trigger_or_id, DeployedTrigger):
        return trigger_or_id
    trigger = (
        DeployedTrigger.objects.select_related("user", "account")
        .filter(trigger_id=trigger_or_id)
        .first()
    )
    if trigger is None:
        raise TriggerError(f"No deployed trigger {trigger_or_id!r}.")
    return trigger


def emit(trigger_or_id, event: dict | None = None, *, apply: bool = True) -> TriggerEvent | None:
    """Make the trigger emit `event` (default: a sample built from the account's profile).

    Records the event, queues a signed delivery to each webhook URL (the returned
    event's `deliveries`; send them with `webhooks.send_after_response()`, or
    `webhooks.run_pending()` / `wait_for_deliveries()`), and with `apply` changes the
    account's profile as the event implies. An inactive trigger emits nothing: None.
    """
    trigger = _resolve(trigger_or_id)
    if not trigger.active:
        return None
    component = TRIGGERS.get(trigger.component_key)
    if component is None:
        raise TriggerError(f"The sandbox has no trigger component {trigger.component_key!r}.")
    if event is not None and not isinstance(event, dict):
        raise TriggerError("An event is a JSON object.")
    account = trigger.account
    profile = dict(account.profile or {}) if account else {}
    props = trigger.configured_props or {}
    payload = dict(event) if event is not None else component.sample(profile, props)
    reason = component.refuse(payload) if component.refuse else ""
    if reason:
        raise TriggerError(reason)
    with transaction.atomic():
        if apply and account is not None and component.apply is not None:
            component.apply(account, props, payload)
        now = time.time()
        recorded = TriggerEvent.objects.create(
            trigger=trigger,
            event_id=sortable_id("evt_"),
            ts=int(now * 1000),
            payload=payload,
        )
        body = json.dumps(
            {
                "event_id": recorded.event_id,
                "deployed_component_id": trigger.trigger_id,
                "component_key": trigger.component_key,
                "external_user_id": trigger.user.external_id,
                "ts": recorded.ts,
                "event": payload,
            },
            separators=(",", ":"),
        )
        headers = signature_headers(trigger, recorded.event_id, int(now), body)
        recorded.deliveries = [
            webhooks.enqueue(
                event=EVENT,
                url=url,
                payload=json.loads(body),
                body=body,
                headers=headers,
                source=trigger.trigger_id,
            )
            for url in trigger.webhook_urls
        ]
    return recorded

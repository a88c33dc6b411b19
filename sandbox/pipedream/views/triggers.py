"""The emulated Pipedream's deployed triggers views (the triggers themselves:
sandbox/pipedream/triggers.py)."""

import time

from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from sandbox.pipedream import services, triggers, webhooks
from sandbox.pipedream.models import DeployedTrigger
from sandbox.pipedream.views.actions import checked_props, component_for
from sandbox.pipedream.views.base import (
    OAUTH,
    RECORD_NOT_FOUND,
    ApiError,
    Caller,
    _absolute_http_url,
    endpoint,
    json_body,
    query_cursors,
    query_limit,
)

# --- Triggers ------------------------------------------------------------------------

EMITTER_TYPES = {"email", "http", "source", "timer"}


def _external_user_param(request, caller: Caller) -> str:
    external_user_id = request.GET.get("external_user_id", "")
    if not external_user_id:
        raise ApiError(400, "external_user_id is required (query parameter).")
    if caller.external_user_id is not None and caller.external_user_id != external_user_id:
        raise ApiError(404, RECORD_NOT_FOUND)
    return external_user_id


def _triggers(caller: Caller, external_user_id: str):
    return DeployedTrigger.objects.filter(
        user__project_id=caller.project_id,
        user__environment=caller.environment,
        user__external_id=external_user_id,
    ).select_related("user", "account")


def _trigger_or_404(request, caller: Caller, trigger_id: str) -> DeployedTrigger:
    external_user_id = _external_user_param(request, caller)
    trigger = _triggers(caller, external_user_id).filter(trigger_id=trigger_id).first()
    if trigger is None:
        raise ApiError(404, RECORD_NOT_FOUND)
    return trigger


def _bool_field(data: dict, name: str, default=None):
    value = data.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ApiError(400, f"{name} must be true or false.")
    return value


def _webhook_urls(value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(url, str) for url in value):
        raise ApiError(400, "webhook_urls must be an array of URLs.")
    return [_absolute_http_url({"url": url}, "url") for url in value if url]


@endpoint("pipedream.triggers.deploy")
def triggers_deploy(request, caller: Caller):
    """POST /v1/connect/{project_id}/triggers/deploy: {"data": DeployedComponent}."""
    data = json_body(request)
    external_user_id = data.get("external_user_id")
    component = component_for(data, triggers.TRIGGERS, "trigger")
    if not isinstance(external_user_id, str) or not external_user_id:
        raise ApiError(400, "external_user_id is required.")
    account, props, _ = checked_props(caller, component, external_user_id, data)
    webhook_url = _absolute_http_url(data, "webhook_url")
    workflow_id = data.get("workflow_id") or ""
    if workflow_id and (not isinstance(workflow_id, str) or not workflow_id.startswith("p_")):
        raise ApiError(400, f"workflow_id must look like p_..., not {workflow_id!r}.")
    dynamic_props_id = data.get("dynamic_props_id") or ""
    trigger, deliveries = triggers.deploy(
        component=component,
        account=account,
        configured_props=props,
        webhook_url=webhook_url,
        emit_on_deploy=_bool_field(data, "emit_on_deploy", True),
        workflow_id=workflow_id,
        dynamic_props_id=dynamic_props_id,
    )
    body = triggers.deployed_component_json(
        trigger, signing_key=bool(webhook_url) and caller.kind == OAUTH
    )
    return webhooks.send_after_response(JsonResponse({"data": body}), deliveries)


@endpoint("pipedream.triggers.list")
def deployed_triggers_list(request, caller: Caller):
    """GET /v1/connect/{project_id}/deployed-triggers: {data, page_info}, paged by id."""
    external_user_id = _external_user_param(request, caller)
    found = _triggers(caller, external_user_id)
    emitter_type = request.GET.get("emitter_type", "")
    if emitter_type and emitter_type not in EMITTER_TYPES:
        raise ApiError(400, f"emitter_type must be one of {sorted(EMITTER_TYPES)}.")
    if emitter_type not in ("", "source"):
        found = found.none()  # the sandbox deploys sources only
    after, before = query_cursors(request)
    page = services.paginate(
        found, key="trigger_id", limit=query_limit(request), after=after, before=before
    )
    return JsonResponse(
        {
            "data": [triggers.deployed_component_json(t) for t in page.items],
            "page_info": services.page_info(page, lambda t: t.trigger_id),
        }
    )


@endpoint("pipedream.triggers.get")
def deployed_trigger_get(request, caller: Caller, trigger_id: str):
    """GET .../deployed-triggers/{trigger_id}: {"data": DeployedComponent}."""
    trigger = _trigger_or_404(request, caller, trigger_id)
    return JsonResponse({"data": triggers.deployed_component_json(trigger)})


@endpoint("pipedream.triggers.update")
def deployed_trigger_update(request, caller: Caller, trigger_id: str):
    """PUT .../deployed-triggers/{trigger_id}: {active, configured_props, name, emit_on_deploy}."""
    trigger = _trigger_or_404(request, caller, trigger_id)
    data = json_body(request)
    active = _bool_field(data, "active")
    emit_on_deploy = _bool_field(data, "emit_on_deploy")
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ApiError(400, "name must be a non-empty string.")
    props = data.get("configured_props")
    if props is not None:
        if not isinstance(props, dict):
            raise ApiError(400, "configured_props must be an object.")
        component = triggers.TRIGGERS[trigger.component_key]
        trigger.account, props, _ = checked_props(
            caller, component, trigger.user.external_id, {"configured_props": props}
        )
        trigger.configured_props = props
    if active is not None:
        trigger.active = active
    if emit_on_deploy is not None:
        trigger.emit_on_deploy = emit_on_deploy
    if name is not None:
        trigger.name = name.strip()
    trigger.updated_at = timezone.now()
    trigger.save()
    return JsonResponse({"data": triggers.deployed_component_json(trigger)})


@endpoint("pipedream.triggers.delete")
def deployed_trigger_delete(request, caller: Caller, trigger_id: str):
    """DELETE .../deployed-triggers/{trigger_id}: 204; its pending deliveries stop."""
    triggers.remove(_trigger_or_404(request, caller, trigger_id))
    return HttpResponse(status=204)


@endpoint("pipedream.triggers.events")
def deployed_trigger_events(request, caller: Caller, trigger_id: str):
    """GET .../deployed-triggers/{trigger_id}/events?n=: {"data": [EmittedEvent]}, newest first."""
    trigger = _trigger_or_404(request, caller, trigger_id)
    raw = request.GET.get("n", "").strip() or "20"
    try:
        n = int(raw)
    except ValueError:
        raise ApiError(400, f"n must be an integer, not {raw!r}.") from None
    if n < 1:
        raise ApiError(400, "n must be at least 1.")
    events = trigger.events.order_by("-ts", "-pk")[: min(n, 100)]
    return JsonResponse({"data": [triggers.event_json(event) for event in events]})


def _webhooks_json(caller: Caller, trigger: DeployedTrigger) -> JsonResponse:
    oauth = caller.kind == OAUTH
    return JsonResponse(
        {
            "webhook_urls": trigger.webhook_urls,
            "webhooks": [
                triggers.webhook_json(trigger, hook, signing_key=oauth) for hook in trigger.webhooks
            ],
        }
    )


@endpoint("pipedream.triggers.webhooks")
def deployed_trigger_webhooks(request, caller: Caller, trigger_id: str):
    """GET .../deployed-triggers/{trigger_id}/webhooks: {webhook_urls, webhooks}."""
    return _webhooks_json(caller, _trigger_or_404(request, caller, trigger_id))


@endpoint("pipedream.triggers.webhooks")
def deployed_trigger_webhooks_update(request, caller: Caller, trigger_id: str):
    """PUT .../deployed-triggers/{trigger_id}/webhooks {webhook_urls}: the new list."""
    trigger = _trigger_or_404(request, caller, trigger_id)
    data = json_body(request)
    if "webhook_urls" not in data:
        raise ApiError(400, "webhook_urls is required.")
    trigger.webhooks = triggers.make_webhooks(_webhook_urls(data["webhook_urls"]), trigger.webhooks)
    trigger.updated_at = timezone.now()
    trigger.save(update_fields=["webhooks", "updated_at"])
    return _webhooks_json(caller, trigger)


def _hook_or_404(trigger: DeployedTrigger, webhook_id: str) -> dict:
    hook = next((hook for hook in trigger.webhooks if hook["id"] == webhook_id), None)
    if hook is None:
        raise ApiError(404, RECORD_NOT_FOUND)
    return hook


@endpoint("pipedream.triggers.webhooks", auth=(OAUTH,))
def deployed_trigger_webhook_get(request, caller: Caller, trigger_id: str, webhook_id: str):
    """GET .../webhooks/{webhook_id} (OAuth only): {"data": WebhookWithSigningKey}."""
    trigger = _trigger_or_404(request, caller, trigger_id)
    hook = _hook_or_404(trigger, webhook_id)
    return JsonResponse({"data": triggers.webhook_with_key_json(trigger, hook)})


@endpoint("pipedream.triggers.webhooks", auth=(OAUTH,))
def deployed_trigger_webhook_regenerate(request, caller: Caller, trigger_id: str, webhook_id: str):
    """POST .../webhooks/{webhook_id}/regenerate_signing_key (OAuth only): a new key.

    The sandbox keeps one key per trigger, shared by its webhooks: all of them change.
    """
    trigger = _trigger_or_404(request, caller, trigger_id)
    hook = _hook_or_404(trigger, webhook_id)
    trigger.signing_key = triggers.new_signing_key()
    hook["updated_at"] = int(time.time())
    trigger.updated_at = timezone.now()
    trigger.save(update_fields=["signing_key", "webhooks", "updated_at"])
    return JsonResponse({"data": triggers.webhook_with_key_json(trigger, hook)})

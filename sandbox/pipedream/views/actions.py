"""The emulated Pipedream's actions/run, and the checks of a component's configured props
that a run and a trigger's deploy share."""

from django.http import JsonResponse

from sandbox.pipedream import components
from sandbox.pipedream.actions import ACTIONS, ActionError
from sandbox.pipedream.models import Account
from sandbox.pipedream.views.base import ACCOUNT_MISMATCH, ApiError, Caller, endpoint, json_body

# --- Actions -------------------------------------------------------------------------


def _account_for_run(
    caller: Caller, external_user_id: str, app_slug: str, props: dict, prop_name: str = ""
) -> Account:
    """The account `configured_props[prop_name]` names ({"authProvisionId": ...}); the app
    prop's name is the component's (`googleSheets`), not always the app slug."""
    prop_name = prop_name or app_slug
    prop = props.get(prop_name)
    account_id = prop.get("authProvisionId") if isinstance(prop, dict) else None
    if not account_id:
        raise ApiError(
            400,
            f"The {prop_name} prop is required: "
            f'configured_props {{"{prop_name}": {{"authProvisionId": "apn_..."}}}}.',
        )
    account = (
        Account.objects.scoped(caller.project_id, caller.environment)
        .filter(account_id=account_id)
        .select_related("user")
        .first()
    )
    if (
        account is None
        or account.user.external_id != external_user_id
        or account.app_slug != app_slug
        or (caller.external_user_id is not None and caller.external_user_id != external_user_id)
    ):
        raise ApiError(400, ACCOUNT_MISMATCH)
    if account.dead:
        raise ApiError(
            400, f"Account {account.account_id} is dead: {account.error or 'reconnect it'}."
        )
    if not account.healthy:
        raise ApiError(
            400, f"Account {account.account_id} is unhealthy: {account.error or 'reconnect it'}."
        )
    return account


def component_for(data: dict, registry: dict, kind: str) -> components.Component:
    """The component `data["id"]` names, at `data["version"]` when given (404 otherwise)."""
    key, version = data.get("id"), data.get("version")
    if not isinstance(key, str) or not key:
        raise ApiError(400, f"id is required: the {kind}'s component key.")
    component = registry.get(key)
    if component is None:
        raise ApiError(
            404, f"Component {key} not found. The sandbox has: {', '.join(sorted(registry))}."
        )
    if version not in (None, "") and version != component.version:
        raise ApiError(
            404, f"Component {key}@{version} not found (the sandbox has {component.version})."
        )
    return component


def checked_props(
    caller: Caller, component: components.Component, external_user_id: str, data: dict
) -> tuple[Account, dict, list[dict]]:
    """(account, configured props, dynamic props) for a run or a deploy, or a 400: the app
    prop names one of the user's accounts, a `dynamic_props_id` is the one a props reload
    gave for these values, and every required prop has a value."""
    props = data.get("configured_props") or {}
    if not isinstance(props, dict):
        raise ApiError(400, "configured_props must be an object.")
    account = _account_for_run(caller, external_user_id, component.app, props, component.app_prop)
    dynamic_props_id = data.get("dynamic_props_id") or ""
    if not isinstance(dynamic_props_id, str):
        raise ApiError(400, "dynamic_props_id must be a string.")
    if dynamic_props_id and dynamic_props_id != component.dynamic_props_id(
        account.account_id, props
    ):
        raise ApiError(
            400,
            f"dynamic_props_id {dynamic_props_id} does not match these configured_props: "
            "reload the props (POST .../components/props) and use the id it returns.",
        )
    dynamic = component.dynamic_props(account.profile or {}, props)
    missing = component.missing(props, dynamic)
    if missing:
        raise ApiError(400, f"Missing required prop(s) of {component.key}: {', '.join(missing)}.")
    return account, props, dynamic


@endpoint("pipedream.actions.run")
def actions_run(request, caller: Caller):
    """POST /v1/connect/{project_id}/actions/run: a real action (sandbox/pipedream/components.py)."""
    data = json_body(request)
    external_user_id = data.get("external_user_id")
    action = component_for(data, ACTIONS, "action")
    if not isinstance(external_user_id, str) or not external_user_id:
        raise ApiError(400, "external_user_id is required.")
    account, props, _ = checked_props(caller, action, external_user_id, data)
    values = {name: components.prop_value(value) for name, value in props.items()}
    try:
        summary, ret = action.run(account.profile or {}, values)
    except ActionError as exc:
        raise ApiError(400, str(exc)) from exc
    return JsonResponse({"exports": {"$summary": summary}, "os": [], "ret": ret, "stash_id": None})

"""The component API of the emulated Pipedream Connect (the published description's
/v1/connect/{project_id}/components|actions|triggers routes).

- `GET .../components|actions|triggers` lists the sandbox's components (sandbox/pipedream/components.py)
  as {data: [Component], page_info}, filtered by `q` (key, name or description), `app`
  (slug or app id), `registry` (all of them are public) and, on /components,
  `component_type`; paged by `limit`, `after` and `before` like the apps list.
- `GET .../{component_id}[?version=]` answers {"data": Component}; a key of the other kind
  (a trigger under /actions) or another version is a 404.
- `POST .../configure` answers the remote options of one prop, computed from the account
  the app prop names (e.g. the repositories of the GitHub account for `repoFullname`):
  option objects in `options`, plain strings in `stringOptions` (the sandbox's reading of
  the description: what the component's options() returns decides which).
- `POST .../props` (reload) answers {"dynamicProps": {"id": "dyp_...", "configurableProps"}}:
  the props with the dynamic ones; deploy and run accept that id (sandbox/pipedream/views/actions.py:checked_props).
"""

from django.http import JsonResponse

from sandbox.pipedream import catalogue, components, services
from sandbox.pipedream.views.actions import _account_for_run
from sandbox.pipedream.views.base import (
    ApiError,
    Caller,
    endpoint,
    json_body,
    query_cursors,
    query_limit,
)

REGISTRIES = {"public", "private", "all"}
KINDS = {"components": None, "actions": components.ACTION, "triggers": components.TRIGGER}


def _registry(kind: str) -> dict[str, components.Component]:
    wanted = KINDS[kind]
    return {
        key: c
        for key, c in components.COMPONENTS.items()
        if wanted is None or c.component_type == wanted
    }


def _listed(request, kind: str) -> list[components.Component]:
    found = list(_registry(kind).values())
    registry = request.GET.get("registry", "") or "all"
    if registry not in REGISTRIES:
        raise ApiError(400, f"registry must be one of {sorted(REGISTRIES)}, not {registry!r}.")
    if registry == "private":
        found = []  # the sandbox's components are all from the public registry
    if kind == "components" and (wanted := request.GET.get("component_type", "")):
        if wanted not in (components.ACTION, components.TRIGGER):
            raise ApiError(400, f"component_type must be action or trigger, not {wanted!r}.")
        found = [c for c in found if c.component_type == wanted]
    if app_param := request.GET.get("app", "").strip():
        app = catalogue.find_app(app_param)
        found = [c for c in found if app is not None and c.app == app["name_slug"]]
    if q := request.GET.get("q", "").strip().lower():
        found = [
            c
            for c in found
            if q in c.key.lower() or q in c.name.lower() or q in c.description.lower()
        ]
    return sorted(found, key=lambda c: c.key)


def _list(request, kind: str) -> JsonResponse:
    found = _listed(request, kind)
    after, before = query_cursors(request)
    limit = query_limit(request)
    keys = [c.key for c in found]
    start, stop = 0, len(found)
    if after:
        start = keys.index(after) + 1 if after in keys else len(found)
    if before:
        stop = keys.index(before) if before in keys else 0
    if before and not after:
        start = max(0, stop - limit)
    window = found[start:stop][:limit]
    end = start + len(window)
    return JsonResponse(
        {
            "data": [c.to_json() for c in window],
            "page_info": {
                "count": len(window),
                "total_count": len(found),
                "start_cursor": services.encode_cursor(window[0].key) if window and start else None,
                "end_cursor": (
                    services.encode_cursor(window[-1].key) if window and end < len(found) else None
                ),
            },
        }
    )


def _retrieve(request, kind: str, component_id: str) -> JsonResponse:
    component = _registry(kind).get(component_id)
    version = request.GET.get("version", "")
    if component is None or (version and version != component.version):
        raise ApiError(
            404, f"Component {component_id}{'@' + version if version else ''} not found."
        )
    return JsonResponse({"data": component.to_json()})


def _target(caller: Caller, kind: str, data: dict):
    """(component, account, configured props) of a configure or reload request."""
    key, external_user_id = data.get("id"), data.get("external_user_id")
    if not isinstance(key, str) or not key:
        raise ApiError(400, "id is required: the component's key.")
    if not isinstance(external_user_id, str) or not external_user_id:
        raise ApiError(400, "external_user_id is required.")
    component = _registry(kind).get(key)
    version = data.get("version")
    if component is None or (version not in (None, "") and version != component.version):
        raise ApiError(404, f"Component {key} not found.")
    props = data.get("configured_props") or {}
    if not isinstance(props, dict):
        raise ApiError(400, "configured_props must be an object.")
    account = _account_for_run(caller, external_user_id, component.app, props, component.app_prop)
    return component, account, props


def _configure(request, caller: Caller, kind: str) -> JsonResponse:
    data = json_body(request)
    component, account, props = _target(caller, kind, data)
    prop_name = data.get("prop_name")
    if not isinstance(prop_name, str) or not prop_name:
        raise ApiError(400, "prop_name is required.")
    dynamic = component.dynamic_props(account.profile or {}, props)
    if component.prop(prop_name, dynamic) is None:
        raise ApiError(400, f"{component.key} has no prop {prop_name}.")
    if prop_name not in component.options:
        raise ApiError(400, f"The prop {prop_name} of {component.key} has no remote options.")
    page = data.get("page") or 0
    if not isinstance(page, int | float) or isinstance(page, bool) or page < 0:
        raise ApiError(400, "page must be a number, 0 or more.")
    try:
        found = component.load_options(prop_name, account.profile or {}, props)
    except components.ComponentError as exc:
        return JsonResponse(
            {"options": None, "stringOptions": None, "errors": [str(exc)], "observations": []}
        )
    query = data.get("query")
    if isinstance(query, str) and query.strip():
        needle = query.strip().lower()
        found = [
            o for o in found if needle in str(o["label"] if isinstance(o, dict) else o).lower()
        ]
    if page:
        found = []  # every option fits on the first page
    strings = [o for o in found if isinstance(o, str)]
    objects = [o for o in found if isinstance(o, dict)]
    return JsonResponse(
        {
            "options": objects if objects or not strings else None,
            "stringOptions": strings if strings else None,
            "errors": [],
            "observations": [],
            "context": None,
        }
    )


def _reload(request, caller: Caller, kind: str) -> JsonResponse:
    data = json_body(request)
    component, account, props = _target(caller, kind, data)
    dynamic = component.dynamic_props(account.profile or {}, props)
    return JsonResponse(
        {
            "observations": [],
            "errors": [],
            "dynamicProps": {
                "id": component.dynamic_props_id(account.account_id, props),
                "configurableProps": component.configurable_props(dynamic),
            },
        }
    )


# One view per operation and kind; one fault name (pipedream.components) for them all.


@endpoint("pipedream.components")
def components_list(request, caller: Caller):
    return _list(request, "components")


@endpoint("pipedream.components")
def actions_list(request, caller: Caller):
    return _list(request, "actions")


@endpoint("pipedream.components")
def triggers_list(request, caller: Caller):
    return _list(request, "triggers")


@endpoint("pipedream.components")
def components_get(request, caller: Caller, component_id: str):
    return _retrieve(request, "components", component_id)


@endpoint("pipedream.components")
def actions_get(request, caller: Caller, component_id: str):
    return _retrieve(request, "actions", component_id)


@endpoint("pipedream.components")
def triggers_get(request, caller: Caller, component_id: str):
    return _retrieve(request, "triggers", component_id)


@endpoint("pipedream.components")
def components_configure(request, caller: Caller):
    return _configure(request, caller, "components")


@endpoint("pipedream.components")
def actions_configure(request, caller: Caller):
    return _configure(request, caller, "actions")


@endpoint("pipedream.components")
def triggers_configure(request, caller: Caller):
    return _configure(request, caller, "triggers")


@endpoint("pipedream.components")
def components_props(request, caller: Caller):
    return _reload(request, caller, "components")


@endpoint("pipedream.components")
def actions_props(request, caller: Caller):
    return _reload(request, caller, "actions")


@endpoint("pipedream.components")
def triggers_props(request, caller: Caller):
    return _reload(request, caller, "triggers")

"""Component definitions: list and retrieve actions and triggers, load a prop's remote
options (configure), and reload a component's props (its dynamic props).

A definition says how `configured_props` must be keyed: each configurable prop has a
`name`, and the prop of type "app" is where the account goes, under its own name
(`googleSheets`, not the app slug `google_sheets`). `definition` keeps retrieved ones in
Django's cache for a few minutes, so a claim checked for many members asks once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, Literal

from django.core.cache import cache

from connections.pipedream.client import PipedreamBase, compact, segment
from connections.pipedream.errors import BadRequest, NotFound

# The three routes serve the same Component shape; `actions` and `triggers` only find
# components of their kind.
Kind = Literal["components", "actions", "triggers"]

# How long a retrieved definition is reused. Short: a component published anew (a new
# version, a renamed prop) is seen within minutes.
DEFINITION_TTL = 300

# Props Pipedream fills in itself when it runs or deploys a component (besides the
# `$.interface.*` and `$.service.*` ones): its data stores, and props that only inform.
PROVIDED_TYPES = frozenset({"alert", "dir", "data_store", "http_request"})


class NoAppProp(NotFound):
    """The component has no prop for an account of the app it is meant to run on."""

    summary = "The component takes no account of this app"


class Components(PipedreamBase):
    def iter_components(
        self,
        *,
        kind: Kind = "components",
        q: str | None = None,
        app: str | None = None,
        limit: int | None = None,
        registry: str | None = None,
        component_type: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every component matching the filters, across all pages (`limit` is the page size)."""
        params = compact(
            {
                "q": q,
                "app": app,
                "limit": limit,
                "registry": registry,
                "component_type": component_type,
            }
        )
        return self._paginate(self._project_path(kind), params, f"list {kind}")

    def list_components(self, **filters: Any) -> list[dict[str, Any]]:
        return list(self.iter_components(**filters))

    def get_component(
        self, key: str, *, kind: Kind = "components", version: str | None = None
    ) -> dict[str, Any]:
        """The component `key` (its latest version unless `version`): `{"key", "name",
        "version", "configurable_props", ...}`. NotFound when Pipedream has none."""
        operation = f"get {_singular(kind)} {key}"
        body = self._request_json(
            "GET",
            self._project_path(kind, key),
            operation=operation,
            idempotent=True,
            params=compact({"version": version}),
        )
        data = body.get("data") if isinstance(body, dict) else None
        data = self._require(data, ("key", "version"), operation)
        props = data.get("configurable_props")
        if not isinstance(props, list) or not all(isinstance(p, dict) for p in props):
            raise self._invalid(body, operation, "data.configurable_props is not a list of objects")
        return data

    def definition(
        self, key: str, *, kind: Kind = "components", version: str | None = None
    ) -> dict[str, Any]:
        """`get_component`, reused from the cache for DEFINITION_TTL seconds. Failures are
        not kept: the next call asks again."""
        cache_key = self._definition_key(key, kind, version)
        cached = cache.get(cache_key)
        if isinstance(cached, dict):
            return cached
        data = self.get_component(key, kind=kind, version=version)
        cache.set(cache_key, data, timeout=DEFINITION_TTL)
        return data

    def configure_prop(
        self,
        *,
        component_id: str,
        external_user_id: str,
        prop_name: str,
        kind: Kind = "components",
        configured_props: dict[str, Any] | None = None,
        dynamic_props_id: str | None = None,
        version: str | None = None,
        query: str | None = None,
        page: int | None = None,
        prev_context: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A prop's remote options, loaded with the member's account: `{"options",
        "stringOptions", "context", "errors", ...}` (ConfigurePropResponse)."""
        operation = f"load the options of prop {prop_name} of {component_id}"
        payload = compact(
            {
                "id": component_id,
                "external_user_id": external_user_id,
                "prop_name": prop_name,
                "configured_props": configured_props,
                "dynamic_props_id": dynamic_props_id,
                "version": version,
                "query": query,
                "page": page,
                "prev_context": prev_context,
                "blocking": True,
            }
        )
        return self._object(
            self._request_json(
                "POST",
                self._project_path(kind, "configure"),
                operation=operation,
                # It reads options and changes nothing: safe to send again.
                idempotent=True,
                json_body=payload,
                quote_body=False,  # options are the member's data
            ),
            operation,
        )

    def reload_props(
        self,
        *,
        component_id: str,
        external_user_id: str,
        configured_props: dict[str, Any],
        kind: Kind = "components",
        dynamic_props_id: str | None = None,
        version: str | None = None,
    ) -> dict[str, Any]:
        """The component's props as the configured ones make them: `{"dynamicProps": {"id",
        "configurableProps"}, "errors", "observations"}` (ReloadPropsResponse). The id is
        the `dynamic_props_id` to pass when running or deploying it."""
        operation = f"reload the props of {component_id}"
        payload = compact(
            {
                "id": component_id,
                "external_user_id": external_user_id,
                "configured_props": configured_props,
                "dynamic_props_id": dynamic_props_id,
                "version": version,
                "blocking": True,
            }
        )
        return self._object(
            self._request_json(
                "POST",
                self._project_path(kind, "props"),
                operation=operation,
                # A second reload only makes another set of dynamic props: harmless.
                idempotent=True,
                json_body=payload,
                quote_body=False,
            ),
            operation,
        )

    def props_for_account(
        self,
        key: str,
        *,
        app_slug: str,
        account_id: str,
        external_user_id: str,
        props: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], str | None]:
        """`props` with the account under the component's own app prop name, and the
        `dynamic_props_id` to run or deploy it with (None unless a prop reloads props).

        Raises NoAppProp when the definition has no prop for an `app_slug` account, and
        BadRequest when the reloaded props report errors or need a prop `props` lacks.
        """
        definition = self.definition(key)
        prop = app_prop(definition, app_slug)
        if prop is None or not isinstance(prop.get("name"), str):
            raise self.logged(
                NoAppProp(
                    f"{key} has no prop of type app for {app_slug}",
                    operation=f"configure {key}",
                )
            )
        configured = {**(props or {}), prop["name"]: {"authProvisionId": account_id}}
        if not reloads_props(definition):
            return configured, None
        answer = self.reload_props(
            component_id=key, external_user_id=external_user_id, configured_props=configured
        )
        operation = f"reload the props of {key}"
        errors = answer.get("errors")
        if isinstance(errors, list) and errors:
            raise self.logged(
                BadRequest("; ".join(str(e) for e in errors)[:500], operation=operation)
            )
        dynamic = answer.get("dynamicProps")
        dynamic_id = dynamic.get("id") if isinstance(dynamic, dict) else None
        if not isinstance(dynamic_id, str) or not dynamic_id:
            raise self._invalid(answer, operation, "dynamicProps.id is missing")
        reloaded = dynamic.get("configurableProps") if isinstance(dynamic, dict) else None
        missing = missing_props(reloaded if isinstance(reloaded, list) else [], configured)
        if missing:
            raise self.logged(BadRequest(missing_text(key, missing), operation=operation))
        return configured, dynamic_id

    def _definition_key(self, key: str, kind: Kind, version: str | None) -> str:
        where = hashlib.sha256(
            "\0".join((self.api_url, self.project_id, self.environment)).encode()
        ).hexdigest()[:16]
        return f"pipedream:component:{where}:{kind}:{segment(key)}:{version or 'latest'}"

    def _object(self, body: Any, operation: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise self._invalid(body, operation, "expected a JSON object")
        return body


def _singular(kind: Kind) -> str:
    return {"components": "component", "actions": "action", "triggers": "trigger"}[kind]


def app_prop(component: dict[str, Any], app_slug: str | None = None) -> dict[str, Any] | None:
    """The component's prop of type "app" (for `app_slug`, when given), or None."""
    for prop in component.get("configurable_props") or []:
        if (
            isinstance(prop, dict)
            and prop.get("type") == "app"
            and (app_slug is None or prop.get("app") in (None, app_slug))
        ):
            return prop
    return None


def reloads_props(component: dict[str, Any]) -> bool:
    """Whether a prop of the component changes its other props (`reloadProps`)."""
    return any(
        isinstance(prop, dict) and prop.get("reloadProps")
        for prop in component.get("configurable_props") or []
    )


def missing_props(props: list[Any], configured: dict[str, Any]) -> list[dict[str, Any]]:
    """The props a run or deploy needs that `configured` lacks: not optional, not the app
    (the caller adds the account), not one Pipedream fills in (an interface, its store,
    an informational prop, one with a default), and not hidden, disabled or read-only."""
    missing = []
    for prop in props:
        if not isinstance(prop, dict) or not isinstance(prop.get("name"), str):
            continue
        kind = str(prop.get("type") or "")
        if (
            prop.get("optional")
            or kind == "app"
            or kind.startswith(("$.interface.", "$.service."))
            or kind in PROVIDED_TYPES
            or "default" in prop
            or prop.get("hidden")
            or prop.get("disabled")
            or prop.get("readOnly")
        ):
            continue
        value = configured.get(prop["name"])
        if value is None or value == "" or value == []:
            missing.append(prop)
    return missing


def missing_text(key: str, missing: list[dict[str, Any]]) -> str:
    """What a claim must add: "github-new-star needs the prop repoFullname (Repository)"."""
    named = []
    for prop in missing:
        label = prop.get("label")
        shown = f"{prop['name']} ({label})" if isinstance(label, str) and label else prop["name"]
        description = prop.get("description")
        if isinstance(description, str) and description.strip():
            shown += f": {description.strip().rstrip('.')[:200]}"
        named.append(shown)
    noun = "prop" if len(named) == 1 else "props"
    return f"{key} needs the {noun} " + "; ".join(named)

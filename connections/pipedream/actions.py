"""Actions (run for a member) and workflows (called at their HTTP trigger)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from connections.pipedream.client import PipedreamBase, compact

_ENDPOINT_ID = re.compile(r"^e[no][a-z0-9-]+$")


class Actions(PipedreamBase):
    def run_action(
        self,
        *,
        action_id: str,
        external_user_id: str,
        configured_props: dict[str, Any] | None = None,
        version: str | None = None,
        dynamic_props_id: str | None = None,
        stash_id: str | bool | None = None,
    ) -> dict[str, Any]:
        """Run an action for a user; returns {"exports", "os", "ret", "stash_id"}."""
        operation = f"run action {action_id}"
        payload = compact(
            {
                "id": action_id,
                "external_user_id": external_user_id,
                "configured_props": configured_props,
                "version": version,
                "dynamic_props_id": dynamic_props_id,
                "stash_id": stash_id,
            }
        )
        body = self._request_json(
            "POST", self._project_path("actions", "run"), operation=operation, json_body=payload
        )
        if not isinstance(body, dict):
            raise self._invalid(body, operation, "expected a JSON object")
        for key, default in (("exports", {}), ("os", []), ("ret", None), ("stash_id", None)):
            body.setdefault(key, default)
        return body

    def invoke_workflow(
        self, url: str, *, external_user_id: str, body: Any = None, method: str = "POST"
    ) -> Any:
        """Call a workflow's HTTP trigger as `external_user_id`; returns JSON or text.

        `url` is the trigger's absolute URL (or a bare endpoint id such as `en123abc`).
        A POST is never retried after it may have reached the workflow; when it fails
        after that, the error's `outcome_unknown` is True.
        """
        if _ENDPOINT_ID.match(url):
            url = f"https://{url}.m.pipedream.net"
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"A workflow URL must be absolute http(s), not {url!r}")
        method = method.upper()
        idempotent = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        response = self._call(
            method,
            url,
            operation="invoke a workflow",
            idempotent=idempotent,
            json_body=body,
            extra_headers={"X-PD-External-User-ID": external_user_id},
        )
        if not response.content:
            return None
        if "json" in response.headers.get("Content-Type", ""):
            return self._parse_json(response, "invoke a workflow", outcome_unknown=not idempotent)
        return response.text

"""The app catalogue."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connections.pipedream.client import PipedreamBase, compact, flag, segment


class Apps(PipedreamBase):
    def iter_apps(
        self,
        *,
        q: str | None = None,
        limit: int | None = None,
        sort_key: str | None = None,
        sort_direction: str | None = None,
        has_actions: bool | None = None,
        has_triggers: bool | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every app matching the filters, across all pages (`limit` is the page size)."""
        params = compact(
            {
                "q": q,
                "limit": limit,
                "sort_key": sort_key,
                "sort_direction": sort_direction,
                "has_actions": flag(has_actions),
                "has_triggers": flag(has_triggers),
            }
        )
        return self._paginate("/v1/connect/apps", params, "list apps")

    def list_apps(self, **filters: Any) -> list[dict[str, Any]]:
        return list(self.iter_apps(**filters))

    def get_app(self, app_id: str) -> dict[str, Any]:
        operation = f"get app {app_id}"
        body = self._request_json(
            "GET", f"/v1/connect/apps/{segment(app_id)}", operation=operation, idempotent=True
        )
        # The app comes wrapped in {"data": App}, unlike an account.
        if isinstance(body, dict) and isinstance(body.get("data"), dict):
            body = body["data"]
        body = self._require(body, ("name_slug",), operation)
        return body

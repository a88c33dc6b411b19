"""Connected accounts and external users."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connections.pipedream.client import PipedreamBase, compact


class Accounts(PipedreamBase):
    def iter_accounts(
        self,
        *,
        external_user_id: str | None = None,
        app: str | None = None,
        oauth_app_id: str | None = None,
        include_credentials: bool = False,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every account matching the filters, across all pages.

        `app` is a slug or `app_...` id (Pipedream's query parameter is `app`, not
        `app_id`); `limit` is the page size asked of Pipedream, not a cap on the total.
        """
        params = compact(
            {
                "external_user_id": external_user_id,
                "app": app,
                "oauth_app_id": oauth_app_id,
                "include_credentials": "true" if include_credentials else None,
                "limit": limit,
            }
        )
        return self._paginate(self._project_path("accounts"), params, "list accounts")

    def list_accounts(self, **filters: Any) -> list[dict[str, Any]]:
        return list(self.iter_accounts(**filters))

    def get_account(self, account_id: str, *, include_credentials: bool = False) -> dict[str, Any]:
        operation = f"get account {account_id}"
        body = self._request_json(
            "GET",
            self._project_path("accounts", account_id),
            operation=operation,
            idempotent=True,
            params={"include_credentials": "true"} if include_credentials else None,
        )
        # Older API versions wrapped the account in {"data": {...}}; today it is bare.
        if isinstance(body, dict) and "id" not in body and isinstance(body.get("data"), dict):
            body = body["data"]
        body = self._require(body, ("id",), operation)
        return body

    def delete_account(self, account_id: str) -> None:
        """Delete one connected account. A 404 raises NotFound: the caller decides."""
        self._call(
            "DELETE",
            self.api_url + self._project_path("accounts", account_id),
            operation=f"delete account {account_id}",
            idempotent=True,
        )

    def delete_external_user(self, external_user_id: str) -> None:
        """Delete an external user and every account and resource Pipedream holds for them."""
        self._call(
            "DELETE",
            self.api_url + self._project_path("users", external_user_id),
            operation=f"delete external user {external_user_id}",
            idempotent=True,
        )

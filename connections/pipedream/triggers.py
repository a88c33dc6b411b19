"""Deployed triggers: deploy one for a member, read, change, pause and delete it, read its
events and the webhooks it sends them to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connections.pipedream.client import PipedreamBase, compact, flag


class Triggers(PipedreamBase):
    def deploy_trigger(
        self,
        *,
        trigger_id: str,
        external_user_id: str,
        configured_props: dict[str, Any] | None = None,
        webhook_url: str | None = None,
        workflow_id: str | None = None,
        dynamic_props_id: str | None = None,
        emit_on_deploy: bool | None = None,
    ) -> dict[str, Any]:
        """Deploy trigger component `trigger_id` for a user; returns the deployed trigger.

        The answer (DeployedComponent) may hold `webhook_signing_key` (when
        `webhook_url` is given): it is kept in the returned dict for the caller to store,
        and is a secret: it is never logged and is redacted from exceptions. Never
        retried once it may have reached Pipedream: a second deploy is a second trigger.
        """
        operation = f"deploy trigger {trigger_id}"
        payload = compact(
            {
                "id": trigger_id,
                "external_user_id": external_user_id,
                "configured_props": configured_props,
                "webhook_url": webhook_url,
                "workflow_id": workflow_id,
                "dynamic_props_id": dynamic_props_id,
                "emit_on_deploy": emit_on_deploy,
            }
        )
        body = self._request_json(
            "POST",
            self._project_path("triggers", "deploy"),
            operation=operation,
            idempotent=False,
            json_body=payload,
            quote_body=False,  # a truncated answer could still hold the signing key
        )
        return self._emitter(body, operation)

    def iter_deployed_triggers(
        self, *, external_user_id: str, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every trigger deployed for a user, across all pages (`limit` is the page size)."""
        params = compact({"external_user_id": external_user_id, "limit": limit})
        return self._paginate(
            self._project_path("deployed-triggers"), params, "list deployed triggers"
        )

    def list_deployed_triggers(
        self, *, external_user_id: str, limit: int | None = None
    ) -> list[dict[str, Any]]:
        return list(self.iter_deployed_triggers(external_user_id=external_user_id, limit=limit))

    def get_deployed_trigger(self, trigger_id: str, *, external_user_id: str) -> dict[str, Any]:
        operation = f"get deployed trigger {trigger_id}"
        body = self._request_json(
            "GET",
            self._project_path("deployed-triggers", trigger_id),
            operation=operation,
            idempotent=True,
            params={"external_user_id": external_user_id},
            quote_body=False,
        )
        return self._emitter(body, operation)

    def update_deployed_trigger(
        self,
        trigger_id: str,
        *,
        external_user_id: str,
        active: bool | None = None,
        configured_props: dict[str, Any] | None = None,
        name: str | None = None,
        emit_on_deploy: bool | None = None,
    ) -> dict[str, Any]:
        """Change a deployed trigger (only the fields given); returns it as it now is.

        A PUT of absolute values, so sending it twice is harmless: retried like a read.
        """
        operation = f"update deployed trigger {trigger_id}"
        payload = compact(
            {
                "active": active,
                "configured_props": configured_props,
                "name": name,
                "emit_on_deploy": emit_on_deploy,
            }
        )
        body = self._request_json(
            "PUT",
            self._project_path("deployed-triggers", trigger_id),
            operation=operation,
            idempotent=True,
            params={"external_user_id": external_user_id},
            json_body=payload,
            quote_body=False,
        )
        return self._emitter(body, operation)

    def pause_deployed_trigger(self, trigger_id: str, *, external_user_id: str) -> dict[str, Any]:
        return self.update_deployed_trigger(
            trigger_id, external_user_id=external_user_id, active=False
        )

    def resume_deployed_trigger(self, trigger_id: str, *, external_user_id: str) -> dict[str, Any]:
        return self.update_deployed_trigger(
            trigger_id, external_user_id=external_user_id, active=True
        )

    def delete_deployed_trigger(
        self, trigger_id: str, *, external_user_id: str, ignore_hook_errors: bool | None = None
    ) -> None:
        """Delete a deployed trigger. A 404 raises NotFound: the caller decides.

        Retried like any DELETE, so a retry after a lost answer may meet that 404.
        """
        self._call(
            "DELETE",
            self.api_url + self._project_path("deployed-triggers", trigger_id),
            operation=f"delete deployed trigger {trigger_id}",
            idempotent=True,
            params=compact(
                {
                    "external_user_id": external_user_id,
                    "ignore_hook_errors": flag(ignore_hook_errors),
                }
            ),
        )

    def list_trigger_events(
        self, trigger_id: str, *, external_user_id: str, n: int | None = None
    ) -> list[dict[str, Any]]:
        """The trigger's most recent events (Pipedream's default is 20)."""
        operation = f"list the events of deployed trigger {trigger_id}"
        body = self._request_json(
            "GET",
            self._project_path("deployed-triggers", trigger_id, "events"),
            operation=operation,
            idempotent=True,
            params=compact({"external_user_id": external_user_id, "n": n}),
            quote_body=False,  # events are the member's data
        )
        events = body.get("data") if isinstance(body, dict) else None
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise self._invalid(body, operation, "expected an object with a list of objects `data`")
        return events

    def list_trigger_webhooks(self, trigger_id: str, *, external_user_id: str) -> list[str]:
        operation = f"list the webhooks of deployed trigger {trigger_id}"
        body = self._request_json(
            "GET",
            self._project_path("deployed-triggers", trigger_id, "webhooks"),
            operation=operation,
            idempotent=True,
            params={"external_user_id": external_user_id},
            quote_body=False,  # the `webhooks` objects may hold signing keys
        )
        return self._webhook_urls(body, operation)

    def update_trigger_webhooks(
        self, trigger_id: str, *, external_user_id: str, webhook_urls: list[str]
    ) -> list[str]:
        """Replace the URLs the trigger sends its events to; returns the URLs now set."""
        if isinstance(webhook_urls, str) or not all(isinstance(u, str) for u in webhook_urls):
            raise ValueError("webhook_urls must be a list of URLs")
        operation = f"update the webhooks of deployed trigger {trigger_id}"
        body = self._request_json(
            "PUT",
            self._project_path("deployed-triggers", trigger_id, "webhooks"),
            operation=operation,
            idempotent=True,
            params={"external_user_id": external_user_id},
            json_body={"webhook_urls": list(webhook_urls)},
            quote_body=False,
        )
        return self._webhook_urls(body, operation)

    def _emitter(self, body: Any, operation: str) -> dict[str, Any]:
        """The deployed trigger in a `{"data": Emitter}` answer."""
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise self._invalid(body, operation, "expected an object with an object `data`")
        if not isinstance(data.get("id"), str) or not data["id"]:
            raise self._invalid(body, operation, "the field data.id is missing or not text")
        return data

    def _webhook_urls(self, body: Any, operation: str) -> list[str]:
        """`webhook_urls` of a GetTriggerWebhooksResponse (bare, not wrapped in `data`)."""
        urls = body.get("webhook_urls") if isinstance(body, dict) else None
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise self._invalid(
                body, operation, "expected an object with a list of URLs `webhook_urls`"
            )
        return urls

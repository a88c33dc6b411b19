"""Pipedream trigger test helpers: URLs and payload builders (faithful to the published
description: tests/contract/test_pipedream_triggers_contract.py checks them)."""

from tests.connections.pipedream_support import API, PROJECT

DEPLOY_URL = f"{API}/v1/connect/{PROJECT}/triggers/deploy"
DEPLOYED_URL = f"{API}/v1/connect/{PROJECT}/deployed-triggers"
TRIGGER = "dc_abc123"
TRIGGER_URL = f"{DEPLOYED_URL}/{TRIGGER}"
SIGNING_KEY = "whsk-signing-key-never-shown-0123456789"
USER = "user-1"
HOOK = "https://claims.example.com/connect/trigger-events/"


def deployed_trigger_body(
    trigger_id: str = TRIGGER, *, active: bool = True, signing_key: str | None = None
) -> dict:
    body = {
        "id": trigger_id,
        "owner_id": "exu_abc123",
        "component_id": "sc_abc123",
        "component_key": "github-new-star",
        "configurable_props": [],
        # Empty: a non-empty map trips the description's ConfiguredPropValue oneOf
        # (see tests/contract).
        "configured_props": {},
        "active": active,
        "created_at": 1754020000000,
        "updated_at": 1754020000000,
        "name": "New star",
        "name_slug": "new-star",
        "emit_on_deploy": True,
        "type": "DeployedComponent",
    }
    if signing_key is not None:
        body["webhook_signing_key"] = signing_key
    return body


def event_body(event_id: str = "1754020000000-0") -> dict:
    return {
        "e": {"starred_at": "2025-08-01T04:04:03Z"},
        "k": "emit",
        "ts": 1754020000000,
        "id": event_id,
    }


def webhooks_body(urls: list[str], *, signing_key: str | None = None) -> dict:
    hooks = []
    for number, url in enumerate(urls):
        hook = {"id": f"wh_{number}", "url": url, "signing_key_set": signing_key is not None}
        if signing_key is not None:
            hook["signing_key"] = signing_key
        hooks.append(hook)
    return {"webhook_urls": urls, "webhooks": hooks}

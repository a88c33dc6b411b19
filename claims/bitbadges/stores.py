"""Dynamic stores: the lists of addresses a claim can check, changed by this site."""

from __future__ import annotations

from claims.bitbadges.client import (
    OP_STORE_ADD,
    OP_STORE_CONTAINS,
    OP_STORE_REMOVE,
    BitBadgesBase,
    checked_address,
    segment,
)


class Stores(BitBadgesBase):
    def store_add(self, store_id: str, secret: str, address: str) -> None:
        """Add `address` to a dynamic store (queued by BitBadges: visible in 1-2 s)."""
        self._store_action("add", OP_STORE_ADD, store_id, secret, address)

    def store_remove(self, store_id: str, secret: str, address: str) -> None:
        self._store_action("remove", OP_STORE_REMOVE, store_id, secret, address)

    def _store_action(
        self, action: str, operation: str, store_id: str, secret: str, address: str
    ) -> None:
        address = checked_address(address, operation)
        segment(store_id, "dynamic store id", operation)
        self._call(
            "POST",
            "/api/v0/storeActions/single",
            operation=operation,
            # Adding an address twice, or removing it twice, leaves the same store.
            idempotent=True,
            mutating=True,
            json_body={
                "dynamicDataId": store_id,
                "dataSecret": secret,
                "actionName": action,
                "payload": {"address": address},
            },
            secrets=(secret,),
        )

    def store_contains(self, store_id: str, secret: str, address: str) -> bool:
        operation = OP_STORE_CONTAINS
        address = checked_address(address, operation)
        path = f"/api/v0/dynamicStore/{segment(store_id, 'dynamic store id', operation)}/value"
        body = self._request_json(
            "GET",
            path,
            operation=operation,
            idempotent=True,
            params={"key": address, "dataSecret": secret},
            secrets=(secret,),
        )
        in_store = body.get("inStore") if isinstance(body, dict) else None
        if not isinstance(in_store, bool):
            raise self._invalid(body, operation, "the field inStore is missing or not true/false")
        return in_store

"""The emulated BitBadges' dynamic stores: store actions (queued, landing
`SANDBOX_BITBADGES_STORE_LAG` seconds later), a store's value, and helpers for tests."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from sandbox.bitbadges.base import (
    BAD_SECRET,
    STORE_NOT_FOUND,
    BitBadgesError,
    bb_address,
    store_lag,
)
from sandbox.bitbadges.models import (
    BitBadgesStore,
    BitBadgesStoreAction,
    BitBadgesStoreEntry,
)


def store_actions_apply_due() -> int:
    """Apply the store actions whose time has come, in order; the number applied."""
    applied = 0
    now = timezone.now()
    due = BitBadgesStoreAction.objects.filter(  # due as attempts._anything_due says it
        applied_at__isnull=True, effective_at__lte=now
    )
    for pk in due.order_by("effective_at", "pk").values_list("pk", flat=True):
        with transaction.atomic():
            action = (
                BitBadgesStoreAction.objects.select_for_update()
                .filter(pk=pk, applied_at__isnull=True)
                .first()
            )
            if action is None:  # applied by a concurrent request
                continue
            if action.action == BitBadgesStoreAction.Name.ADD:
                try:
                    with transaction.atomic():
                        BitBadgesStoreEntry.objects.get_or_create(
                            store_id=action.store_id, address=action.address
                        )
                except IntegrityError:
                    pass  # added concurrently: the address is in, which is the point
            else:
                BitBadgesStoreEntry.objects.filter(
                    store_id=action.store_id, address=action.address
                ).delete()
            action.applied_at = timezone.now()
            action.save(update_fields=["applied_at"])
            applied += 1
    return applied


# --- Dynamic stores ------------------------------------------------------------------


def _store(dynamic_data_id, data_secret) -> BitBadgesStore:
    """The store, checked against its secret. unconfirmed: no source gives the store
    routes' status for an unknown store or a wrong secret; the OpenAPI lists 200/400/500
    only, so 500 with the documented claim-time texts (DOCS@1951c5c plugins.md)."""
    if not isinstance(dynamic_data_id, str) or not dynamic_data_id:
        raise BitBadgesError(400, "dynamicDataId is required.")
    store = None
    if len(dynamic_data_id) <= 100 and "\x00" not in dynamic_data_id:
        store = BitBadgesStore.objects.filter(dynamic_data_id=dynamic_data_id).first()
    if store is None:
        raise BitBadgesError(500, STORE_NOT_FOUND)
    if not isinstance(data_secret, str) or not secrets.compare_digest(
        data_secret.encode(), store.data_secret.encode()
    ):
        raise BitBadgesError(500, BAD_SECRET)
    return store


@dataclass
class StoreAction:
    name: str
    address: str


def parse_store_action(action_name, payload) -> StoreAction:
    if action_name not in BitBadgesStoreAction.Name.values:
        raise BitBadgesError(400, f"Invalid actionName {action_name!r}: use add or remove.")
    if not isinstance(payload, dict) or "address" not in payload:
        raise BitBadgesError(
            400, "payload.address is required: stores hold addresses only (0x or bb1)."
        )
    # unconfirmed: a malformed address in a store action's payload stays a 400 (the
    # OpenAPI's "Invalid configuration or request"); no source gives it.
    return StoreAction(action_name, bb_address(payload["address"], status=400))


def store_actions_record(
    dynamic_data_id, data_secret, actions: list[StoreAction], *, simulate: bool = False
) -> None:
    """Queue validated actions on a store; they land after the store lag."""
    store = _store(dynamic_data_id, data_secret)
    if simulate:
        return
    now = timezone.now()
    effective = now + timedelta(seconds=store_lag())
    BitBadgesStoreAction.objects.bulk_create(
        BitBadgesStoreAction(
            store=store,
            action=a.name,
            address=bb_address(a.address, status=400),
            created_at=now,
            effective_at=effective,
        )
        for a in actions
    )


def store_value(dynamic_data_id, data_secret, key) -> dict:
    store = _store(dynamic_data_id, data_secret)
    if not isinstance(key, str) or not key:
        raise BitBadgesError(400, "key is required.")
    address = bb_address(key, status=400)  # unconfirmed, as for store actions
    return {"key": key, "inStore": store.entries.filter(address=address).exists()}


def store_create(*, label="", store_id=None, secret=None) -> BitBadgesStore:
    return BitBadgesStore.objects.create(
        dynamic_data_id=store_id or secrets.token_hex(16),
        data_secret=secret or secrets.token_hex(24),
        label=label,
    )


def store_contains(store_id: str, address: str) -> bool:
    """Whether the address is in the store now (landed actions only)."""
    store_actions_apply_due()
    return BitBadgesStoreEntry.objects.filter(
        store__dynamic_data_id=store_id, address=bb_address(address)
    ).exists()

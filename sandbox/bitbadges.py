"""The emulated BitBadges claims service: claims, their plugins, attempts, dynamic stores.

The HTTP layer is sandbox/bitbadges_api.py; this module is what it (and tests, and the
demo Pipedream workflow) call directly. See shared/docs/bitbadges-api.md.

How it behaves, and where it picks one reading of what the docs leave open:
- A completion is simulated first (the plugins are checked against the current state);
  a failure is answered at once and queues nothing. A pass queues an attempt that
  resolves `SANDBOX_BITBADGES_ATTEMPT_DELAY` seconds later (default 1.0). Nothing runs
  in the background: every sandbox request (and the helpers here) first resolves the
  attempts that are due, checking the plugins again under a lock on the claim row, so
  a claim used up in between fails then, and two resolvers never take one claim number.
- Store actions land `SANDBOX_BITBADGES_STORE_LAG` seconds (default 1.5) after they
  were sent, applied lazily in the same way.
- Addresses are accepted as 0x (EIP-55 when mixed case) or bb1 and kept as bb1.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from sandbox.models import (
    BitBadgesAttempt,
    BitBadgesClaim,
    BitBadgesStore,
    BitBadgesStoreAction,
    BitBadgesStoreEntry,
)
from users.addresses import to_bitbadges_address

ADDRESS_ERROR = "Could not convert. Please make sure inputted address is well-formed"
NO_DOC = "No doc found"
BAD_CLAIM_ID = "Invalid claimId format"
VERSION_MISMATCH = "Claim has been updated since last fetch"
STORE_NOT_FOUND = "Dynamic data doc not found"
BAD_SECRET = "Invalid data secret"
SIMULATED_ATTEMPT_ID = "0" * 64
PENDING_SHAPES = ("no-doc", "false-empty", "missing")

CLAIM_ID_RE = re.compile(r"^[0-9a-fA-F]{1,64}$")

# Plugin ids, instance ids and display names (the wrapped error names the plugin).
PLUGIN_NAMES = {
    "numUses": "Number of Uses",
    "halt": "Halt",
    "transferTimes": "Transfer Times",
    "whitelist": "Whitelist",
    "password": "Password",
    "custom-instructions": "Custom Instructions",
}


class BitBadgesError(Exception):
    """A refusal, answered as {"errorMessage": message} with `status`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class PluginFailure(Exception):
    def __init__(self, plugin_id: str, message: str):
        super().__init__(message)
        self.plugin_id = plugin_id
        self.message = message

    def __str__(self):
        return (
            f"One or more of the challenges were not satisfied "
            f"({PLUGIN_NAMES[self.plugin_id]}) : {self.message}"
        )


# --- Settings ------------------------------------------------------------------------


def attempt_delay() -> float:
    return float(getattr(settings, "SANDBOX_BITBADGES_ATTEMPT_DELAY", 1.0))


def store_lag() -> float:
    return float(getattr(settings, "SANDBOX_BITBADGES_STORE_LAG", 1.5))


def pending_shape() -> str:
    shape = getattr(settings, "SANDBOX_BITBADGES_PENDING_SHAPE", "false-empty")
    return shape if shape in PENDING_SHAPES else "false-empty"


# --- Addresses and ids ---------------------------------------------------------------


def bb_address(value) -> str:
    """The bb1 form of a 0x or bb1 address; BitBadgesError 400 for anything else."""
    try:
        return to_bitbadges_address(value)
    except ValidationError:
        raise BitBadgesError(400, ADDRESS_ERROR) from None


def check_claim_id(claim_id: str) -> None:
    if not isinstance(claim_id, str) or not CLAIM_ID_RE.match(claim_id):
        raise BitBadgesError(400, BAD_CLAIM_ID)


def claim_get(claim_id: str) -> BitBadgesClaim:
    check_claim_id(claim_id)
    claim = BitBadgesClaim.objects.filter(claim_id=claim_id).first()
    if claim is None:
        raise BitBadgesError(404, NO_DOC)
    return claim


# --- Lazy work: due attempts and due store actions -----------------------------------


def tick() -> None:
    """What a request does first: land due store actions, then resolve due attempts."""
    store_actions_apply_due()
    attempts_resolve_due()


def store_actions_apply_due() -> int:
    """Apply the store actions whose time has come, in order; the number applied."""
    applied = 0
    now = timezone.now()
    due = BitBadgesStoreAction.objects.filter(applied_at__isnull=True, effective_at__lte=now)
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


def attempts_resolve_due() -> int:
    """Resolve the queued attempts that are due (plugins checked again); the number resolved."""
    store_actions_apply_due()
    resolved = 0
    due = BitBadgesAttempt.objects.filter(
        status=BitBadgesAttempt.Status.PENDING, due_at__lte=timezone.now()
    )
    for pk, claim_pk in due.order_by("due_at", "pk").values_list("pk", "claim_id"):
        with transaction.atomic():
            # The claim row first: attempts on one claim resolve one at a time.
            claim = BitBadgesClaim.objects.select_for_update().filter(pk=claim_pk).first()
            attempt = (
                BitBadgesAttempt.objects.select_for_update()
                .filter(pk=pk, status=BitBadgesAttempt.Status.PENDING)
                .first()
            )
            if claim is None or attempt is None:
                continue
            try:
                check_plugins(claim, attempt.address, attempt.body)
            except PluginFailure as failure:
                attempt.status = BitBadgesAttempt.Status.FAILED
                attempt.error = f"Error: {failure}"
            else:
                attempt.status = BitBadgesAttempt.Status.SUCCESS
                attempt.claim_number = claim.num_uses
                claim.num_uses += 1
                claim.save(update_fields=["num_uses"])
            attempt.resolved_at = timezone.now()
            attempt.save(update_fields=["status", "error", "claim_number", "resolved_at"])
            resolved += 1
    return resolved


# --- Plugins -------------------------------------------------------------------------


def plugin_ids(claim: BitBadgesClaim) -> list[str]:
    """The claim's plugin instances, in the order they are checked."""
    ids = ["numUses"]
    if claim.halted:
        ids.append("halt")
    if claim.window_start or claim.window_end:
        ids.append("transferTimes")
    if claim.whitelist is not None or claim.store_id:
        ids.append("whitelist")
    if claim.password:
        ids.append(claim.password_instance_id)
    if claim.instructions:
        ids.append("custom-instructions")
    return ids


def plugin_id_of(claim: BitBadgesClaim, instance_id: str) -> str:
    if claim.password and instance_id == claim.password_instance_id:
        return "password"
    return instance_id


def successes(claim: BitBadgesClaim, address: str | None = None):
    attempts = claim.attempts.filter(status=BitBadgesAttempt.Status.SUCCESS)
    return attempts.filter(address=address) if address else attempts


def _store_has(claim: BitBadgesClaim, address: str) -> bool:
    store = BitBadgesStore.objects.filter(dynamic_data_id=claim.store_id).first()
    if store is None:
        raise PluginFailure("whitelist", STORE_NOT_FOUND)
    if not secrets.compare_digest(store.data_secret.encode(), claim.store_secret.encode()):
        raise PluginFailure("whitelist", BAD_SECRET)
    return store.entries.filter(address=address).exists()


def check_plugins(
    claim: BitBadgesClaim, address: str, body: dict, only: list[str] | None = None
) -> None:
    """Raise PluginFailure unless every plugin (or those in `only`, plus numUses) passes."""
    now = timezone.now()
    for instance_id in plugin_ids(claim):
        if only is not None and instance_id != "numUses" and instance_id not in only:
            continue
        plugin = plugin_id_of(claim, instance_id)
        if plugin == "numUses":
            if claim.num_uses >= claim.max_uses:
                raise PluginFailure(plugin, "Overall max uses exceeded")
        elif plugin == "halt":
            raise PluginFailure(plugin, "Claim halted")
        elif plugin == "transferTimes":
            if (claim.window_start and now < claim.window_start) or (
                claim.window_end and now > claim.window_end
            ):
                raise PluginFailure(plugin, "We are currently outside the approved time window.")
        elif plugin == "whitelist":
            listed = (
                _store_has(claim, address) if claim.store_id else address in (claim.whitelist or [])
            )
            if not listed:
                raise PluginFailure(plugin, "User not in whitelist")
            limit = claim.max_uses_per_address
            if limit is not None and successes(claim, address).count() >= limit:
                raise PluginFailure(plugin, "User already exceeded max uses")
        elif plugin == "password":
            given = body.get(instance_id)
            password = given.get("password") if isinstance(given, dict) else None
            if not isinstance(password, str) or not secrets.compare_digest(
                password.encode(), claim.password.encode()
            ):
                raise PluginFailure(plugin, "Incorrect password")
        # custom-instructions: always passes.


# --- Complete, simulate, status ------------------------------------------------------


def _expected_version(claim: BitBadgesClaim, body: dict) -> None:
    if "_expectedVersion" not in body:
        raise BitBadgesError(400, "_expectedVersion is required (the claim's version, or -1).")
    value = body["_expectedVersion"]
    if isinstance(value, str):  # older docs send '0'
        try:
            value = int(value)
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BitBadgesError(400, "_expectedVersion must be a number.")
    if value != -1 and value != claim.version:
        raise BitBadgesError(400, VERSION_MISMATCH)


def _only(body: dict) -> list[str] | None:
    only = body.get("_specificInstanceIds")
    if only is None:
        return None
    if not isinstance(only, list) or not all(isinstance(item, str) for item in only):
        raise BitBadgesError(400, "_specificInstanceIds must be an array of strings.")
    return only


def _plugin_inputs(body: dict) -> dict:
    return {key: value for key, value in body.items() if not key.startswith("_")}


def simulate(claim_id: str, address: str, body: dict) -> str:
    """Check a completion without queuing it: the placeholder attempt id, or BitBadgesError."""
    tick()
    claim = claim_get(claim_id)
    bb = bb_address(address)
    _expected_version(claim, body)
    try:
        check_plugins(claim, bb, body, _only(body))
    except PluginFailure as failure:
        raise BitBadgesError(400, str(failure)) from None
    return SIMULATED_ATTEMPT_ID


def complete(claim_id: str, address: str, body: dict) -> BitBadgesAttempt:
    """Simulate, then queue an attempt (returned); BitBadgesError when the simulation fails.

    Every call that reaches a claim is recorded (complete_calls counts them), refused
    ones with the status "rejected".
    """
    tick()
    claim = claim_get(claim_id)
    bb = bb_address(address)
    now = timezone.now()
    attempt = BitBadgesAttempt(
        attempt_id=secrets.token_hex(32),
        claim=claim,
        address=bb,
        body=_plugin_inputs(body),
        created_at=now,
        due_at=now + timedelta(seconds=attempt_delay()),
        status=BitBadgesAttempt.Status.PENDING,
    )
    try:
        _expected_version(claim, body)
        check_plugins(claim, bb, body, _only(body))
    except (BitBadgesError, PluginFailure) as exc:
        error = exc if isinstance(exc, BitBadgesError) else BitBadgesError(400, str(exc))
        attempt.status = BitBadgesAttempt.Status.REJECTED
        attempt.error = error.message
        attempt.resolved_at = now
        attempt.save()
        raise error from None
    attempt.save()
    return attempt


def attempt_status(attempt_id: str) -> tuple[int, dict]:
    """(status code, body) for GET/POST claims/status/{attempt_id}."""
    if attempt_id == SIMULATED_ATTEMPT_ID:
        return 200, {"success": True, "error": "", "bitbadgesAddress": ""}
    attempt = (
        BitBadgesAttempt.objects.exclude(status=BitBadgesAttempt.Status.REJECTED)
        .filter(attempt_id=attempt_id)
        .first()
    )
    if attempt is None:
        return 404, {"errorMessage": NO_DOC}
    if attempt.status == BitBadgesAttempt.Status.PENDING:
        shape = pending_shape()
        if shape == "no-doc":
            return 500, {"errorMessage": NO_DOC}
        if shape == "missing":
            return 200, {"bitbadgesAddress": attempt.address}
        return 200, {"success": False, "error": "", "bitbadgesAddress": attempt.address}
    return 200, {
        "success": attempt.status == BitBadgesAttempt.Status.SUCCESS,
        "error": attempt.error,
        "bitbadgesAddress": attempt.address,
    }


def success_check(claim_id: str, address: str) -> dict:
    claim = claim_get(claim_id)
    bb = bb_address(address)
    numbers = list(
        successes(claim, bb).order_by("claim_number").values_list("claim_number", flat=True)
    )
    return {"successCount": len(numbers), "claimNumbers": numbers}


# --- Claim documents -----------------------------------------------------------------


def _ms(value) -> str:
    return str(int(value.timestamp() * 1000))


def _plugin(instance_id, plugin_id, public_params, private_params, public_state, private):
    return {
        "instanceId": instance_id,
        "pluginId": plugin_id,
        "version": "0",
        "publicParams": public_params,
        "privateParams": private_params if private else {},
        "publicState": public_state,
    }


def claimed_users(claim: BitBadgesClaim) -> dict[str, list[int]]:
    users: dict[str, list[int]] = {}
    for address, number in (
        successes(claim).order_by("claim_number").values_list("address", "claim_number")
    ):
        users.setdefault(address, []).append(number)
    return users


def claim_json(claim: BitBadgesClaim, *, private: bool = False, claimed: bool = False) -> dict:
    """The claim as iClaimDetails: numbers as strings where BitBadges uses NumberType."""
    plugins = []
    for instance_id in plugin_ids(claim):
        plugin = plugin_id_of(claim, instance_id)
        if plugin == "numUses":
            state = {
                "numUses": claim.num_uses,
                "usedClaimNumbers": list(range(claim.num_uses)),
            }
            if claimed:
                state["claimedUsers"] = claimed_users(claim)
            plugins.append(
                _plugin(instance_id, plugin, {"maxUses": claim.max_uses}, {}, state, private)
            )
        elif plugin == "halt":
            plugins.append(_plugin(instance_id, plugin, {}, {}, {}, private))
        elif plugin == "transferTimes":
            start = _ms(claim.window_start) if claim.window_start else "1"
            end = _ms(claim.window_end) if claim.window_end else "18446744073709551615"
            plugins.append(
                _plugin(
                    instance_id,
                    plugin,
                    {"transferTimes": [{"start": start, "end": end}]},
                    {},
                    {},
                    private,
                )
            )
        elif plugin == "whitelist":
            public = {}
            if claim.max_uses_per_address is not None:
                public["maxUsesPerAddress"] = claim.max_uses_per_address
            if claim.store_id:
                secret_params = {
                    "useDynamicStore": True,
                    "dynamicDataId": claim.store_id,
                    "dataSecret": claim.store_secret,
                }
            else:
                secret_params = {"list": {"addresses": list(claim.whitelist or [])}}
            plugins.append(_plugin(instance_id, plugin, public, secret_params, {}, private))
        elif plugin == "password":
            plugins.append(
                _plugin(instance_id, plugin, {}, {"password": claim.password}, {}, private)
            )
        elif plugin == "custom-instructions":
            plugins.append(
                _plugin(instance_id, plugin, {"instructions": claim.instructions}, {}, {}, private)
            )
    return {
        "_includesPrivateParams": private,
        "claimId": claim.claim_id,
        "standaloneClaim": True,
        "approach": "api",
        "plugins": plugins,
        "version": str(claim.version),
        "lastUpdated": _ms(claim.updated_at),
        "metadata": {"name": claim.label or claim.claim_id, "description": "", "image": ""},
    }


# --- Dynamic stores ------------------------------------------------------------------


def _store(dynamic_data_id, data_secret) -> BitBadgesStore:
    if not isinstance(dynamic_data_id, str) or not dynamic_data_id:
        raise BitBadgesError(400, "dynamicDataId is required.")
    store = BitBadgesStore.objects.filter(dynamic_data_id=dynamic_data_id).first()
    if store is None:
        raise BitBadgesError(404, STORE_NOT_FOUND)
    if not isinstance(data_secret, str) or not secrets.compare_digest(
        data_secret.encode(), store.data_secret.encode()
    ):
        raise BitBadgesError(401, BAD_SECRET)
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
    return StoreAction(action_name, bb_address(payload["address"]))


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
            address=bb_address(a.address),
            created_at=now,
            effective_at=effective,
        )
        for a in actions
    )


def store_value(dynamic_data_id, data_secret, key) -> dict:
    store = _store(dynamic_data_id, data_secret)
    if not isinstance(key, str) or not key:
        raise BitBadgesError(400, "key is required.")
    return {"key": key, "inStore": store.entries.filter(address=bb_address(key)).exists()}


# --- Helpers for tests and demos (no HTTP) -------------------------------------------


def claim_create(
    *,
    claim_id=None,
    label="",
    max_uses=100,
    password=None,
    password_instance_id="pwd",  # noqa: S107 (an instance id, not a password)
    whitelist=None,
    store=None,
    max_uses_per_address=None,
    halted=False,
    window=None,
    version=0,
    instructions="",
) -> BitBadgesClaim:
    """Create a claim. `store` is a BitBadgesStore or its dynamicDataId; `window` is
    (start, end) datetimes, either may be None."""
    claim_id = claim_id or secrets.token_hex(16)
    check_claim_id(claim_id)
    store_id = store_secret = ""
    if store is not None:
        if not isinstance(store, BitBadgesStore):
            store = BitBadgesStore.objects.get(dynamic_data_id=store)
        store_id, store_secret = store.dynamic_data_id, store.data_secret
    start, end = window if window else (None, None)
    return BitBadgesClaim.objects.create(
        claim_id=claim_id,
        label=label,
        max_uses=max_uses,
        password=password or "",
        password_instance_id=password_instance_id,
        whitelist=[bb_address(a) for a in whitelist] if whitelist is not None else None,
        store_id=store_id,
        store_secret=store_secret,
        max_uses_per_address=max_uses_per_address,
        halted=halted,
        window_start=start,
        window_end=end,
        version=version,
        instructions=instructions,
    )


def store_create(*, label="", store_id=None, secret=None) -> BitBadgesStore:
    return BitBadgesStore.objects.create(
        dynamic_data_id=store_id or secrets.token_hex(16),
        data_secret=secret or secrets.token_hex(24),
        label=label,
    )


def completions(claim_id: str, address: str | None = None) -> int:
    """Successful completions of a claim (by one address, in either form)."""
    attempts_resolve_due()
    claim = BitBadgesClaim.objects.get(claim_id=claim_id)
    return successes(claim, bb_address(address) if address else None).count()


def complete_calls(claim_id: str, address: str | None = None) -> int:
    """How many POST .../complete requests reached the claim, refused ones included."""
    attempts = BitBadgesAttempt.objects.filter(claim__claim_id=claim_id)
    if address:
        attempts = attempts.filter(address=bb_address(address))
    return attempts.count()


def store_contains(store_id: str, address: str) -> bool:
    """Whether the address is in the store now (landed actions only)."""
    store_actions_apply_due()
    return BitBadgesStoreEntry.objects.filter(
        store__dynamic_data_id=store_id, address=bb_address(address)
    ).exists()


DEMO = {
    "github-starter": {
        "claim_id": "5a4dbb0000000000000000000000a001",
        "label": "GitHub starter (password-gated)",
        "password_instance_id": "pwd",
        "password": "sandbox-github-starter",
    },
    "store-members": {
        "claim_id": "5a4dbb0000000000000000000000a002",
        "label": "Store members (whitelist by dynamic store)",
        "store_id": "5a4dbb00000000000000000000000d01",
        "store_secret": "sandbox-members-store-secret",
    },
    "workflow-github": {
        "claim_id": "5a4dbb0000000000000000000000a003",
        "label": "GitHub via a Pipedream workflow",
        "password_instance_id": "pwd",
        "password": "sandbox-workflow-github",
        "workflow_url_path": "/sandbox/pipedream/workflows/en-sandbox-claim-github/",
    },
}
DEMO_MAX_USES = 1_000_000


def _create_once(claim_id: str, **kwargs) -> None:
    """Create a claim unless it exists; a concurrent creator winning is fine."""
    if BitBadgesClaim.objects.filter(claim_id=claim_id).exists():
        return
    try:
        with transaction.atomic():
            claim_create(claim_id=claim_id, **kwargs)
    except IntegrityError:
        pass


def demo_claims_ensure() -> dict:
    """Create the three demo claims if absent (fixed ids); their parameters.

    Idempotent, and safe to call from concurrent requests. An existing demo claim is
    left as it is (its uses included).
    """
    for key in ("github-starter", "workflow-github"):
        demo = DEMO[key]
        _create_once(
            demo["claim_id"],
            label=demo["label"],
            max_uses=DEMO_MAX_USES,
            password=demo["password"],
            password_instance_id=demo["password_instance_id"],
        )
    members = DEMO["store-members"]
    try:
        with transaction.atomic():
            store, _ = BitBadgesStore.objects.get_or_create(
                dynamic_data_id=members["store_id"],
                defaults={"data_secret": members["store_secret"], "label": "Sandbox members"},
            )
    except IntegrityError:
        store = BitBadgesStore.objects.get(dynamic_data_id=members["store_id"])
    _create_once(
        members["claim_id"],
        label=members["label"],
        max_uses=DEMO_MAX_USES,
        store=store,
        max_uses_per_address=1,
    )
    return {
        key: {name: value for name, value in demo.items() if name != "label"}
        for key, demo in DEMO.items()
    }


def overview() -> dict:
    """What the control page shows: claims with their uses, and stores with entries."""
    tick()
    claims = []
    for claim in BitBadgesClaim.objects.annotate(
        pending=Count("attempts", filter=Q(attempts__status=BitBadgesAttempt.Status.PENDING))
    ):
        per_address = {}
        for address, count in (
            successes(claim).values_list("address").annotate(n=Count("pk")).order_by("address")
        ):
            per_address[address] = count
        claims.append(
            {
                "claim": claim,
                "plugins": [plugin_id_of(claim, i) for i in plugin_ids(claim)],
                "per_address": per_address,
                "pending": claim.pending,
            }
        )
    stores = []
    for store in BitBadgesStore.objects.prefetch_related("entries"):
        stores.append(
            {
                "store": store,
                "entries": list(store.entries.all()),
                "queued": store.actions.filter(applied_at__isnull=True).count(),
            }
        )
    return {"claims": claims, "stores": stores}

"""The emulated BitBadges' claims: their plugins and the checks they make, the claim
document (iClaimDetails) the API answers, and claim_create for tests and demos."""

import hashlib
import secrets
import struct
import zlib

from django.utils import timezone

from sandbox.bitbadges.base import (
    BAD_CLAIM_ID,
    BAD_SECRET,
    MAX_CLAIM_ID_LENGTH,
    SIGN_IN_PLUGIN_ERROR,
    SIGN_IN_ROUTE_ERROR,
    STORE_NOT_FOUND,
    BitBadgesError,
    PluginFailure,
    RouteRefusal,
    bb_address,
    check_claim_id,
    text,
    wording,
)
from sandbox.bitbadges.models import (
    BitBadgesAttempt,
    BitBadgesClaim,
    BitBadgesStore,
)

# --- Plugins -------------------------------------------------------------------------


def plugin_ids(claim: BitBadgesClaim) -> list[str]:
    """The claim's plugin instances, in the order they are checked."""
    ids = ["numUses"]
    if claim.requires_sign_in:
        ids.append("initiatedBy")
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


# Plugins checked whatever `_specificInstanceIds` names: numUses (a use is a use), and
# initiatedBy (the sandbox never has a session; IDX-2024's route-level check ignores it).
ALWAYS_CHECKED = ("numUses", "initiatedBy")


def check_claim(
    claim: BitBadgesClaim, address: str, body: dict, only: list[str] | None = None
) -> None:
    """Raise a Refusal unless the claim may be completed now by `address` with `body`.

    The route-level sign-in check first (under "idx-2024"), then every plugin (or those
    in `only`, plus numUses and initiatedBy), in order.
    """
    if claim.requires_sign_in and wording() == "idx-2024":
        raise RouteRefusal(SIGN_IN_ROUTE_ERROR)
    check_plugins(claim, address, body, only)


def check_plugins(
    claim: BitBadgesClaim, address: str, body: dict, only: list[str] | None = None
) -> None:
    """Raise PluginFailure unless every plugin (or those in `only`, plus numUses and
    initiatedBy) passes."""
    now = timezone.now()
    for instance_id in plugin_ids(claim):
        if only is not None and instance_id not in ALWAYS_CHECKED and instance_id not in only:
            continue
        plugin = plugin_id_of(claim, instance_id)
        if plugin == "numUses":
            if claim.num_uses >= claim.max_uses:
                raise PluginFailure(plugin, "Overall max uses exceeded")
        elif plugin == "initiatedBy":
            # API keys only, never a signed-in session: always refused.
            raise PluginFailure(plugin, SIGN_IN_PLUGIN_ERROR)
        elif plugin == "halt":
            raise PluginFailure(plugin, "Claim halted")
        elif plugin == "transferTimes":
            if (claim.window_start and now < claim.window_start) or (
                claim.window_end and now > claim.window_end
            ):
                raise PluginFailure(plugin, text("outside_window"))
        elif plugin == "whitelist":
            listed = (
                _store_has(claim, address) if claim.store_id else address in (claim.whitelist or [])
            )
            if not listed:
                raise PluginFailure(plugin, text("not_listed"))
            limit = claim.max_uses_per_address
            if limit is not None and successes(claim, address).count() >= limit:
                raise PluginFailure(plugin, "User already exceeded max uses")
        elif plugin == "password":
            given = body.get(instance_id) if isinstance(body, dict) else None
            password = given.get("password") if isinstance(given, dict) else None
            if not isinstance(password, str) or not secrets.compare_digest(
                password.encode(), claim.password.encode()
            ):
                raise PluginFailure(plugin, "Incorrect password")
        # custom-instructions: always passes.


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


# A claim's `image` set to this: its metadata gives no image (as claims made through the
# API often do), instead of the sandbox's generated PNG.
NO_IMAGE = "none"


def claim_json(
    claim: BitBadgesClaim, *, private: bool = False, claimed: bool = False, image_base: str = ""
) -> dict:
    """The claim as iClaimDetails: numbers as strings where BitBadges uses NumberType.

    `image_base`: the sandbox's absolute URL (…/sandbox/bitbadges/), under which its
    generated badge images are served (`badge_png`)."""
    plugins = []
    for instance_id in plugin_ids(claim):
        plugin = plugin_id_of(claim, instance_id)
        if plugin == "numUses":
            # usedClaimNumbers is a UintRange[] (SDK-HEAD interfaces.ts; DOCS plugins.md):
            # claim numbers are zero-based and handed out in order.
            taken = [{"start": "0", "end": str(claim.num_uses - 1)}] if claim.num_uses else []
            state = {"numUses": claim.num_uses, "usedClaimNumbers": taken}
            if claimed:
                state["claimedUsers"] = claimed_users(claim)
            public = {"maxUses": claim.max_uses}
            if claim.hide_current_state:
                # SDK-0.27.2 interfaces.ts:976 (numUses publicParams hideCurrentState);
                # OLD-DOCS number-of-uses.md: publicState is then {} unless the creator
                # fetches private params.
                public["hideCurrentState"] = True
                if not private:
                    state = {}
            plugins.append(_plugin(instance_id, plugin, public, {}, state, private))
        elif plugin == "initiatedBy":
            # No params (IDX-2024 src/testutil/plugins.ts:146-154; DOCS@4723311 example).
            plugins.append(_plugin(instance_id, plugin, {}, {}, {}, private))
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
    if claim.image == NO_IMAGE:
        image = ""  # iMetadata's image is a string: none given is ""
    else:
        image = claim.image or (f"{image_base}images/{claim.claim_id}.png" if image_base else "")
    details = {
        "_includesPrivateParams": private,
        "claimId": claim.claim_id,
        "standaloneClaim": not claim.collection_id,
        "approach": "api",
        "plugins": plugins,
        "version": str(claim.version),
        "lastUpdated": _ms(claim.updated_at),
        # iMetadata (SDK-HEAD interfaces.ts): the claim's badge as BitBadges shows it.
        "metadata": {
            "name": claim.label or claim.claim_id,
            "description": claim.instructions or "",
            "image": image,
        },
    }
    if claim.collection_id:
        details["collectionId"] = claim.collection_id
    return details


def badge_png(claim_id: str) -> bytes:
    """A small PNG for a sandbox claim: a disc whose colour comes from the claim id (made
    here, byte by byte: Pillow is not a dependency)."""
    digest = hashlib.sha256(claim_id.encode()).digest()
    colour = bytes((64 + digest[0] % 160, 64 + digest[1] % 160, 64 + digest[2] % 160, 255))
    clear = b"\x00\x00\x00\x00"
    size = 64
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")  # filter: none
        for x in range(size):
            inside = (x - 31.5) ** 2 + (y - 31.5) ** 2 <= 30**2
            row += colour if inside else clear
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


# --- Helpers for tests and demos (no HTTP) -------------------------------------------

_UNSET = object()


def claim_life_set(
    claim: BitBadgesClaim, *, max_uses=_UNSET, num_uses=_UNSET, halted=_UNSET, window=_UNSET
) -> BitBadgesClaim:
    """Change what BitBadges' claim builder changes of a claim's life: numUses' maxUses
    (and, as a test's shortcut, the uses taken), the halt plugin (present or not) and the
    transferTimes window ((start, end) datetimes, either None; None removes the plugin).
    The claim's version goes up, as on any update."""
    fields = {"max_uses": max_uses, "num_uses": num_uses, "halted": halted}
    for name, value in fields.items():
        if value is not _UNSET:
            setattr(claim, name, value)
    if window is not _UNSET:
        claim.window_start, claim.window_end = window if window else (None, None)
    claim.version += 1
    claim.updated_at = timezone.now()
    claim.save()
    return claim


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
    requires_sign_in=False,
    hide_current_state=False,
    image="",
    collection_id="",
) -> BitBadgesClaim:
    """Create a claim. `store` is a BitBadgesStore or its dynamicDataId; `window` is
    (start, end) datetimes, either may be None; `requires_sign_in` adds the initiatedBy
    plugin; `hide_current_state` sets numUses' hideCurrentState."""
    claim_id = claim_id or secrets.token_hex(16)
    check_claim_id(claim_id)
    if len(claim_id) > MAX_CLAIM_ID_LENGTH:
        raise BitBadgesError(500, BAD_CLAIM_ID)
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
        requires_sign_in=requires_sign_in,
        hide_current_state=hide_current_state,
        image=image,
        collection_id=collection_id,
    )

"""The BitBadges claim, looked up by its ID while the admin types it: its name, image and
plugins, and what in its set-up would fail every member (the checks a save makes,
those that need no secret). JSON for static/js/claim_form.js; the save checks again."""

from dataclasses import asdict
from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from claims import bitbadges, preflight, services
from claims.models import Claim

MAX_ID_LENGTH = 100  # Claim.bitbadges_claim_id's max_length

# What each plugin does, for the admin (BitBadges' plugin IDs, docs/fidelity.md).
PLUGIN_WORDS = {
    "password": "Password: this site completes the claim with it",
    "initiatedBy": "Sign-in: only the member, signed in to BitBadges, can complete it",
    "numUses": "Limits the number of uses",
    "whitelist": "Whitelist: only listed addresses",
    "transferTimes": "A time window",
    "halt": "Halted",
    "codes": "Claim codes",
    "email": "Email",
}
# Problems only a secret can tell (a wrong password, a store the secret cannot read):
# the save checks them with the secret typed.
_NEEDS_A_SECRET = {"password", "store_secret"}


def _image(metadata: dict) -> str:
    """An https image URL to show, or "" (ipfs: and others are left to BitBadges)."""
    image = metadata.get("image")
    if isinstance(image, str) and len(image) <= 2000 and urlsplit(image).scheme == "https":
        return image
    return ""


def _plugin(plugin: dict) -> dict:
    plugin_id = str(plugin.get("pluginId") or "")[:100]
    return {
        "id": plugin_id,
        "instance": str(plugin.get("instanceId") or "")[:100],
        "words": PLUGIN_WORDS.get(plugin_id, "Another plugin"),
    }


def _answer(status: int, problem: str) -> JsonResponse:
    return JsonResponse({"problem": problem}, status=status)


@require_GET
def bitbadges_lookup(request) -> JsonResponse:
    if not (
        request.user.has_perm("claims.add_claim") or request.user.has_perm("claims.change_claim")
    ):
        raise PermissionDenied
    claim_id = request.GET.get("id", "").strip()
    delivery = request.GET.get("delivery", "")
    instance = request.GET.get("password_instance_id", "").strip()[:MAX_ID_LENGTH]
    store_id = request.GET.get("store_id", "").strip()[:MAX_ID_LENGTH]
    if not claim_id:
        return _answer(400, "Type the BitBadges claim ID to look it up.")
    if len(claim_id) > MAX_ID_LENGTH or any(c.isspace() or ord(c) < 32 for c in claim_id):
        return _answer(400, "This is not a BitBadges claim ID: copy it from the claim builder.")
    if delivery and delivery not in Claim.Delivery.values:
        return _answer(400, "Choose a delivery method from the list.")
    try:
        found = bitbadges.get_client().get_claim(claim_id)
    except bitbadges.ClaimNotFound:
        return _answer(
            404, f"BitBadges has no claim {claim_id!r}. Copy the ID from the claim builder."
        )
    except bitbadges.BitBadgesError as exc:
        return _answer(
            503, f"BitBadges could not be asked ({exc.message or exc}); try again in a moment."
        )
    found_metadata = found.get("metadata")
    metadata: dict = found_metadata if isinstance(found_metadata, dict) else {}
    problems: list[preflight.Problem] = []
    if delivery:
        settings = preflight.ClaimSettings(
            delivery=delivery,
            bitbadges_claim_id=claim_id,
            password_instance_id=instance,
            store_id=store_id,
        )
        try:
            problems = services.claim_problems(settings)
        except preflight.CheckUnavailable as exc:
            return _answer(503, f"BitBadges could not be asked ({exc}); try again in a moment.")
    return JsonResponse(
        {
            "claim": {
                "id": claim_id,
                "name": str(metadata.get("name") or "")[:200],
                "description": str(metadata.get("description") or "")[:500],
                "image": _image(metadata),
                "plugins": [_plugin(p) for p in preflight.plugins(found)][:50],
            },
            "problems": [
                asdict(problem) for problem in problems if problem.field not in _NEEDS_A_SECRET
            ],
        }
    )

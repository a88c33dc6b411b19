"""The emulated BitBadges' demo claims (fixed ids) and the control page's overview."""

from django.db import IntegrityError, transaction
from django.db.models import Count, Q

from sandbox.bitbadges.attempts import tick
from sandbox.bitbadges.base import success_route_enabled, wording
from sandbox.bitbadges.claims import NO_IMAGE, claim_create, plugin_id_of, plugin_ids
from sandbox.bitbadges.credits import credits
from sandbox.bitbadges.models import (
    BitBadgesAttempt,
    BitBadgesClaim,
    BitBadgesStore,
)

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
        image=NO_IMAGE,  # one demo badge without a picture: members see the generated mark
    )
    return {
        key: {name: value for name, value in demo.items() if name != "label"}
        for key, demo in DEMO.items()
    }


# The claim behind the product's event-driven demo claim: a member who stars
# catalogue.DEMO_STARRED_REPO on GitHub gets it.
DEMO_STAR = {
    "claim_id": "5a4dbb0000000000000000000000a004",
    "label": "Stargazers (password-gated)",
    "password_instance_id": "pwd",
    "password": "sandbox-star",
}


def demo_star_claim_ensure() -> dict:
    """Create the stargazers' demo claim if absent (a fixed id); its parameters.

    Idempotent like demo_claims_ensure(); an existing claim is left as it is.
    """
    _create_once(
        DEMO_STAR["claim_id"],
        label=DEMO_STAR["label"],
        max_uses=DEMO_MAX_USES,
        password=DEMO_STAR["password"],
        password_instance_id=DEMO_STAR["password_instance_id"],
    )
    return {name: value for name, value in DEMO_STAR.items() if name != "label"}


def overview() -> dict:
    """What the control page shows: claims with their uses, and stores with entries.

    A fixed number of queries whatever the number of claims, stores and addresses.
    """
    tick()
    per_claim: dict[int, dict[str, int]] = {}
    for claim_pk, address, count in (
        BitBadgesAttempt.objects.filter(status=BitBadgesAttempt.Status.SUCCESS)
        .values_list("claim_id", "address")
        .annotate(n=Count("pk"))
        .order_by("claim_id", "address")
    ):
        per_claim.setdefault(claim_pk, {})[address] = count
    claims = []
    for claim in BitBadgesClaim.objects.annotate(
        pending=Count("attempts", filter=Q(attempts__status=BitBadgesAttempt.Status.PENDING))
    ):
        claims.append(
            {
                "claim": claim,
                "plugins": [plugin_id_of(claim, i) for i in plugin_ids(claim)],
                "per_address": per_claim.get(claim.pk, {}),
                "pending": claim.pending,
            }
        )
    stores = []
    for store in BitBadgesStore.objects.prefetch_related("entries").annotate(
        queued=Count("actions", filter=Q(actions__applied_at__isnull=True), distinct=True)
    ):
        stores.append(
            {
                "store": store,
                "entries": list(store.entries.all()),
                "queued": store.queued,
            }
        )
    row = credits()
    return {
        "claims": claims,
        "stores": stores,
        "credits": {
            "on_chain_total": row.on_chain_total,
            "used": row.used,
            "remaining": row.remaining,
        },
        "wording": wording(),
        "success_route": success_route_enabled(),
    }

"""Claims on the sandbox's BitBadges for the staff actions' tests."""

from claims.models import Claim
from sandbox.bitbadges import stores as bb_stores


def store_claim_on_sandbox(slug: str, name: str) -> Claim:
    """An enabled dynamic-store claim on a new sandbox store, with no requirement: only a
    staff grant or re-issue delivers it."""
    store = bb_stores.store_create(label=name)
    claim = Claim(
        slug=slug,
        name=name,
        enabled=True,
        delivery="dynamic_store",
        store_id=store.dynamic_data_id,
    )
    claim.set_store_secret(store.data_secret)
    claim.save()
    return claim

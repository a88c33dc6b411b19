"""The delivery methods, one module each, behind DeliveryMethod (base.py).

A new method is one module here with a DeliveryMethod subclass, its entry in METHODS,
and its value in Claim.Delivery (with the model's own field rules for it).
"""

from claims import bitbadges
from claims.engine.methods.base import DeliveryMethod, Verdict, Withdrawal
from claims.engine.methods.bitbadges_claim import BitBadgesClaim
from claims.engine.methods.dynamic_store import DynamicStore
from claims.engine.methods.workflow import Workflow
from claims.preflight import CheckUnavailable, ClaimSettings, Problem

METHODS: dict[str, DeliveryMethod] = {
    method.value: method for method in (BitBadgesClaim(), DynamicStore(), Workflow())
}

__all__ = ["METHODS", "DeliveryMethod", "Verdict", "Withdrawal", "claim_problems", "method_of"]


def method_of(delivery: str) -> DeliveryMethod | None:
    """The method for a Claim.Delivery value (None for an unknown one)."""
    return METHODS.get(delivery)


def claim_problems(
    settings: ClaimSettings, *, client: bitbadges.BitBadgesClient | None = None
) -> list[Problem]:
    """Everything about this claim's BitBadges side that would stop its delivery.

    Raises CheckUnavailable when BitBadges cannot be asked. The caller decides whether
    that blocks (enabling a claim) or only warns (saving a draft).
    """
    method = method_of(settings.delivery)
    if method is None:
        return []
    try:
        return method.check_settings(client or bitbadges.get_client(), settings)
    except bitbadges.BitBadgesError as exc:
        # What the checks expect became a Problem; anything else means BitBadges could
        # not be asked properly (down, throttled, our key, an answer we cannot read).
        raise CheckUnavailable(str(exc)) from exc

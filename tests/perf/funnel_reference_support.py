"""The funnel's figures as claims/funnel.py computed them before issue 24 (a COUNT per
stage, each fact a subquery per member and per claim): the reference the one-query
version (claims/funnel/counts.py) must equal. Slow (27 queries, quadratic in members):
for small test data only. The facts and stages are the funnel's own Q builders."""

from typing import Any

from django.db import models
from django.db.models import Q

from claims import funnel
from claims.funnel import (
    _CLAIM_KEYS,
    _KEYS,
    Ref,
    _bitbadges_signup,
    _claim_facts,
    _claim_stages,
    _common_facts,
    _common_stages,
    _completed_any,
    _member_in,
    cohort,
)
from claims.models import Claim


class SubqueryCount(models.Subquery):
    template = "(SELECT COUNT(*) FROM (%(subquery)s) _count)"
    output_field = models.IntegerField()

    def __init__(self, queryset, **extra):
        super().__init__(queryset.order_by().values("pk"), **extra)


def _overall(start, end, *, bitbadges: bool = False) -> dict[str, int]:
    email, address = _common_stages()
    apps, eligible, completed = _claim_stages(Ref("pk"), None, address)
    members = cohort(start, end)
    stages = {
        "signed_up": Q(),
        "email_confirmed": email,
        "address_set": address,
        "apps_connected": apps,
        "eligible": eligible,
        "completed": completed,
    }
    if bitbadges:
        members = members.filter(_bitbadges_signup())
    else:
        stages["completed_outside"] = _completed_any() & ~completed
    return {key: members.filter(stage).count() for key, stage in stages.items()}


def _ahead(facts: list[Q], before: list[Q]) -> list[Q]:
    return [fact & ~stage for fact, stage in zip(facts, before, strict=True)]


def _overall_ahead(start, end) -> dict[str, int]:
    email, address = _common_stages()
    apps, eligible, _ = _claim_stages(Ref("pk"), None, address)
    facts = _common_facts()[1:] + _claim_facts(Ref("pk"), None)
    members = cohort(start, end)
    ahead = _ahead(facts, [email, address, apps, eligible])
    counted = [members.filter(condition).count() for condition in ahead]
    return dict(zip(_KEYS, [0, 0, *counted], strict=True))


def _per_claim(start, end) -> dict[int, dict[str, int]]:
    _, address = _common_stages()
    members = cohort(start, end)
    reached_address = _member_in(members.filter(address).values("pk"))
    member, claim = Ref("pk"), Ref("pk", 1)
    apps, eligible, completed = _claim_stages(member, claim, reached_address)
    figures = [("apps_connected", apps), ("eligible", eligible), ("completed", completed)]
    facts = _ahead(_claim_facts(member, claim), [reached_address, apps, eligible])
    figures += [(f"ahead_{key}", fact) for key, fact in zip(_CLAIM_KEYS, facts, strict=True)]
    signed_up = _bitbadges_signup()
    figures += [
        (f"bitbadges_{key}", stage & signed_up)
        for key, stage in zip(_CLAIM_KEYS, [apps, eligible, completed], strict=True)
    ]
    rows: dict[int, dict[str, int]] = {pk: {} for pk in Claim.objects.values_list("pk", flat=True)}
    for key, stage in figures:
        counted = Claim.objects.annotate(n=SubqueryCount(members.filter(stage)))
        for pk, n in counted.values_list("pk", "n"):
            rows[pk][key] = n
    return rows


def reference(start=None, end=None) -> dict:
    """{"": overall stages, ahead and BitBadges rows; claim pk: the same} as
    funnel.funnel_build shows them (stage rows of count, ahead, bitbadges)."""
    overall, ahead = _overall(start, end), _overall_ahead(start, end)
    bitbadges = _overall(start, end, bitbadges=True)
    shown: dict[object, Any] = {
        "": [(overall[key], ahead[key], bitbadges[key]) for key in _KEYS],
        "outside": overall["completed_outside"],
    }
    for pk, row in _per_claim(start, end).items():
        shown[pk] = [
            (
                row.get(key, overall[key]),
                row.get(f"ahead_{key}", ahead[key]),
                row.get(f"bitbadges_{key}", bitbadges[key]),
            )
            for key in _KEYS
        ]
    return shown


def shown(data: "funnel.Funnel") -> dict:
    """funnel_build's answer in `reference`'s shape."""
    rows: dict[object, Any] = {"": [(s["count"], s["ahead"], s["bitbadges"]) for s in data.stages]}
    rows["outside"] = data.completed_outside
    for claim in data.claims:
        rows[claim["pk"]] = [(s["count"], s["ahead"], s["bitbadges"]) for s in claim["stages"]]
    return rows

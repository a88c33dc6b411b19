"""Reads for the claims pages, always scoped to one member and in a fixed number of queries."""

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from claims import rules
from claims.models import Claim, Completion, TriggerDeployment
from connections.models import ConnectedAccount


@dataclass
class Requirement:
    label: str
    met: bool | None  # None: not checked yet
    detail: str = ""
    value: str = ""


@dataclass
class ClaimRow:
    claim: Claim
    completion: Completion | None
    requirements: list[Requirement] = field(default_factory=list)

    @property
    def state(self) -> str:
        return self.completion.state if self.completion else "new"

    @property
    def in_progress(self) -> bool:
        return bool(self.completion and self.completion.in_progress)

    watching: bool = False  # an active trigger deployment will tell us when they qualify

    @property
    def reason(self) -> str:
        """The completion's reason, unless a requirement below already says it."""
        if not self.completion:
            return ""
        said = {requirement.detail for requirement in self.requirements}
        return "" if self.completion.reason in said else self.completion.reason


def _requirements(
    claim: Claim,
    required: list[tuple[str, str]],
    facts: list[rules.AccountFact],
    completion,
    member,
    now,
) -> list[Requirement]:
    """What the member can see without any upstream call: their accounts (as facts) and
    the last evidence recorded for the criterion. `required`: the claim's (slug, name)
    of each required app, in the apps' order."""
    rows = []
    results = rules.app_rules(required, facts, now=now)
    for slug, name in required:
        # The same rules the engine checks, shown one line per app.
        mine = [result for result in results if result.rule.split(":", 1)[1] == slug]
        failed = next((result for result in mine if not result.passed), None)
        if failed is None:
            rows.append(Requirement(f"{name} connected and healthy", True))
        else:
            rows.append(Requirement(failed.label, False, failed.detail))
    if claim.has_criterion:
        seen = None
        for item in (completion.evidence if completion else []) or []:
            if isinstance(item, dict) and item.get("rule") == "criterion":
                seen = item
        label = claim.criterion_display()
        if seen is None:
            rows.append(
                Requirement(
                    f"{claim.criterion_app.name if claim.criterion_app else ''}: {label}".strip(
                        ": "
                    ),
                    None,
                    "Checked once your accounts are ready.",
                )
            )
        else:
            rows.append(
                Requirement(
                    f"{claim.criterion_app.name if claim.criterion_app else ''}: {label}".strip(
                        ": "
                    ),
                    bool(seen.get("passed")),
                    seen.get("detail", ""),
                    seen.get("value", ""),
                )
            )
    rows.append(
        Requirement(
            "BitBadges address set",
            bool(member.address),
            "" if member.address else "Add your address below.",
            member.address,
        )
    )
    return rows


def claims_for_member(*, member) -> list[ClaimRow]:
    enabled = (
        Claim.objects.enabled()
        .select_related("criterion_app")
        # Whether an active trigger deployment watches this claim for the member.
        .annotate(
            watched=Exists(
                TriggerDeployment.objects.filter(
                    Q(member=member) | Q(member__isnull=True),
                    claim=OuterRef("pk"),
                    status=TriggerDeployment.Status.ACTIVE,
                )
            )
        )
        .order_by("name", "pk")
    )
    completions = {
        completion.claim_id: completion for completion in Completion.objects.filter(member=member)
    }
    claims = list(enabled)
    # The required apps of every claim in one query, as (slug, name) in the apps' order.
    required: dict[int, list[tuple[str, str]]] = {claim.pk: [] for claim in claims}
    links = (
        Claim.required_apps.through.objects.filter(claim_id__in=required)
        .order_by("app__order", "app__name")
        .values_list("claim_id", "app__slug", "app__name")
    )
    for claim_id, slug, name in links:
        required[claim_id].append((slug, name))
    # What the rules need of the member's accounts (the same facts the engine uses),
    # read as plain values: once for all the claims.
    facts = [
        rules.AccountFact(app_slug=slug, app_name=name, healthy=healthy, dead=dead, error=error)
        for slug, name, healthy, dead, error in ConnectedAccount.objects.filter(
            member=member
        ).values_list("app__slug", "app__name", "healthy", "dead", "error")
    ]
    now = timezone.now()
    return [
        ClaimRow(
            claim=claim,
            completion=completions.get(claim.pk),
            requirements=_requirements(
                claim, required[claim.pk], facts, completions.get(claim.pk), member, now
            ),
            watching=claim.watched,
        )
        for claim in claims
    ]


def claim_for_member(*, slug: str) -> Claim:
    """An enabled claim by slug; DoesNotExist otherwise (views answer 404)."""
    return Claim.objects.enabled().get(slug=slug)

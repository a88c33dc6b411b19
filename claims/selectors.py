"""Reads for the claims pages, always scoped to one member and in a fixed number of queries."""

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone

from claims import life, rules
from claims.models import Claim, Completion, TriggerDeployment
from claims.models import Requirement as RequirementModel
from connections.models import ConnectedAccount


@dataclass
class Requirement:
    label: str
    met: bool | None  # None: not checked yet
    detail: str = ""
    value: str = ""
    one_of: bool = False  # one of the claim's "any" requirements: one of them is enough


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
        """Under way; not a completion that waits for the claim to reopen (claims/life.py)."""
        if self.stop is not None and self.state == Completion.State.WAITING:
            return False
        return bool(self.completion and self.completion.in_progress)

    watching: bool = False  # an active trigger deployment will tell us when they qualify
    stop: life.Stop | None = None  # why the claim takes no new deliveries now

    @property
    def reason(self) -> str:
        """The completion's reason, unless a requirement below or the claim's stop already
        says it."""
        if not self.completion:
            return ""
        said = {requirement.detail for requirement in self.requirements}
        if self.stop is not None:
            said.add(self.stop.sentence)
        return "" if self.completion.reason in said else self.completion.reason


def _check_evidence(requirement, checks: int, completion) -> dict | None:
    """The last evidence the completion recorded for the requirement's check. Evidence
    from before requirements ("criterion") stands for a claim's only check."""
    seen = None
    for item in (completion.evidence if completion else []) or []:
        if not isinstance(item, dict):
            continue
        rule = item.get("rule")
        if rule == requirement.rule_key or (rule == "criterion" and checks == 1):
            seen = item
    return seen


def _requirements(claim: Claim, facts: list[rules.AccountFact], completion, member, now):
    """What the member can see without any upstream call: their accounts (as facts) and
    the last evidence recorded for each check, one row per requirement in order."""
    rows = []
    requirements = list(claim.requirements.all())  # prefetched, with their apps
    checks = sum(1 for requirement in requirements if requirement.runs_check)
    for requirement in requirements:
        app = requirement.app
        one_of = requirement.group == RequirementModel.Group.ANY
        results = rules.app_rules([(app.slug, app.name)], facts, now=now)
        failed = next((result for result in results if not result.passed), None)
        if not requirement.runs_check:
            if failed is None:
                rows.append(Requirement(f"{app.name} connected and healthy", True, one_of=one_of))
            else:
                rows.append(Requirement(failed.label, False, failed.detail, one_of=one_of))
            continue
        label = requirement.label()
        if requirement.group == RequirementModel.Group.NONE:
            label = f"Must not: {label}"
        label = f"{app.name}: {label}"
        seen = _check_evidence(requirement, checks, completion)
        if failed is not None:
            rows.append(Requirement(label, False, failed.detail, one_of=one_of))
        elif seen is None or seen.get("value") == "(not checked)":
            rows.append(
                Requirement(label, None, "Checked once your accounts are ready.", one_of=one_of)
            )
        else:
            rows.append(
                Requirement(
                    label,
                    bool(seen.get("passed")),
                    seen.get("detail", ""),
                    seen.get("value", ""),
                    one_of=one_of,
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
        .prefetch_related(
            Prefetch("requirements", queryset=RequirementModel.objects.select_related("app"))
        )
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
            requirements=_requirements(claim, facts, completions.get(claim.pk), member, now),
            watching=claim.watched,
            stop=life.stop_for(claim, now),
        )
        for claim in claims
    ]


def claim_for_member(*, slug: str) -> Claim:
    """An enabled claim by slug; DoesNotExist otherwise (views answer 404)."""
    return Claim.objects.enabled().get(slug=slug)

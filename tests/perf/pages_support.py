"""Data for the tests of the member pages and their cache (core/pagecache.py): a member
with `accounts` connected accounts and `claims` claims, each with a completion."""

from django.utils import timezone

from claims.models import Claim, Completion
from tests.claims.claims_support import require
from tests.claims.pages_support import account

# The four member pages; the claim page is that of the member's first claim.
PAGES = ("/", "/accounts/", "/claims/", "/c/claim-0/")
STATES = ("ineligible", "completed", "failed", "waiting", "retrying")


def claim(slug: str, app, **fields) -> Claim:
    made = Claim(
        slug=slug,
        name=fields.pop("name", slug.replace("-", " ").title()),
        enabled=True,
        delivery="dynamic_store",
        store_id="s",
        **fields,
    )
    made.set_store_secret("x")
    made.save()
    require(made, app)
    return made


def populate(member, apps: dict, *, accounts: int, claims: int) -> list[Claim]:
    """`accounts` accounts across the apps (fresh: no re-read is queued), `claims` claims
    (claim-0, claim-1...; each asks for one of the apps) with a completion each in turn
    of STATES. Returns the claims."""
    slugs = sorted(apps)
    now = timezone.now()
    for i in range(accounts):
        account(member, apps[slugs[i % len(slugs)]], name=f"{member.username}-{i}")
    made = []
    for i in range(claims):
        c = Claim.objects.filter(slug=f"claim-{i}").first() or claim(
            f"claim-{i}", apps[slugs[i % len(slugs)]]
        )
        state = STATES[i % len(STATES)]
        Completion.objects.create(
            claim=c,
            member=member,
            address=member.address or "",
            state=state,
            completed_at=now if state == "completed" else None,
            reason="Not yet." if state == "ineligible" else "",
        )
        made.append(c)
    return made

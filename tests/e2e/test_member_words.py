"""Issue 20's must-show in Chromium: members read sentences, and earned stays earned.

bob, with a GitHub account of few public repositories, reads "Have at least 5 public
repositories: you have <n>" on /claims/, and no developer string anywhere on his pages
(no comparison symbol, "seen:", dotted field path or HTTP status). alice earns the
starter badge, disconnects GitHub, and both /claims/ and /c/github-starter/ still say
it is earned, with no red cross and nothing to fix.
"""

import re

import pytest
from playwright.sync_api import expect

from claims.models import Completion
from members.management.commands.seed_demo import _claim_upsert, demo_claim_specs
from sandbox import demo as sandbox_demo
from sandbox.pipedream.models import Account as SandboxAccount
from tests.e2e.flows_support import connect_in_iframe, log_in, watch_problems
from tests.members_support import verify_email

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ALICE_ADDRESS = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"

# What a developer would write and a member must never read.
DEVELOPER = [
    ("a comparison symbol", re.compile(r"[≥≤≠]|>=|<=|!=")),
    ("a 'seen:' value", re.compile(r"\bseen:", re.I)),
    ("a field name", re.compile(r"\b[a-z]+_[a-z]+(?:_[a-z]+)*\b")),
    ("a dotted field path", re.compile(r"\b[a-z]+(?:_[a-z]+)*\.[a-z]+_[a-z_]+\b")),
    ("a result path", re.compile(r"\$status|\buser\.(?:login|public_repos)\b")),
    (
        "an HTTP status",
        re.compile(r"\b(?:HTTP|status|code|answered|returned)\W{0,3}[1-5]\d\d\b", re.I),
    ),
    ("a raw value", re.compile(r"[:=]\s*(?:None|null)\b|\bTraceback\b")),
]


def developer_strings(text: str) -> list[str]:
    return [
        f"{what}: {text[max(0, m.start() - 40) : m.end() + 40]!r}"
        for what, rx in DEVELOPER
        for m in rx.finditer(text)
    ]


@pytest.fixture
def demo_claims(claims_site):
    """Every seed_demo claim (the stargazers' one too), as `make run` seeds them."""
    specs = demo_claim_specs(sandbox_demo.demo_ensure()["claims"])
    return {spec["slug"]: _claim_upsert(spec)[0] for spec in specs}


@pytest.fixture
def bob(django_user_model):
    return verify_email(
        django_user_model.objects.create_user(
            username="bob", email="bob@example.com", password="connect-demo"
        )
    )


@pytest.fixture
def alice(member):
    member.address = ALICE_ADDRESS
    member.save()
    return member


def test_bob_reads_how_many_repositories_he_has_and_no_developer_string(
    live_server, demo_claims, worker, page, bob, screenshot
):
    problems = watch_problems(page)
    log_in(page, live_server.url, "bob")
    connect_in_iframe(page, "GitHub", "octo-few")
    expect(page.locator("#accounts").get_by_text("octo-few", exact=True)).to_be_visible()
    repos = SandboxAccount.objects.get(name="octo-few").profile["public_repos"]
    assert repos < 5

    page.goto(f"{live_server.url}/claims/")
    builders = page.locator("#claim-github-builders")
    expect(builders.locator(".badge")).to_have_text("Not yet", timeout=30_000)
    expect(builders).to_contain_text(f"Have at least 5 public repositories: you have {repos}")
    stargazer = page.locator("#claim-stargazer")
    star = stargazer.get_by_role("link", name="Star bitbadges/bitbadgesjs")
    expect(star).to_have_attribute("href", "https://github.com/bitbadges/bitbadgesjs")
    screenshot("member-words-bob-claims")

    found = {}
    for path in ("/claims/", "/c/github-builders/", "/c/stargazer/", "/", "/accounts/"):
        page.goto(f"{live_server.url}{path}")
        text = page.locator("main").inner_text()
        if developer_strings(text):
            found[path] = developer_strings(text)
    assert found == {}
    assert problems == []


def test_alice_disconnects_github_after_earning_and_it_stays_earned(
    live_server, claims_site, worker, page, alice, screenshot
):
    problems = watch_problems(page)
    log_in(page, live_server.url)
    connect_in_iframe(page, "GitHub", "octocat")
    expect(page.locator("#accounts").get_by_text("octocat", exact=True)).to_be_visible()
    page.goto(f"{live_server.url}/claims/")
    starter = page.locator("#claim-github-starter")
    expect(starter.locator(".badge").first).to_have_text("Completed", timeout=30_000)

    page.goto(f"{live_server.url}/accounts/")
    page.get_by_role("link", name=re.compile(r"^Disconnect GitHub account")).click()
    page.get_by_role("button", name="Yes, disconnect").click()
    expect(page.locator("#accounts").get_by_text("octocat", exact=True)).to_have_count(0)

    page.goto(f"{live_server.url}/claims/")
    expect(starter.locator(".claim-head .badge")).to_have_text("Completed")
    expect(starter).to_contain_text("Earned")
    expect(starter.locator("li.unmet")).to_have_count(0)
    expect(starter.locator(".req-fix")).to_have_count(0)
    expect(starter.get_by_role("link", name=re.compile("Connect|Reconnect"))).to_have_count(0)
    assert "✗" not in starter.inner_text()
    screenshot("member-words-alice-earned-after-disconnect")

    page.goto(f"{live_server.url}/c/github-starter/")
    progress = page.locator("#landing-progress")
    expect(progress.locator(".badge").first).to_have_text("Completed")
    assert "✗" not in progress.inner_text()
    expect(progress.get_by_role("link", name=re.compile("Connect|Reconnect"))).to_have_count(0)
    completion = Completion.objects.get(claim=claims_site["github-starter"], member=alice)
    assert completion.state == "completed"
    assert problems == []

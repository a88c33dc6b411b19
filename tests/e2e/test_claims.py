"""A member's claim completes by itself, watched in a real browser.

The task worker runs beside the live server (the real `db_worker`, looping in a
thread), as `make run` runs it beside the web process.
"""

import re

import pytest
from playwright.sync_api import expect

from claims.models import Completion
from members.management.commands.seed_demo import _claim_upsert, demo_claim_specs
from sandbox import demo as sandbox_demo
from sandbox.bitbadges import attempts as bb_sandbox_attempts
from sandbox.bitbadges import stores as bb_sandbox_stores
from tests.e2e.flows_support import connect_in_iframe, log_in, watch_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ALICE_ADDRESS = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"


@pytest.fixture
def alice(member):
    member.address = ALICE_ADDRESS
    member.save()
    return member


def test_alice_connects_github_and_watches_the_claim_complete(
    live_server, claims_site, worker, page, alice, screenshot
):
    problems = watch_problems(page)
    log_in(page, live_server.url)
    page.get_by_role("link", name="Claims", exact=True).click()
    starter = page.locator("#claim-github-starter")
    expect(starter.get_by_text("Not started")).to_be_visible()
    # The unmet requirement reads as an instruction and carries its fix: Connect GitHub,
    # which returns to the claim's page.
    missing = starter.locator("li.unmet", has_text="Connect a working GitHub account")
    expect(missing).to_be_visible()
    expect(missing.get_by_role("link", name=re.compile("^Connect GitHub"))).to_have_attribute(
        "href", "/connect/github/?next=/c/github-starter/"
    )
    screenshot("claims-before-connecting")

    page.get_by_role("link", name="Accounts", exact=True).click()
    connect_in_iframe(page, "GitHub", "octocat")
    expect(page.locator("#accounts").get_by_text("octocat", exact=True)).to_be_visible()

    page.get_by_role("link", name="Claims", exact=True).click()
    page.evaluate("window.__sameDocument = true")
    expect(starter.locator(".badge")).to_have_text("Completed", timeout=30_000)
    # htmx swapped the fragment in place: the page never reloaded.
    assert page.evaluate("window.__sameDocument") is True
    # What it was earned with: the account, ticked, and nothing left to fix.
    expect(starter.locator(".claim-earned")).to_have_text(
        re.compile(r"^Earned \d{1,2} \w{3} \d{4} with your GitHub account\b")
    )
    earned_with = starter.get_by_role("list", name="What you earned it with")
    expect(earned_with.locator("li.met")).to_have_text(
        re.compile("Connect a working GitHub account")
    )
    expect(starter.locator("li.unmet")).to_have_count(0)
    expect(starter.locator(".req-fix")).to_have_count(0)
    screenshot("claims-completed")

    # Once everything has settled the page stops polling.
    expect(page.locator("#claims")).not_to_have_attribute("data-polling", "true", timeout=30_000)
    completion = Completion.objects.get(claim=claims_site["github-starter"], member=alice)
    assert completion.state == "completed"
    assert (
        bb_sandbox_attempts.completions(
            claims_site["github-starter"].bitbadges_claim_id, ALICE_ADDRESS
        )
        == 1
    )
    # "octocat" is a new account with few repos: the builders list says why not.
    builders = page.locator("#claim-github-builders")
    expect(builders.get_by_text("Not yet")).to_be_visible()
    expect(builders.get_by_text("Have at least 5 public repositories").first).to_be_visible()
    assert problems == []


@pytest.fixture
def every_demo_claim(claims_site):
    """All of seed_demo's claims, the stargazers' one too (its upstream comes from the
    sandbox's demo file, as `make run` hands it over)."""
    specs = demo_claim_specs(sandbox_demo.demo_ensure()["claims"])
    return {spec["slug"]: _claim_upsert(spec)[0] for spec in specs}


def test_an_established_github_account_completes_every_demo_claim(
    live_server, every_demo_claim, worker, page, alice, screenshot
):
    """The demo's criteria as seed_demo writes them, with Pipedream's real keys and paths:
    github-builders runs github-get-current-user and reads user.public_repos (the action
    answers {user, organizations, teams}); the stargazers' claim reads GitHub through the
    proxy. "octo-pro" is an established account (many repos, the demo repo starred)."""
    builders = every_demo_claim["github-builders"]
    check = builders.requirements.exclude(kind="account").get()
    assert (check.app.slug, check.action, check.path) == (
        "github",
        "github-get-current-user",
        "user.public_repos",
    )
    assert every_demo_claim["stargazer"].trigger == "github-new-star"
    problems = watch_problems(page)
    log_in(page, live_server.url)
    connect_in_iframe(page, "GitHub", "octo-pro")
    expect(page.locator("#accounts").get_by_text("octo-pro", exact=True)).to_be_visible()

    page.get_by_role("link", name="Claims", exact=True).click()
    for slug in every_demo_claim:
        expect(page.locator(f"#claim-{slug} .badge")).to_have_text("Completed", timeout=30_000)
    screenshot("claims-every-demo-claim-completed")
    states = dict(Completion.objects.filter(member=alice).values_list("claim__slug", "state"))
    assert states == {slug: "completed" for slug in every_demo_claim}
    # The builders' list is a dynamic store: alice's address is on it; the stargazers'
    # claim is completed on BitBadges for her.
    assert bb_sandbox_stores.store_contains(builders.store_id, ALICE_ADDRESS)
    stargazer = every_demo_claim["stargazer"]
    assert bb_sandbox_attempts.completions(stargazer.bitbadges_claim_id, ALICE_ADDRESS) == 1
    assert problems == []


def test_address_form_explains_a_bad_address(live_server, claims_site, page, alice, screenshot):
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/claims/")
    field = page.get_by_label("Your BitBadges address")
    expect(field).to_have_value(ALICE_ADDRESS)
    field.fill("0x742d35cC6634c0532925A3b844bc9E7595F0BEB1")  # one letter's case changed
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#address-error")).to_contain_text("checksum")
    screenshot("claims-bad-address")
    alice.refresh_from_db()
    assert alice.address == ALICE_ADDRESS


def test_claims_page_on_a_phone(live_server, claims_site, browser, alice):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        log_in(page, live_server.url)
        page.goto(f"{live_server.url}/claims/")
        expect(page.locator("#claim-github-starter")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
        from tests.browser_support import ARTIFACTS

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "claims-phone.png"), full_page=True)
    finally:
        context.close()

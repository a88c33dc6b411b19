"""Issue 18's story in Chromium: an admin builds claims from nothing with the builder,
and members complete them only when they meet them.

"At least 5 public repositories": app, action, Try it on a member, a click on
public_repos, at least 5, saved; alice (octo-pro, 25+ repositories) completes it, bob (1
to 3) reads the admin's sentence and his own value. "GitHub and (Discord or Slack)":
built with three requirements in two groups; it completes for the member with GitHub and
Slack, not for the one with GitHub alone, nor for the one with Slack alone.
"""

import re
import time

import pytest
from playwright.sync_api import expect

from claims.models import Claim, Completion
from sandbox.bitbadges import claims as bb_sandbox_claims
from tests.browser_support import ARTIFACTS, logged_in
from tests.members_support import verify_email

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SENTENCE = "Have at least 5 public repositories"


@pytest.fixture
def member(django_user_model):
    def make(username, address):
        return verify_email(
            django_user_model.objects.create_user(
                username=username,
                email=f"{username}@example.com",
                password="connect-demo",
                address=address,
            )
        )

    return make


def delivery(page, name):
    """A fresh BitBadges claim of the sandbox, completed with its password plugin."""
    upstream = bb_sandbox_claims.claim_create(label=name, password="right")
    page.select_option("#id_delivery", "bitbadges")
    page.fill("#id_bitbadges_claim_id", upstream.claim_id)
    page.fill("#id_password_instance_id", "pwd")
    page.fill("#id_password", "right")
    expect(page.locator("#bitbadges-claim-preview .bitbadges-claim-name")).to_have_text(name)


def shoot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_an_admin_builds_at_least_5_repositories_and_only_who_meets_it_completes(
    site, browser, admin_user, alice, member, connect, worker
):
    bob = member("bob", "0x000000000000000000000000000000000000dEaD")
    connect(alice, "github", "octo-pro")
    connect(bob, "github", "bobby")
    context, page = logged_in(browser, site, "/admin/claims/claim/add/")
    try:
        page.fill("#id_name", "Builders")
        page.check("#id_enabled")
        holder = page.locator("#requirements-0")
        holder.locator("select[name='requirements-0-app']").select_option(label="GitHub")
        holder.locator("select[name='requirements-0-kind']").select_option("action")
        holder.locator("select.cb-action").select_option(
            label="Get Current User (github-get-current-user)"
        )
        holder.get_by_label("Member", exact=True).fill("alice")
        holder.get_by_role("button", name="Try it").click()
        tree = holder.get_by_role("list", name="The answer")
        expect(tree).to_be_visible(timeout=30_000)
        tree.get_by_role("button", name=re.compile(r"^user\.public_repos = ")).click()
        expect(holder.locator("input[name='requirements-0-path']")).to_have_value(
            "user.public_repos"
        )
        expect(holder.locator("select[name='requirements-0-comparison']")).to_have_value("gte")
        holder.locator("input[name='requirements-0-value']").fill("5")
        text = holder.locator("input[name='requirements-0-text']")
        expect(text).to_have_value("Have at least 5 public repos")
        text.fill(SENTENCE)
        shoot(page, "builder-at-least-5")
        holder.screenshot(path=str(ARTIFACTS / "builder-at-least-5-requirement.png"))
        delivery(page, "Builders badge")
        page.click("input[name=_save]")
        expect(page.locator(".messagelist .success")).to_be_visible()
    finally:
        context.close()

    claim = Claim.objects.get(name="Builders")
    [requirement] = claim.requirements.all()
    assert (requirement.action, requirement.path, requirement.comparison, requirement.value) == (
        "github-get-current-user",
        "user.public_repos",
        "gte",
        "5",
    )
    # The worker (a thread) checks both as the claim is enabled.
    settled(claim, {"alice": Completion.State.COMPLETED, "bob": Completion.State.INELIGIBLE})

    context, page = logged_in(browser, site, "/claims/", "bob", "connect-demo")
    try:
        row = page.locator(f"#claim-{claim.slug}")
        expect(row.locator(".badge.warn")).to_have_text("Not yet")
        # The admin's sentence, then his own value as a fact about him, not a raw "seen:".
        sentence = row.locator("li.unmet", has_text=SENTENCE)
        expect(sentence.locator(".req-label")).to_have_text(
            f"{SENTENCE}: you have {requirement_value(bob)}"
        )
        expect(sentence).not_to_contain_text("seen:")
        shoot(page, "builder-bob-reads-the-sentence")
    finally:
        context.close()


def settled(claim, expected, timeout=30):
    """Wait until the claim's completions are in the expected states, by username."""
    deadline = time.monotonic() + timeout
    while True:
        states = dict(
            Completion.objects.filter(claim=claim).values_list("member__username", "state")
        )
        if states == expected or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert states == expected


def requirement_value(member):
    completion = Completion.objects.get(member=member)
    [check] = [item for item in completion.evidence if item["rule"].startswith("criterion:")]
    return check["value"]


def test_github_and_discord_or_slack_completes_only_for_members_who_meet_it(
    site, browser, admin_user, alice, member, connect, worker
):
    both = alice
    only_github = member("bob", "0x000000000000000000000000000000000000dEaD")
    only_slack = member("carol", "0x000000000000000000000000000000000000bEEF")
    connect(both, "github", "octo")
    connect(both, "slack", "alice-slack")
    connect(only_github, "github", "bobby")
    connect(only_slack, "slack", "carol-slack")
    context, page = logged_in(browser, site, "/admin/claims/claim/add/")
    try:
        page.fill("#id_name", "Community")
        page.check("#id_enabled")
        page.locator("select[name='requirements-0-app']").select_option(label="GitHub")
        for index, app in ((1, "Discord"), (2, "Slack")):
            page.click(".add-row a")
            page.locator(f"select[name='requirements-{index}-app']").select_option(label=app)
            page.locator(f"select[name='requirements-{index}-group']").select_option("any")
        delivery(page, "Community badge")
        shoot(page, "builder-github-and-discord-or-slack")
        page.click("input[name=_save]")
        expect(page.locator(".messagelist .success")).to_be_visible()
    finally:
        context.close()

    claim = Claim.objects.get(name="Community")
    assert [(r.app.slug, r.group) for r in claim.requirements.all()] == [
        ("github", "all"),
        ("discord", "any"),
        ("slack", "any"),
    ]
    # Bob lacks Discord and Slack, Carol GitHub: neither is even queued.
    settled(claim, {"alice": Completion.State.COMPLETED})

    context, page = logged_in(browser, site, f"/c/{claim.slug}/", "bob", "connect-demo")
    try:
        expect(page.locator("#landing-progress")).to_contain_text("Discord connected (or Slack)")
    finally:
        context.close()

"""An admin saves claims in Chromium; a requirement's Pipedream action is looked up first
(the sandbox, over real HTTP). A key Pipedream does not know, or a real action saved
without a prop its definition requires, is refused: the admin reads why next to the
field, in Pipedream's own words, and nothing is saved."""

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from claims.models import Claim, Requirement
from sandbox.bitbadges import claims as bb_sandbox
from tests.browser_support import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
# The claim's first requirement, in the admin's inline.
REQUIREMENT = "#requirements-0"
PHONE = {"width": 390, "height": 844}
# Copies for the people reviewing issue 15 (outside the repo; skipped when absent).
REVIEW = Path("/work/helpers")


@pytest.fixture
def admin_page(site, browser, admin_user):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{site.url}/login/?next=/admin/claims/claim/add/")
    page.fill("#id_login", "admin")
    page.fill("#id_password", "password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}/admin/claims/claim/add/")
    yield page
    context.close()


def fill_claim(page, *, action, path, props=None):
    upstream = bb_sandbox.claim_create(password="pw")
    page.fill("#id_name", "Open source")
    page.check("#id_enabled")
    page.select_option("#id_requirements-0-app", label="GitHub")
    page.select_option("#id_requirements-0-kind", "action")
    # The builder lists the allowed actions; a key typed by hand is in the raw fields.
    raw = page.locator(f"{REQUIREMENT} .cb-raw-toggle")
    expect(raw).to_have_text("Show raw fields")
    raw.click()
    page.fill("#id_requirements-0-action", action)
    if props is not None:  # otherwise the form's own "{}"
        page.fill("#id_requirements-0-props", props)
    page.fill("#id_requirements-0-path", path)
    page.select_option("#id_requirements-0-comparison", "gte")
    page.fill("#id_requirements-0-value", "5")
    page.select_option("#id_delivery", "bitbadges")
    page.fill("#id_bitbadges_claim_id", upstream.claim_id)
    page.fill("#id_password_instance_id", "pwd")
    page.fill("#id_password", "pw")
    page.click("input[name=_save]")


def shoot(page, name):
    """Desktop and phone screenshots, scrolled to the refusal, under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    shots = []
    for suffix, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.locator(".errorlist").first.scroll_into_view_if_needed()
        path = ARTIFACTS / f"{name}-{suffix}.png"
        page.screenshot(path=str(path))
        shots.append(path)
    page.set_viewport_size(DESKTOP)
    if REVIEW.is_dir():
        for path in shots:
            shutil.copy(path, REVIEW / path.name)


def test_an_unknown_action_is_refused_with_pipedreams_reason(site, admin_page, settings):
    # An operator listed a key Pipedream does not know (a typo, a retired component).
    settings.CLAIMS_READ_COMPONENTS = (*settings.CLAIMS_READ_COMPONENTS, "github-no-such-action")
    page = admin_page
    fill_claim(page, action="github-no-such-action", path="user.public_repos")
    expect(page.locator(".errornote")).to_be_visible()
    said = page.locator(f"{REQUIREMENT} .field-action .errorlist")
    expect(said).to_contain_text("Pipedream has no component 'github-no-such-action'")
    expect(said).to_contain_text("it says:")
    shoot(page, "admin-components")
    assert not Claim.objects.exists()
    # What was typed is kept, so the admin corrects the key rather than starting over.
    assert page.locator("#id_requirements-0-action").input_value() == "github-no-such-action"


def test_a_real_action_missing_a_required_prop_names_the_prop(site, admin_page):
    page = admin_page
    fill_claim(page, action="github-get-repository", path="stargazers_count")
    expect(page.locator(".errornote")).to_be_visible()
    said = page.locator(f"{REQUIREMENT} .field-props .errorlist")
    expect(said).to_contain_text("github-get-repository needs the prop repoFullname")
    expect(page.locator(f"{REQUIREMENT} .field-action .errorlist")).to_have_count(0)
    shoot(page, "admin-components-missing-prop")
    assert not Claim.objects.exists()

    # With the prop the same claim saves.
    page.fill("#id_requirements-0-props", '{"repoFullname": "bitbadges/bitbadgesjs"}')
    page.fill("#id_password", "pw")  # secrets are never sent back
    page.click("input[name=_save]")
    expect(page.locator(".messagelist .success")).to_contain_text("was added successfully")
    claim = Claim.objects.get()
    assert Requirement.objects.get(claim=claim).props == {"repoFullname": "bitbadges/bitbadgesjs"}

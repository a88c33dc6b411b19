"""An admin edits a claim in Chromium; the claim's page then lists who changed its rules,
when, and what changed (a secret only as replaced, never its value)."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from claims.models import Claim, ClaimRuleChange
from connections.models import App
from sandbox.bitbadges import stores as bb_sandbox
from tests.claims.claims_support import require

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Where the lead looks at it (the desktop view of the claim's page after the edit).
SCREENSHOT = Path("/work/helpers/rule-changes.png")
NEW_SECRET = "rotated-e2e-store-secret"


def test_a_claims_page_lists_who_changed_its_rules_when_and_what(site, browser, admin_user):
    store = bb_sandbox.store_create(secret="first-e2e-secret")
    claim = Claim(
        slug="builders",
        name="Builders",
        delivery=Claim.Delivery.DYNAMIC_STORE,
        store_id=store.dynamic_data_id,
    )
    claim.set_store_secret("first-e2e-secret")
    claim.save()
    require(claim, App.objects.get(slug="github"))
    store.data_secret = NEW_SECRET  # rotated on BitBadges; the admin types it in below
    store.save(update_fields=["data_secret"])

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    change_url = f"{site.url}/admin/claims/claim/{claim.pk}/change/"
    page.goto(f"{site.url}/login/?next=/admin/claims/claim/{claim.pk}/change/")
    page.fill("#id_login", "admin")
    page.fill("#id_password", "password")
    page.click("button[type=submit]")
    page.wait_for_url(change_url)
    expect(page.locator("#rule-changes")).to_contain_text("No rule changes recorded yet.")

    page.fill("#id_cap", "25")
    # A second requirement: a healthy Discord account.
    page.locator("#requirements-group .add-row a").click()
    page.select_option("#id_requirements-1-app", label="Discord")
    page.fill("#id_store_secret", NEW_SECRET)
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist .success")).to_contain_text("was changed successfully")
    page.wait_for_url(change_url)

    listed = page.locator("#rule-changes tbody tr")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("staff: admin")
    expect(listed).to_contain_text("cap: — → 25")
    # The requirements before and after, in words a person reads (not a Python repr).
    said = " ".join(listed.inner_text().split())
    assert re.search(r"requirements: [^→]*GitHub[^→]* → .*GitHub.*Discord", said, re.I), said
    assert "{'" not in said and "'kind'" not in said, said
    expect(listed).to_contain_text("dynamic store secret: replaced (never shown)")
    assert NEW_SECRET not in page.content()
    change = ClaimRuleChange.objects.get()
    assert change.actor == admin_user and change.changes["cap"] == [None, 25]

    page.locator("#rule-changes").evaluate("el => el.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(SCREENSHOT))
    context.close()

"""Issue 21's must-show: axe-core (from npm) finds no WCAG 2.2 A/AA violation on any
member page, at desktop and phone size, in light and in dark (the system setting), and
every control's keyboard focus ring is drawn, 2px or more, at 3:1 against its background.

Anonymous pages: the home page (it sends to log in), /c/, a claim's landing page, log in
(and with a wrong password), sign up (and with bad fields), password reset (and sent), a
404, a problem page, Sign in with BitBadges cancelled and its start page (the feature on,
so its buttons are on every page that has them), and the emails' unsubscribe link
(asked, done, broken). alice's pages, with one healthy and one broken account and claims
earned, not yet and under way, one claim waiting on the broken account (its warning on /
and /accounts/, asserted shown) and a re-read from Pipedream under way ("Checking your
accounts", asserted shown): /, /claims/, /c/, two landing pages, /accounts/, /profile/,
/profile/notifications/, /email/, /password/change/, /2fa/, Sign in with BitBadges' error
page and her BitBadges logins, the Connect dialog open, the password check before
/profile/delete/ and the page itself, /accounts/ back from Connect Links that did not connect (an info and an error
flash) and /claims/ after Check again (a success flash).
carol's, who has not confirmed her email: / and /accounts/ with the banner, then her
confirmation link and the home page it lands on (a success flash). Pages with a flash
are checked as they arrive, the flash asserted on screen: a reload would use it up. Once, at
desktop size in light: /claims/ under a brand accent that only just passes (#296fce: its
text would be 4.35:1 on the "Checking" pill's tint without --accent-text). SHOTS=1 saves
each page to test-artifacts/axe/<page>-<viewport>-<scheme>.png for people to look at.
"""

import datetime
import os
from urllib.parse import urlencode

import pytest
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from branding.models import Brand
from claims.models import Completion
from connections import services
from connections.models import App, ConnectSession
from connections.services.errors import DEVELOPMENT_LIMIT_REASON
from notifications.models import Kind
from notifications.tokens import token_for
from tests.browser_support import ARTIFACTS
from tests.claims.pages_support import account
from tests.e2e.axe_support import (
    axe_install,
    axe_violations,
    described,
    focus_ring_problems,
    page_scheme,
)
from tests.e2e.flows_support import FRAME
from tests.e2e.siwbb_support import siwbb_on

pytestmark = [pytest.mark.e2e, pytest.mark.npm, pytest.mark.django_db(transaction=True)]

State = Completion.State
SHOTS = os.environ.get("SHOTS") == "1"

VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2 if SHOTS else 1,
    },
}
SCHEMES = ("light", "dark")

# Log in, sign up and password reset are checked on the way to their errors (below).
ANONYMOUS = [
    ("home", "/"),
    ("catalogue", "/c/"),
    ("landing", "/c/github-builders/"),
    ("not-found", "/no-such-page/"),
    ("problem", "/connect/done/?s=not-a-reference"),
    ("siwbb-cancelled", "/auth/social/login/cancelled/"),  # Deny at BitBadges lands here
    ("siwbb-start", "/auth/bitbadges/login/"),  # a GET: "Continue to BitBadges"
]
# After the home page (checked as log in lands on it, with the "signed in" flash).
MEMBER = [
    ("claims", "/claims/"),
    ("member-catalogue", "/c/"),
    ("member-landing", "/c/github-builders/"),
    ("member-landing-earned", "/c/github-starter/"),
    ("profile", "/profile/"),
    ("notification-settings", "/profile/notifications/"),
    ("email", "/email/"),
    ("password-change", "/password/change/"),
    ("two-factor", "/2fa/"),
    ("siwbb-error", "/auth/social/login/error/"),  # signed in only (allauth's view)
    ("siwbb-logins", "/auth/social/"),  # her BitBadges logins (none yet: Connect)
    ("accounts", "/accounts/"),  # last: the Connect dialog opens from it
]
# What alice's home page and /accounts/ show before axe runs on them (issue 21's
# warnings and the "Checking" line).
CHECKING = "#fresh-checking"
HOME_SHOWS = (CHECKING, ".home-warning:has-text('Slack team badge')")
ACCOUNTS_SHOWS = (CHECKING, ".fresh-warning:has-text('Slack team badge')")
# Accepted by the brand form (4.6:1 on white and grey), under 4.5:1 as text on tints.
NEAR_THRESHOLD_ACCENT = "#296fce"


@pytest.fixture
def alice_with_claims(claims_site, member, make_claim, settings, live_server):
    """alice: GitHub healthy but last read from Pipedream an hour ago (her pages queue a
    re-read, which no worker runs: they say "Checking your accounts" and keep asking),
    Slack broken, and a claim that needs Slack (the warnings on the home page and
    /accounts/); starter earned, builders not yet (3 of 5 repositories), the workflow
    badge under way. Sign in with BitBadges is on: its buttons are on the pages."""
    siwbb_on(settings, live_server)
    member.address = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"
    member.save()
    now = timezone.now()
    github, slack = App.objects.get(slug="github"), App.objects.get(slug="slack")
    account(member, github, name="octocat", last_synced_at=now - datetime.timedelta(hours=1))
    account(member, slack, name="alice-team", healthy=False, last_synced_at=now)
    make_claim("slack-team", apps=[slack], name="Slack team badge")
    Completion.objects.create(
        claim=claims_site["github-starter"],
        member=member,
        state=State.COMPLETED,
        completed_at=now - datetime.timedelta(days=1),
        upstream_identity="github:octocat",
        evidence=[{"rule": "app:github", "passed": True, "value": "1 account"}],
    )
    builders = claims_site["github-builders"]
    rule = builders.requirements.exclude(kind="account").get().rule_key
    Completion.objects.create(
        claim=builders,
        member=member,
        state=State.INELIGIBLE,
        reason="Not yet.",
        evidence=[
            {"rule": "app:github", "passed": True, "value": "1 account"},
            {"rule": rule, "passed": False, "value": "3", "detail": "Not yet."},
        ],
    )
    Completion.objects.create(
        claim=claims_site["github-workflow"], member=member, state=State.CHECKING
    )
    return member


def connect_link_return(member, error: str = "") -> str:
    """/connect/done/ as Pipedream sends a member back from a Connect Link that did not
    connect: cancelled (no error), or refused for a reason the member is told."""
    session, _token = services.connect_session_start(
        member=member, app=App.objects.get(slug="discord"), mode=ConnectSession.Mode.LINK
    )
    query = urlencode({"s": services.session_reference(session), "result": "error", "error": error})
    return f"/connect/done/?{query}"


def check(
    page, url: str, name: str, found: list[str], scheme: str, go: bool = True, shows=()
) -> None:
    """axe-core, the scheme and the focus rings on `url` (go=False: the page as it is),
    once each selector in `shows` is visible."""
    if go:
        page.goto(url)
    page.wait_for_load_state("load")
    for selector in shows:
        expect(page.locator(selector).first).to_be_visible()
    if page_scheme(page) != scheme:
        found.append(f"{name}: the page is not {scheme}")
    found.extend(described(name, axe_violations(page)))
    if SHOTS:
        (ARTIFACTS / "axe").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "axe" / f"{name}.png"), full_page=True)
    found.extend(f"{name}: {problem}" for problem in focus_ring_problems(page))


def log_in(page, url: str, username: str, next_path: str) -> None:
    page.goto(f"{url}/login/?next={next_path}")
    page.fill("#id_login", username)
    page.fill("#id_password", "connect-demo")
    page.click("form:has(#id_password) button[type=submit]")
    page.wait_for_url(f"{url}{next_path}")


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_no_axe_violation_on_member_pages(
    site, browser, alice_with_claims, unverified_member, viewport, scheme
):
    found: list[str] = []
    context = browser.new_context(color_scheme=scheme, **VIEWPORTS[viewport])
    try:
        axe_install(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (
            scheme == "dark"
        )
        for name, path in ANONYMOUS:
            check(page, f"{site.url}{path}", f"{name}-{viewport}-{scheme}", found, scheme)

        # The forms, then the same forms answering with errors, and the page after asking
        # for a reset link.
        check(page, f"{site.url}/login/", f"login-{viewport}-{scheme}", found, scheme)
        page.fill("#id_login", "alice")
        page.fill("#id_password", "not-her-password")
        page.click("form:has(#id_password) button[type=submit]")
        page.wait_for_selector(".form-errors, .field-error, .errorlist")
        check(page, page.url, f"login-error-{viewport}-{scheme}", found, scheme, go=False)
        check(page, f"{site.url}/signup/", f"signup-{viewport}-{scheme}", found, scheme)
        page.fill("#id_username", "alice")
        page.fill("#id_email", "not-an-address")
        page.fill("#id_password1", "short")
        page.fill("#id_password2", "other")
        page.locator("form:has(#id_password1) button[type=submit]").click()
        page.wait_for_selector(".form-errors, .field-error, .errorlist")
        check(page, page.url, f"signup-errors-{viewport}-{scheme}", found, scheme, go=False)
        check(
            page,
            f"{site.url}/password/reset/",
            f"password-reset-{viewport}-{scheme}",
            found,
            scheme,
        )
        page.fill("#id_email", "alice@example.com")
        page.locator("form:has(#id_email) button[type=submit]").click()
        page.wait_for_url(f"{site.url}/password/reset/done/")
        check(page, page.url, f"password-reset-done-{viewport}-{scheme}", found, scheme, go=False)

        # The unsubscribe link an email carries: asked, done, and a broken one.
        token = token_for(alice_with_claims, Kind.BADGE_EARNED)
        check(
            page,
            f"{site.url}/notifications/unsubscribe/{token}/",
            f"unsubscribe-{viewport}-{scheme}",
            found,
            scheme,
        )
        page.get_by_role("button", name="Unsubscribe").click()
        page.wait_for_selector("text=You are unsubscribed")
        check(page, page.url, f"unsubscribed-{viewport}-{scheme}", found, scheme, go=False)
        check(
            page,
            f"{site.url}/notifications/unsubscribe/broken/",
            f"unsubscribe-broken-{viewport}-{scheme}",
            found,
            scheme,
        )

        # The home page as log in lands on it (no reload; logging in says nothing): the
        # re-read it queued under way, the claim that needs the broken Slack account.
        log_in(page, site.url, "alice", next_path="/")
        check(
            page,
            page.url,
            f"member-home-{viewport}-{scheme}",
            found,
            scheme,
            go=False,
            shows=HOME_SHOWS,
        )
        for name, path in MEMBER:
            if name == "accounts":
                # A re-read is waited for a minute at most: this open queues its own.
                cache.delete(f"fresh-health:{alice_with_claims.pk}")
            shows = ACCOUNTS_SHOWS if name == "accounts" else ()
            check(
                page, f"{site.url}{path}", f"{name}-{viewport}-{scheme}", found, scheme, shows=shows
            )
        # The Connect dialog open over /accounts/ (the hosted page inside is Pipedream's).
        page.get_by_role("link", name="Connect GitHub", exact=True).click()
        page.frame_locator(FRAME).get_by_role("button", name="Allow").wait_for()
        check(page, page.url, f"connect-dialog-{viewport}-{scheme}", found, scheme, go=False)

        # Deleting the account asks for the password again first, then shows the page.
        check(
            page,
            f"{site.url}/profile/delete/",
            f"reauthenticate-{viewport}-{scheme}",
            found,
            scheme,
        )
        page.fill("#id_password", "connect-demo")
        page.click("form:has(#id_password) button[type=submit]")
        page.wait_for_url(f"{site.url}/profile/delete/")
        page.wait_for_selector(".danger-zone")
        check(page, page.url, f"delete-confirm-{viewport}-{scheme}", found, scheme, go=False)

        # Flash messages: an info (cancelled) and an error (refused) on /accounts/ ...
        refused = connect_link_return(alice_with_claims, error=DEVELOPMENT_LIMIT_REASON)
        assert context.request.get(f"{site.url}{refused}", max_redirects=0).status == 302
        done = f"{site.url}{connect_link_return(alice_with_claims)}"
        check(page, done, f"connect-cancelled-{viewport}-{scheme}", found, scheme)
        assert page.url == f"{site.url}/accounts/"
        assert page.locator("#messages .message.info").count() == 1
        assert page.locator("#messages .message.error").count() == 1
        # ... and a success on /claims/, with the claim asked again: checked as the swap
        # leaves it, the flash on screen.
        page.goto(f"{site.url}/claims/")
        page.locator("#claim-github-builders").get_by_role("button", name="Check again").click()
        expect(page.locator("#messages .message.success")).to_be_visible()
        check(page, page.url, f"claims-checking-{viewport}-{scheme}", found, scheme, go=False)

        if (viewport, scheme) == ("desktop", "light"):
            # An accent the brand form accepts that only just passes: its "Checking" pills,
            # ticks and links on tints still reach 4.5:1 (dark links pass for any accent:
            # tests/branding/test_colours.py).
            brand = Brand.objects.create(accent_colour=NEAR_THRESHOLD_ACCENT)
            try:
                page.goto(f"{site.url}/claims/")
                assert (
                    page.evaluate(
                        "getComputedStyle(document.documentElement).getPropertyValue('--accent')"
                    ).strip()
                    == NEAR_THRESHOLD_ACCENT
                )
                assert page.locator(".badge.busy").count() >= 1
                found.extend(
                    described(f"claims-brand-{NEAR_THRESHOLD_ACCENT}", axe_violations(page))
                )
            finally:
                brand.delete()  # forgets the cached brand (a flush would not)

        # A member who has not confirmed an email address yet: the banner.
        context.clear_cookies()
        log_in(page, site.url, "carol", next_path="/accounts/")
        assert page.locator(".verify-banner").count() == 1
        for name, path in (("unverified-home", "/"), ("unverified-accounts", "/accounts/")):
            check(page, f"{site.url}{path}", f"{name}-{viewport}-{scheme}", found, scheme)
        # ... who opens her confirmation link, confirms, and lands home with a success flash.
        address = EmailAddress.objects.get(user=unverified_member)
        confirm = reverse("account_confirm_email", args=[EmailConfirmationHMAC(address).key])
        check(page, f"{site.url}{confirm}", f"email-confirm-{viewport}-{scheme}", found, scheme)
        page.get_by_role("button", name="Yes, confirm it").click()
        page.wait_for_url(f"{site.url}/")
        expect(page.locator("#messages .message.success")).to_be_visible()
        check(page, page.url, f"confirmed-home-{viewport}-{scheme}", found, scheme, go=False)
    finally:
        context.close()
    assert found == [], "axe-core found:\n" + "\n".join(found)

"""A claim's public landing page, /c/<slug>/: what a visitor reads, the one next step a
member is shown, its two POSTs, the friendly 404, and the admin's copyable URL."""

import datetime
import html
import re

import pytest
from django.test import Client
from django.utils import timezone

from claims.landing import badge_mark, landing_steps, landing_url
from claims.models import Completion
from connections.models import App
from tests.claims.claims_support import add_check, require
from tests.claims.pages_support import account

pytestmark = pytest.mark.django_db

State = Completion.State
ALICE_ADDRESS = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"


def url(slug: str) -> str:
    return f"/c/{slug}/"


def text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def github():
    return App.objects.create(
        slug="github", name="GitHub", enabled=True, order=1, image_url="https://x.test/gh.svg"
    )


@pytest.fixture
def discord():
    return App.objects.create(slug="discord", name="Discord", enabled=True, order=2)


@pytest.fixture
def slack():
    return App.objects.create(slug="slack", name="Slack", enabled=True, order=3)


@pytest.fixture
def starter(make_claim, github):
    return make_claim(
        "github-starter",
        apps=[github],
        name="GitHub starter badge",
        description="Connect a GitHub account. That is all.",
    )


def step_of(response) -> str:
    body = response.content.decode()
    marker = 'data-step="'
    start = body.index(marker) + len(marker)
    return body[start : body.index('"', start)]


# --- visitors ------------------------------------------------------------------------------


def test_public_for_visitors_with_the_claim_and_what_it_needs(client, starter, github):
    response = client.get(url("github-starter"))
    assert response.status_code == 200
    body = text(response)
    assert "GitHub starter badge" in body
    assert "Connect a GitHub account. That is all." in body
    assert 'src="https://x.test/gh.svg"' in body
    assert "A <strong>GitHub</strong> account" in body
    assert 'src="data:image/svg+xml,' in body  # the generated badge mark
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_visitors_one_button_is_signup_with_next_and_a_login_link(client, starter):
    body = text(client.get(url("github-starter")))
    assert 'href="/signup/?next=/c/github-starter/">Sign up to claim it' in body
    assert 'href="/login/?next=/c/github-starter/">I already have an account — log in' in body
    assert "Check now" not in body


def sign_up_from(client, slug: str, username: str = "carol"):
    password = "purple-Kettle-42-river"
    data = {"username": username, "email": f"{username}@example.com"}
    data.update(password1=password, password2=password)
    return client.post(f"/signup/?next=/c/{slug}/", data)


def test_a_visitor_who_signs_up_lands_back_on_the_claim_once_confirmed(client, starter):
    from django.core import mail

    response = sign_up_from(client, "github-starter")
    # Nobody is logged in by a sign-up (issue 17); the page says what to do next, and
    # its "Log in" keeps the claim as where to go.
    assert response["Location"] == "/confirm-email/?next=%2Fc%2Fgithub-starter%2F"
    page = text(client.get(response["Location"]))
    assert "Check your inbox" in page
    assert 'href="/login/?next=%2Fc%2Fgithub-starter%2F"' in page
    # The link, confirmed in this browser, logs the newcomer in and goes back to the claim.
    link = mail.outbox[0].body.split("/confirm-email/")[1].split()[0]
    confirmed = client.post(f"/confirm-email/{link}")
    assert confirmed["Location"] == "/c/github-starter/"
    assert client.session.get("_auth_user_id")
    assert "Confirm your email" not in text(client.get(confirmed["Location"]))


def test_a_visitor_who_signs_up_may_log_in_and_land_back_on_the_claim(client, starter):
    sign_up_from(client, "github-starter")
    login = "/login/?next=%2Fc%2Fgithub-starter%2F"
    response = client.post(login, {"login": "carol", "password": "purple-Kettle-42-river"})
    assert response["Location"] == "/c/github-starter/"
    assert "Confirm your email" in text(client.get(response["Location"]))


def test_with_signup_closed_the_button_is_login(client, starter, settings):
    settings.SIGNUP_OPEN = False
    body = text(client.get(url("github-starter")))
    assert 'href="/login/?next=/c/github-starter/">Log in to claim it' in body
    assert "/signup/" not in body


def test_criterion_words_window_and_event(client, make_claim, github):
    now = timezone.now()
    claim = make_claim(
        "builders",
        trigger_app=github,
        trigger="github-new-star",
        trigger_event_label="you star bitbadges/bitbadgesjs",
        starts_at=now + datetime.timedelta(days=2),
        ends_at=now + datetime.timedelta(days=9),
    )
    add_check(
        claim,
        github,
        action="github-get-current-user",
        path="user.public_repos",
        comparison="gte",
        value="5",
    )
    body = text(client.get(url("builders")))
    # The check reads as an instruction: no field path, no operator symbol.
    assert '<strong class="criterion-words">Have at least 5 public repos on GitHub</strong>' in body
    assert "public_repos" not in body and "≥" not in body
    assert "Opens on " in body
    assert "Closes on " in body
    assert "We'll complete it as soon as you star bitbadges/bitbadgesjs." in body


def test_a_worded_criterion_and_a_closed_claim(client, make_claim, github):
    now = timezone.now()
    claim = make_claim(
        "old",
        starts_at=now - datetime.timedelta(days=9),
        ends_at=now - datetime.timedelta(days=1),
    )
    add_check(
        claim,
        github,
        action="a",
        path="p",
        comparison="truthy",
        text="You starred bitbadges/bitbadgesjs",
    )
    body = text(client.get(url("old")))
    assert "You starred bitbadges/bitbadgesjs" in body
    assert "Closed on " in body
    assert "Sign up to claim it" not in body


def test_what_it_takes_lists_every_check_and_what_one_of_means(
    client, make_claim, github, discord, slack
):
    claim = make_claim("team", apps=[github])
    require(claim, discord, slack, group="any")
    add_check(claim, github, action="a", path="public_repos", comparison="gte", value="5")
    add_check(claim, github, action="b", path="site_admin", comparison="truthy", group="none")
    add_check(claim, slack, action="c", path="posts", comparison="gt", value="0", group="any")
    body = text(client.get(url("team")))
    needs = body[
        body.index('id="needs-title"') : body.index("</section>", body.index('id="needs-title"'))
    ]
    assert (
        '<strong class="criterion-words">Have at least 5 public repos on GitHub</strong>' in needs
    )
    assert (
        '<strong class="criterion-words">'
        "Not for members who have site admin on your GitHub account</strong>" in needs
    )
    assert (
        '<strong class="criterion-words">Have more than 0 posts on Slack</strong> '
        '<span class="muted">(one of these is enough)</span>' in needs
    )
    for technical in ("public_repos", "site_admin", "≥", "must not:"):
        assert technical not in needs
    for name in ("GitHub", "Discord", "Slack"):
        assert f"A <strong>{name}</strong> account" in needs
    assert needs.count("(one of these apps is enough)") == 2  # Discord and Slack


# --- 404s and methods ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/c/no-such-claim/",
        "/c/disabled/",
        "/c/" + "a" * 500 + "/",
        "/c/%3Cscript%3Ealert(1)%3C%2Fscript%3E/",
        "/c/..%2F..%2Fadmin/",
        "/c/x'%20OR%201=1--/",
        "/c/%00/",
    ],
)
def test_unknown_disabled_and_hostile_slugs_get_the_friendly_404(client, make_claim, path):
    make_claim("disabled", enabled=False)
    response = client.get(path)
    assert response.status_code == 404
    body = text(response)
    assert 'class="topbar"' in body  # the site's look
    assert 'href="/"' in body
    assert "<script>alert" not in body


def test_a_disabled_claim_is_404_for_members_too(client, make_claim, member):
    make_claim("disabled", enabled=False)
    client.force_login(member)
    response = client.get(url("disabled"))
    assert response.status_code == 404
    assert "No such claim" in text(response)


def test_get_only(client, starter, member):
    assert client.post(url("github-starter")).status_code == 405
    client.force_login(member)
    assert client.post(url("github-starter")).status_code == 405
    assert client.put(url("github-starter")).status_code == 405


# --- a member's steps, in turn ------------------------------------------------------------


def test_unverified_member_is_asked_to_confirm_the_email(client, starter, unverified_member):
    client.force_login(unverified_member)
    response = client.get(url("github-starter"))
    assert step_of(response) == "email"
    body = text(response)
    assert "Confirm your email." in body
    assert "carol@example.com" in body
    assert 'name="action_send"' in body and "Resend the link" in body
    # The page polls while the member opens the link elsewhere, and shows no second banner.
    assert 'hx-trigger="every 5s"' in body
    assert "verify-banner" not in body


def test_verified_member_without_address_gets_the_address_form(client, starter, member):
    client.force_login(member)
    response = client.get(url("github-starter"))
    assert step_of(response) == "address"
    body = text(response)
    assert 'action="/c/github-starter/address/"' in body
    assert "Save my address" in body
    assert "hx-trigger" not in body


def test_address_post_validates_and_comes_back(client, starter, member):
    client.force_login(member)
    bad = client.post("/c/github-starter/address/", {"address": "0x123"})
    assert bad.status_code == 400
    assert 'id="address-error"' in bad.content.decode()
    member.refresh_from_db()
    assert member.address == ""

    good = client.post("/c/github-starter/address/", {"address": ALICE_ADDRESS})
    assert good.status_code == 302 and good["Location"] == "/c/github-starter/"
    member.refresh_from_db()
    assert member.address == ALICE_ADDRESS
    page = client.get(good["Location"])
    assert step_of(page) == "connect"
    assert "Your BitBadges address is saved." in text(page)


def test_missing_app_is_the_connect_step_naming_it(client, starter, member, github, discord):
    require(starter, discord)
    member.address = ALICE_ADDRESS
    member.save()
    client.force_login(member)
    response = client.get(url("github-starter"))
    assert step_of(response) == "connect"
    body = text(response)
    assert "Connect your GitHub account." in body
    # The Connect link brings the member back to this claim (?next=).
    assert 'href="/connect/github/?next=/c/github-starter/"' in body
    assert 'data-app="github"' in body
    assert "js/connect.js" in body

    account(member, github)
    body = text(client.get(url("github-starter")))
    assert "Connect your Discord account." in body
    assert 'href="/connect/discord/?next=/c/github-starter/"' in body


def steps_of(response) -> dict[str, tuple[str, str]]:
    """{data-key: (class, label)} of the member's steps, in order."""
    body = html.unescape(response.content.decode())
    found = re.findall(
        r'<li class="(\w+)" data-key="([\w-]+)">.*?<span class="step-label">([^<]+)',
        body,
        re.S,
    )
    return {key: (state, label.strip()) for state, key, label in found}


@pytest.fixture
def team(make_claim, github, discord, slack):
    """GitHub, and Discord or Slack."""
    claim = make_claim("team", apps=[github])
    require(claim, discord, slack, group="any")
    return claim


def test_one_of_the_any_apps_is_offered_until_one_is_connected(client, team, member, github, slack):
    member.address = ALICE_ADDRESS
    member.save()
    account(member, github)
    client.force_login(member)
    response = client.get(url("team"))
    assert step_of(response) == "connect"
    assert steps_of(response) == {
        "email": ("done", "Email address confirmed"),
        "address": ("done", "BitBadges address set"),
        "app-github": ("done", "GitHub connected"),
        "app-discord": ("current", "Discord connected (or Slack)"),
        "app-slack": ("todo", "Slack connected (or Discord)"),
        "completed": ("todo", "Claim completed"),
    }
    assert 'href="/connect/discord/?next=/c/team/"' in text(response)

    account(member, slack)
    response = client.get(url("team"))
    assert step_of(response) == "check"
    assert steps_of(response) == {
        "email": ("done", "Email address confirmed"),
        "address": ("done", "BitBadges address set"),
        "app-github": ("done", "GitHub connected"),
        "app-slack": ("done", "Slack connected"),
        "completed": ("todo", "Claim completed"),
    }
    assert "Discord" not in text(response).split('id="landing-progress"')[1]


def test_an_unhealthy_account_is_the_reconnect_step(client, starter, member, github):
    member.address = ALICE_ADDRESS
    member.save()
    acct = account(member, github, healthy=False, error="token revoked")
    client.force_login(member)
    response = client.get(url("github-starter"))
    assert step_of(response) == "reconnect"
    body = text(response)
    assert f'href="/connect/github/?account={acct.pk}&next=/c/github-starter/"' in body
    assert "Your GitHub account stopped working" in body
    assert "token revoked" not in body  # the upstream error is for staff, not members


def test_a_disabled_app_says_it_cannot_be_connected(client, starter, member, github):
    github.enabled = False
    github.save()
    member.address = ALICE_ADDRESS
    member.save()
    client.force_login(member)
    response = client.get(url("github-starter"))
    assert step_of(response) == "unavailable"
    assert "/connect/github/" not in response.content.decode()


def test_all_set_offers_check_now_which_queues_and_comes_back(client, starter, member, github):
    member.address = ALICE_ADDRESS
    member.save()
    account(member, github)
    client.force_login(member)
    response = client.get(url("github-starter"))
    assert step_of(response) == "check"
    assert 'action="/c/github-starter/check/"' in text(response)

    checked = client.post("/c/github-starter/check/")
    assert checked.status_code == 302 and checked["Location"] == "/c/github-starter/"
    completion = Completion.objects.get(claim=starter, member=member)
    assert completion.state == State.WAITING
    page = client.get(url("github-starter"))
    assert step_of(page) == "working"
    assert 'hx-trigger="every 2s"' in page.content.decode()
    # The poll gets only the progress fragment.
    fragment = client.get(url("github-starter"), headers={"HX-Request": "true"})
    assert fragment.content.decode().lstrip().startswith('<section id="landing-progress"')


def test_address_saved_last_starts_the_claim(client, starter, member, github):
    account(member, github)
    client.force_login(member)
    client.post("/c/github-starter/address/", {"address": ALICE_ADDRESS})
    assert Completion.objects.get(claim=starter, member=member).state == State.WAITING


def test_completed_and_ineligible_states(client, starter, member, github):
    member.address = ALICE_ADDRESS
    member.save()
    account(member, github)
    completion = Completion.objects.create(
        claim=starter, member=member, state=State.INELIGIBLE, reason="Needs user.public_repos ≥ 5"
    )
    client.force_login(member)
    response = client.get(url("github-starter"))
    assert step_of(response) == "check"
    assert "Needs user.public_repos ≥ 5" in text(response)

    completion.state = State.COMPLETED
    completion.completed_at = timezone.now()
    completion.save()
    response = client.get(url("github-starter"))
    assert step_of(response) == "completed"
    body = text(response)
    assert '<span class="badge ok">Completed</span>' in body
    assert "hx-trigger" not in body


def test_check_is_rate_limited_with_a_message(client, starter, member, settings):
    settings.CLAIMS_CHECK_RATE_LIMIT = (1, 60)
    client.force_login(member)
    assert client.post("/c/github-starter/check/").status_code == 302
    limited = client.post("/c/github-starter/check/", follow=True)
    assert limited.redirect_chain[-1][1] == 303
    assert "Try again in" in text(limited)


def test_posts_need_a_login(client, starter):
    for path in ("/c/github-starter/address/", "/c/github-starter/check/"):
        response = client.post(path, {"address": ALICE_ADDRESS})
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not Completion.objects.exists()


def test_no_other_members_state_leaks(client, starter, member, github, django_user_model):
    bob = django_user_model.objects.create_user(
        username="bob", email="bob@example.com", password="x", address=ALICE_ADDRESS
    )
    account(bob, github, name="bobs-github")
    Completion.objects.create(
        claim=starter, member=bob, state=State.COMPLETED, reason="bob's secret reason"
    )
    client.force_login(member)
    body = text(client.get(url("github-starter")))
    assert step_of(client.get(url("github-starter"))) == "address"
    for leak in (ALICE_ADDRESS, "bobs-github", "bob's secret reason", "bob@example.com"):
        assert leak not in body
    anonymous = text(Client().get(url("github-starter")))
    for leak in (ALICE_ADDRESS, "bobs-github", "bob's secret reason", "Completed"):
        assert leak not in anonymous


def test_query_count_does_not_grow_with_apps_or_accounts(
    client, make_claim, member, django_assert_max_num_queries, settings
):
    settings.PAGE_CACHE = False  # the render's own queries (the cache's: tests/perf)
    member.address = ALICE_ADDRESS
    member.save()
    apps = [App.objects.create(slug=f"app{i}", name=f"App {i}", enabled=True) for i in range(10)]
    make_claim("one", apps=apps[:1])
    make_claim("ten", apps=apps)
    # Some of each group, with checks: no query more either.
    mixed = make_claim("mixed", apps=apps[:3])
    require(mixed, *apps[3:], group="any")
    add_check(mixed, apps[0], action="a", path="p", comparison="truthy")
    add_check(mixed, apps[1], action="b", path="q", comparison="truthy", group="none")
    add_check(mixed, apps[4], action="c", path="r", comparison="truthy", group="any")
    for app in apps:
        account(member, app)
    client.force_login(member)
    client.get(url("one"))  # the brand is read once into the cache; pages then read none
    with django_assert_max_num_queries(10) as one:
        assert client.get(url("one")).status_code == 200
    with django_assert_max_num_queries(10) as ten:
        assert client.get(url("ten")).status_code == 200
    with django_assert_max_num_queries(10) as several:
        assert client.get(url("mixed")).status_code == 200
    assert len(one.captured_queries) == len(ten.captured_queries)
    assert len(one.captured_queries) == len(several.captured_queries)
    anonymous = Client()
    anonymous.get(url("ten"))  # the day's first visit makes its row (claims.ClaimVisit)
    with django_assert_max_num_queries(3):
        assert anonymous.get(url("ten")).status_code == 200


# --- helpers and the admin -----------------------------------------------------------------


def test_landing_steps_order(starter, member, github):
    assert landing_steps(claim=starter, member=member).step == "address"
    member.address = ALICE_ADDRESS
    assert landing_steps(claim=starter, member=member).step == "connect"


def test_badge_mark_escapes_the_name(make_claim):
    claim = make_claim("x", name="<b>& co")
    mark = badge_mark(claim)
    assert mark.startswith("data:image/svg+xml,")
    assert "<b>" not in mark and "%3Cb%3E" not in mark


def test_admin_change_page_shows_the_landing_url_with_a_copy_button(
    admin_client, starter, settings
):
    settings.PUBLIC_URL = "https://claims.example.com"
    assert landing_url(starter) == "https://claims.example.com/c/github-starter/"
    response = admin_client.get(f"/admin/claims/claim/{starter.pk}/change/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'value="https://claims.example.com/c/github-starter/"' in body
    assert 'data-copy="#claim-landing-url"' in body
    assert "js/copy.js" in body
    # The add page has no URL yet, and still renders.
    assert admin_client.get("/admin/claims/claim/add/").status_code == 200

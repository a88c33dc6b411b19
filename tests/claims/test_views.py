"""The member's /claims/ page: what alice sees is hers alone, every input is checked.

Claims here have no criterion (or only recorded evidence), so nothing calls upstream;
a request for a check is a Completion row plus a queued task row (django_tasks_db).
"""

import html
import re

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from claims.audit import Actor
from claims.models import Completion, CompletionEvent
from connections.models import App
from core.addresses import eth_checksum, to_bitbadges_address
from tests.claims.claims_support import add_check, require
from tests.claims.pages_support import account, claim_block

pytestmark = pytest.mark.django_db

State = Completion.State
URL = "/claims/"
ADDRESS_URL = "/claims/address/"
ALICE_ADDRESS = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"
POLLING = 'hx-trigger="every 2s"'


def check_url(slug: str) -> str:
    return f"/claims/{slug}/check/"


@pytest.fixture
def github():
    return App.objects.create(slug="github", name="GitHub", enabled=True, order=1)


@pytest.fixture
def discord():
    return App.objects.create(slug="discord", name="Discord", enabled=True, order=2)


@pytest.fixture
def slack():
    return App.objects.create(slug="slack", name="Slack", enabled=True, order=3)


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="connect-demo")


@pytest.fixture
def alice_client(client, member):
    client.force_login(member)
    return client


def requirements(body: str, slug: str) -> dict[str, str]:
    """{label: "met" | "unmet" | "unknown"} for one claim's requirements; one of its
    "any" requirements is labelled "One of these: <label>"."""
    found = re.findall(
        r'<li class="(met|unmet|unknown)"[^>]*>.*?<span class="visually-hidden">[^<]*</span>\s*'
        r'<span[^>]*>((?:<span class="muted">One of these:</span> )?[^<]+?)(?::? <span|</span>)',
        claim_block(body, slug),
        re.S,
    )
    return {html.unescape(re.sub(r"<[^>]+>", "", label).strip()): state for state, label in found}


def state_of(body: str, slug: str) -> str:
    return re.search(r'data-state="([a-z]+)"', claim_block(body, slug)).group(1)


def tasks_for(completion: Completion) -> int:
    return sum(
        1
        for args in DBTaskResult.objects.filter(
            task_path="claims.tasks.completion_process_task"
        ).values_list("args_kwargs", flat=True)
        if args["args"] == [completion.pk]
    )


def text(response) -> str:
    return response.content.decode()


# --- Access ----------------------------------------------------------------------------------


def test_the_page_needs_a_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/claims/"


def test_only_enabled_claims_are_shown(alice_client, make_claim):
    make_claim("github-starter", name="GitHub starter")
    make_claim("secret-drop", name="Secret drop", enabled=False)
    body = text(alice_client.get(URL))
    assert "GitHub starter" in body
    assert "Secret drop" not in body and "secret-drop" not in body


def test_no_claims_says_so(alice_client):
    body = text(alice_client.get(URL))
    assert "No claims to earn right now." in body


# --- Requirements ----------------------------------------------------------------------------


def test_requirements_are_ticked_from_alices_own_accounts(
    alice_client, member, bob, make_claim, github, discord
):
    make_claim("both", apps=[github, discord])
    account(member, github)
    account(bob, discord)  # bob's account ticks nothing for alice

    body = text(alice_client.get(URL))
    assert requirements(body, "both") == {
        "Connect a working GitHub account": "met",
        "Connect a working Discord account": "unmet",
        "Add your BitBadges address": "unmet",
    }
    assert "Connect Discord" in claim_block(body, "both")
    assert "Add your address above" in claim_block(body, "both")


def test_an_unhealthy_or_dead_account_does_not_tick_and_asks_for_a_reconnect(
    alice_client, member, make_claim, github, discord
):
    make_claim("both", apps=[github, discord])
    account(member, github, healthy=False, error="token revoked")
    account(member, discord, healthy=True, dead=True)
    member.address = ALICE_ADDRESS
    member.save()

    body = text(alice_client.get(URL))
    assert requirements(body, "both") == {
        "Connect a working GitHub account": "unmet",
        "Connect a working Discord account": "unmet",
        "Add your BitBadges address": "met",
    }
    assert "Reconnect GitHub" in body


def test_another_members_completion_never_shows_on_alices_page(
    alice_client, member, bob, make_claim, github
):
    claim = make_claim("starter", apps=[github])
    add_check(claim, github, action="a", path="p", comparison="truthy")
    account(member, github)  # alice's row of the check would show a value recorded for her
    Completion.objects.create(
        claim=claim,
        member=bob,
        state=State.FAILED,
        reason="Bob's private failure reason",
        evidence=[{"rule": check_rule(claim), "passed": False, "value": "bob-value-seen"}],
    )
    body = text(alice_client.get(URL))
    assert state_of(body, "starter") == "new"
    assert "Bob's private failure reason" not in body
    assert "bob-value-seen" not in body
    assert POLLING not in body


def test_alices_own_state_and_reason_show(alice_client, member, make_claim):
    claim = make_claim("starter")
    Completion.objects.create(
        claim=claim, member=member, state=State.FAILED, reason="All badges were given out."
    )
    body = text(alice_client.get(URL))
    assert state_of(body, "starter") == "failed"
    assert "All badges were given out." in claim_block(body, "starter")


@pytest.fixture
def criterion_claim(make_claim, member, github):
    """A claim with one check on GitHub; alice's GitHub account is healthy, so the row
    of the check shows what her last check recorded."""
    account(member, github)
    claim = make_claim("builders")
    add_check(
        claim,
        github,
        action="github-get-current-user",
        path="user.public_repos",
        comparison="gte",
        value="25",
    )
    return claim


def check_rule(claim) -> str:
    """The evidence key of the claim's only check ("criterion:<pk>")."""
    return claim.requirements.exclude(kind="account").get().rule_key


def test_the_criterion_is_not_checked_yet_without_evidence(alice_client, criterion_claim):
    body = text(alice_client.get(URL))
    assert requirements(body, "builders")["Have at least 25 public repos on GitHub"] == "unknown"
    assert "Not checked yet." in body


def test_the_value_seen_for_a_criterion_appears(alice_client, member, criterion_claim):
    Completion.objects.create(
        claim=criterion_claim,
        member=member,
        state=State.INELIGIBLE,
        reason="Needs user.public_repos ≥ 25; yours is 3.",
        evidence=[
            {"rule": "app:github", "passed": True, "value": "1 account"},
            {
                "rule": check_rule(criterion_claim),
                "passed": False,
                "value": "3",
                "detail": "Needs user.public_repos ≥ 25; yours is 3.",
            },
        ],
    )
    body = text(alice_client.get(URL))
    assert requirements(body, "builders")["Have at least 25 public repos on GitHub"] == "unmet"
    assert '<span class="req-fact">you have 3</span>' in claim_block(body, "builders")


def test_a_met_criterion_is_ticked_with_its_value(alice_client, member, criterion_claim):
    Completion.objects.create(
        claim=criterion_claim,
        member=member,
        state=State.COMPLETED,
        completed_at=timezone.now(),
        evidence=[{"rule": check_rule(criterion_claim), "passed": True, "value": "31"}],
    )
    body = text(alice_client.get(URL))
    assert requirements(body, "builders")["Have at least 25 public repos on GitHub"] == "met"
    assert '<span class="req-fact">you have 31</span>' in body
    assert "Check again" not in claim_block(body, "builders")


def test_a_hostile_value_seen_is_escaped(alice_client, member, criterion_claim):
    Completion.objects.create(
        claim=criterion_claim,
        member=member,
        state=State.INELIGIBLE,
        evidence=[
            {
                "rule": check_rule(criterion_claim),
                "passed": False,
                "value": "<script>alert(1)</script>",
            }
        ],
    )
    body = text(alice_client.get(URL))
    assert "<script>alert(1)</script>" not in body
    assert "alert(1)" not in body  # a value seen is for the admin: members read a fact or nothing


def test_malformed_evidence_does_not_break_the_page(alice_client, member, criterion_claim):
    Completion.objects.create(
        claim=criterion_claim,
        member=member,
        state=State.INELIGIBLE,
        evidence=["not a rule", 3, None, {"rule": check_rule(criterion_claim)}],
    )
    response = alice_client.get(URL)
    assert response.status_code == 200
    assert (
        requirements(text(response), "builders")["Have at least 25 public repos on GitHub"]
        == "unmet"
    )


def test_a_check_whose_account_is_missing_asks_for_it(alice_client, make_claim, github):
    claim = make_claim("builders")
    add_check(claim, github, action="a", path="user.public_repos", comparison="gte", value="25")
    body = text(alice_client.get(URL))
    assert requirements(body, "builders")["Have at least 25 public repos on GitHub"] == "unmet"
    assert "Connect GitHub" in claim_block(body, "builders")


def test_evidence_recorded_before_requirements_stands_for_the_only_check(
    alice_client, member, criterion_claim
):
    # A completion checked before claims had requirements keyed its check "criterion".
    Completion.objects.create(
        claim=criterion_claim,
        member=member,
        state=State.INELIGIBLE,
        evidence=[{"rule": "criterion", "passed": False, "value": "7"}],
    )
    body = text(alice_client.get(URL))
    assert requirements(body, "builders")["Have at least 25 public repos on GitHub"] == "unmet"
    assert '<span class="req-fact">you have 7</span>' in claim_block(body, "builders")


@pytest.fixture
def team_claim(make_claim, github, discord, slack):
    """GitHub, and Discord or Slack."""
    claim = make_claim("team", apps=[github])
    require(claim, discord, slack, group="any")
    return claim


def test_one_of_the_any_requirements_is_shown_as_such(
    alice_client, member, team_claim, github, slack
):
    account(member, github)
    body = text(alice_client.get(URL))
    assert requirements(body, "team") == {
        "Connect a working GitHub account": "met",
        "One of these: Connect a working Discord account": "unmet",
        "One of these: Connect a working Slack account": "unmet",
        "Add your BitBadges address": "unmet",
    }

    account(member, slack)
    body = text(alice_client.get(URL))
    assert requirements(body, "team") == {
        "Connect a working GitHub account": "met",
        "One of these: Connect a working Discord account": "unknown",
        "One of these: Connect a working Slack account": "met",
        "Add your BitBadges address": "unmet",
    }


def test_each_check_is_a_row_naming_its_app_and_a_must_not_says_so(
    alice_client, member, team_claim, github, slack
):
    stars = add_check(team_claim, github, action="a", path="stars", comparison="gte", value="5")
    banned = add_check(
        team_claim, github, action="b", path="banned", comparison="truthy", group="none"
    )
    posts = add_check(
        team_claim, slack, action="c", path="posts", comparison="gt", value="0", group="any"
    )
    account(member, github)
    account(member, slack)
    Completion.objects.create(
        claim=team_claim,
        member=member,
        state=State.INELIGIBLE,
        evidence=[
            {"rule": stars.rule_key, "passed": True, "value": "9"},
            {"rule": banned.rule_key, "passed": False, "value": "true"},
            {"rule": posts.rule_key, "passed": False, "value": "(not checked)"},
        ],
    )
    rows = requirements(text(alice_client.get(URL)), "team")
    assert rows["Have at least 5 stars on GitHub"] == "met"
    assert rows["Not for members who have banned on your GitHub account"] == "unmet"
    assert rows["One of these: Have more than 0 posts on Slack"] == "unknown"


# --- Polling ---------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [State.WAITING, State.RETRYING, State.CHECKING])
def test_the_list_polls_while_alices_completion_is_in_progress(
    alice_client, member, make_claim, state
):
    claim = make_claim("starter")
    Completion.objects.create(claim=claim, member=member, state=state)
    body = text(alice_client.get(URL))
    assert POLLING in body
    assert re.search(r'<div id="claims"[^>]*data-polling="true"', body)


@pytest.mark.parametrize("state", [State.COMPLETED, State.INELIGIBLE, State.FAILED, None])
def test_the_list_stops_polling_once_settled(alice_client, member, make_claim, state):
    claim = make_claim("starter")
    if state:
        Completion.objects.create(
            claim=claim, member=member, state=state, completed_at=timezone.now()
        )
    body = text(alice_client.get(URL))
    assert POLLING not in body
    assert 'data-polling="true"' not in body
    assert 'id="claims"' in body


def test_htmx_poll_returns_the_fragment_without_the_address_form(alice_client, make_claim):
    make_claim("starter")
    response = alice_client.get(URL, headers={"HX-Request": "true"})
    body = text(response)
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="claims"')
    assert 'id="claim-starter"' in body
    assert 'id="address"' not in body and 'name="address"' not in body
    assert "<html" not in body
    assert 'id="messages"' in body and 'hx-swap-oob="true"' in body


def test_a_boosted_htmx_request_gets_the_whole_page(alice_client, make_claim):
    make_claim("starter")
    body = text(alice_client.get(URL, headers={"HX-Request": "true", "HX-Boosted": "true"}))
    assert "<html" in body and 'id="address"' in body


def test_the_page_is_not_cached(alice_client):
    assert "no-cache" in alice_client.get(URL)["Cache-Control"]


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_the_page_is_get_only(alice_client, method):
    assert getattr(alice_client, method)(URL).status_code == 405


def test_the_page_takes_the_same_number_of_queries_for_1_or_10_claims(
    alice_client, member, make_claim, github, discord, django_assert_max_num_queries, settings
):
    settings.PAGE_CACHE = False  # the render's own queries (the cache's: tests/perf)
    account(member, github)
    account(member, discord, healthy=False)

    def add(index):
        claim = make_claim(f"claim-{index}", apps=[github, discord])
        check = add_check(claim, github, action="a", path="p", comparison="truthy")
        Completion.objects.create(
            claim=claim,
            member=member,
            state=State.INELIGIBLE,
            evidence=[{"rule": check.rule_key, "passed": False, "value": "x"}],
        )
        return claim

    first = add(0)
    alice_client.get(URL)  # the brand is read once into the cache; pages then read none
    with django_assert_max_num_queries(8) as one:
        assert alice_client.get(URL).status_code == 200
    for index in range(1, 10):
        add(index)
    with django_assert_max_num_queries(8) as ten:
        body = text(alice_client.get(URL))
    assert body.count('class="card claim') == 10
    assert len(ten.captured_queries) == len(one.captured_queries)

    # More requirements of each group, on more apps, cost no query more either.
    slack = App.objects.create(slug="slack", name="Slack", enabled=True, order=3)
    account(member, slack)
    require(first, discord, slack, group="any")
    add_check(first, slack, action="b", path="q", comparison="truthy", group="any")
    add_check(first, discord, action="c", path="r", comparison="truthy", group="none")
    with django_assert_max_num_queries(8) as more:
        body = text(alice_client.get(URL))
    assert "One of these:" in claim_block(body, "claim-0")
    assert "Not for members who have r on your Discord account" in claim_block(body, "claim-0")
    assert len(more.captured_queries) == len(one.captured_queries)


# --- Check again -----------------------------------------------------------------------------


def test_check_again_is_post_only(alice_client, make_claim):
    make_claim("starter")
    assert alice_client.get(check_url("starter")).status_code == 405
    assert not Completion.objects.exists()


@pytest.mark.parametrize("slug", ["nope", "secret-drop", "x" * 10_000, "%3Cscript%3E", "a..b"])
def test_check_again_on_an_unknown_or_disabled_claim_is_404(alice_client, make_claim, slug):
    make_claim("secret-drop", enabled=False)
    assert alice_client.post(check_url(slug)).status_code == 404
    assert not Completion.objects.exists()


def test_check_again_queues_a_check(
    alice_client, member, make_claim, django_capture_on_commit_callbacks
):
    make_claim("starter", name="Starter")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(check_url("starter"))
    assert response.status_code == 302
    assert response["Location"] == URL

    completion = Completion.objects.get(member=member)
    assert completion.state == State.WAITING
    assert completion.reason == "Queued for a check."
    assert tasks_for(completion) == 1
    assert CompletionEvent.objects.filter(
        completion=completion, to_state=State.WAITING, **Actor.member(member).fields()
    ).exists()

    body = text(alice_client.get(URL))
    assert "Checking “Starter” again. This page updates by itself." in body
    assert POLLING in body


def test_check_again_restarts_an_ineligible_completion(
    alice_client, member, make_claim, django_capture_on_commit_callbacks
):
    claim = make_claim("starter")
    completion = Completion.objects.create(
        claim=claim, member=member, state=State.INELIGIBLE, attempts=3
    )
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(check_url("starter"))
    completion.refresh_from_db()
    assert (completion.state, completion.attempts) == (State.WAITING, 0)
    assert tasks_for(completion) == 1


def test_check_again_on_a_completed_claim_says_so_and_changes_nothing(
    alice_client, member, make_claim, django_capture_on_commit_callbacks
):
    claim = make_claim("starter", name="Starter")
    completion = Completion.objects.create(
        claim=claim, member=member, state=State.COMPLETED, completed_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(check_url("starter"), follow=True)
    assert "“Starter” is already completed for you." in text(response)
    completion.refresh_from_db()
    assert completion.state == State.COMPLETED
    assert not DBTaskResult.objects.exists()
    assert not CompletionEvent.objects.exists()


def test_check_again_by_htmx_returns_the_fragment_with_the_message(
    alice_client, member, make_claim, django_capture_on_commit_callbacks
):
    make_claim("starter", name="Starter")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(check_url("starter"), headers={"HX-Request": "true"})
    body = text(response)
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="claims"')
    assert POLLING in body
    assert "Checking “Starter” again." in body


@pytest.fixture
def two_checks_a_minute(settings):
    settings.CLAIMS_CHECK_RATE_LIMIT = (2, 60)


def test_check_again_past_the_rate_limit_says_when_to_retry_htmx(
    alice_client, member, make_claim, two_checks_a_minute, django_capture_on_commit_callbacks
):
    make_claim("starter")
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            alice_client.post(check_url("starter"), headers={"HX-Request": "true"})
    events = CompletionEvent.objects.count()

    response = alice_client.post(check_url("starter"), headers={"HX-Request": "true"})
    assert response.status_code == 200  # htmx swaps only 2xx; the message says it
    match = re.search(r"Try again in (\d+) seconds\.", text(response))
    assert match and 1 <= int(match.group(1)) <= 60
    assert "many checks in a short time" in text(response)
    assert CompletionEvent.objects.count() == events  # the refused press changed nothing


def test_check_again_past_the_rate_limit_redirects_then_shows_the_message(
    alice_client, make_claim, two_checks_a_minute
):
    make_claim("starter")
    alice_client.post(check_url("starter"))
    alice_client.post(check_url("starter"))
    response = alice_client.post(check_url("starter"))
    assert response.status_code == 303
    assert response["Location"] == URL
    body = text(alice_client.get(URL))
    assert re.search(r"Try again in \d+ seconds\.", body)


def test_the_rate_limit_is_per_member(alice_client, bob, make_claim, two_checks_a_minute):
    make_claim("starter")
    for _ in range(3):
        alice_client.post(check_url("starter"))
    bobs_client = Client()
    bobs_client.force_login(bob)
    response = bobs_client.post(check_url("starter"), follow=True)
    assert "Try again in" not in text(response)
    assert Completion.objects.filter(member=bob).exists()


def test_check_again_needs_a_login(client, make_claim):
    make_claim("starter")
    response = client.post(check_url("starter"))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
    assert not Completion.objects.exists()


def test_check_again_needs_the_csrf_token(member, make_claim):
    make_claim("starter")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member)
    assert strict.post(check_url("starter")).status_code == 403
    assert not Completion.objects.exists()


def test_check_again_with_the_csrf_token_from_the_page_works(member, make_claim):
    make_claim("starter")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member)
    page = text(strict.get(URL))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = strict.post(check_url("starter"), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Completion.objects.filter(member=member).exists()


# --- Address ---------------------------------------------------------------------------------


def test_a_lowercase_0x_address_is_stored_checksummed(alice_client, member):
    response = alice_client.post(ADDRESS_URL, {"address": f"  {ALICE_ADDRESS.lower()}  "})
    assert response.status_code == 302
    assert response["Location"] == URL
    member.refresh_from_db()
    assert member.address == ALICE_ADDRESS == eth_checksum(ALICE_ADDRESS[2:])
    body = text(alice_client.get(URL))
    assert "Your BitBadges address is saved." in body
    assert f'value="{ALICE_ADDRESS}"' in body


def test_a_bb1_address_is_stored_in_lower_case(alice_client, member):
    bb1 = to_bitbadges_address(ALICE_ADDRESS)
    response = alice_client.post(ADDRESS_URL, {"address": bb1.upper()})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.address == bb1 == bb1.lower()


BAD_ADDRESSES = [
    pytest.param(
        {"address": "0x742d35Cc6634c0532925A3b844bc9E7595F0beB1"},
        "do not match its EIP-55 checksum",
        id="wrong-checksum",
    ),
    pytest.param({"address": "hello world"}, "A BitBadges address starts with 0x", id="garbage"),
    pytest.param(
        {"address": "0x" + "g" * 40}, "hex digits 0-9 and a-f; &#x27;g&#x27;", id="not-hex"
    ),
    pytest.param({"address": "0x1234"}, "exactly 40 hex digits", id="too-short"),
    pytest.param(
        {"address": "0x" + "a" * 10_000},
        "Ensure this value has at most 90 characters (it has 10002).",
        id="too-long",
    ),
    pytest.param({"address": ""}, "Enter your BitBadges address.", id="empty"),
    pytest.param({"address": "   "}, "Enter your BitBadges address.", id="blank"),
    pytest.param({}, "Enter your BitBadges address.", id="missing"),
    pytest.param(
        {"address": "<script>alert(1)</script>"},
        "A BitBadges address starts with 0x",
        id="hostile",
    ),
    pytest.param({"address": "0x\x00" + "a" * 39}, "Null characters are not allowed.", id="nul"),
    pytest.param(
        {"address": "bb1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"}, "fails its checksum", id="bb1"
    ),
]


@pytest.mark.parametrize(("data", "message"), BAD_ADDRESSES)
def test_a_bad_address_is_refused_with_the_reason_and_nothing_changes(
    alice_client, member, make_claim, data, message, django_capture_on_commit_callbacks
):
    member.address = ALICE_ADDRESS
    member.save()
    claim = make_claim("starter")
    Completion.objects.create(claim=claim, member=member, state=State.INELIGIBLE)

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(ADDRESS_URL, data)
    body = text(response)
    assert response.status_code == 400
    assert message in body
    assert 'aria-invalid="true"' in body
    assert "<script>alert(1)</script>" not in body
    member.refresh_from_db()
    assert member.address == ALICE_ADDRESS
    assert Completion.objects.get().state == State.INELIGIBLE
    assert not DBTaskResult.objects.exists()
    # The page still shows alice's stored address as set (not the rejected input).
    assert requirements(body, "starter")["Add your BitBadges address"] == "met"


@pytest.mark.parametrize(("data", "message"), BAD_ADDRESSES)
def test_a_bad_address_by_htmx_gets_the_form_back_with_the_reason(
    alice_client, member, data, message
):
    response = alice_client.post(ADDRESS_URL, data, headers={"HX-Request": "true"})
    body = text(response)
    assert response.status_code == 200  # htmx swaps only 2xx; the form carries the error
    assert '<section id="address"' in body and 'hx-swap-oob="true"' in body
    assert message in body
    assert "<script>alert(1)</script>" not in body
    member.refresh_from_db()
    assert member.address == ""


def test_a_good_address_by_htmx_returns_the_list_and_the_form(alice_client, member):
    response = alice_client.post(
        ADDRESS_URL, {"address": ALICE_ADDRESS.lower()}, headers={"HX-Request": "true"}
    )
    body = text(response)
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="claims"')
    assert f'value="{ALICE_ADDRESS}"' in body
    assert "Your BitBadges address is saved." in body
    member.refresh_from_db()
    assert member.address == ALICE_ADDRESS


def test_saving_an_address_rechecks_alices_unfinished_claims_only(
    alice_client, member, bob, make_claim, django_capture_on_commit_callbacks
):
    waiting_on_address = make_claim("starter")
    done = make_claim("done")
    disabled = make_claim("retired", enabled=False)
    mine = Completion.objects.create(
        claim=waiting_on_address, member=member, state=State.INELIGIBLE, attempts=2
    )
    completed = Completion.objects.create(claim=done, member=member, state=State.COMPLETED)
    retired = Completion.objects.create(claim=disabled, member=member, state=State.INELIGIBLE)
    bobs = Completion.objects.create(claim=waiting_on_address, member=bob, state=State.INELIGIBLE)

    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(ADDRESS_URL, {"address": ALICE_ADDRESS})

    for row in (mine, completed, retired, bobs):
        row.refresh_from_db()
    assert (mine.state, mine.attempts) == (State.WAITING, 0)
    assert tasks_for(mine) == 1
    assert completed.state == State.COMPLETED
    assert retired.state == State.INELIGIBLE
    assert bobs.state == State.INELIGIBLE
    assert DBTaskResult.objects.count() == 1


def test_saving_the_same_address_again_rechecks_nothing(
    alice_client, member, make_claim, django_capture_on_commit_callbacks
):
    member.address = ALICE_ADDRESS
    member.save()
    row = Completion.objects.create(
        claim=make_claim("starter"), member=member, state=State.INELIGIBLE
    )
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(ADDRESS_URL, {"address": ALICE_ADDRESS.lower()})
    row.refresh_from_db()
    assert row.state == State.INELIGIBLE
    assert DBTaskResult.objects.count() == 0
    assert "That is already your BitBadges address." in text(alice_client.get(URL))


def test_changing_the_address_is_rate_limited_like_check_again(
    alice_client, member, make_claim, settings
):
    settings.CLAIMS_CHECK_RATE_LIMIT = (2, 60)
    other = "0x14574a6DFF2Ddf9e07828b4345d3040919AF5652"
    for address in (ALICE_ADDRESS, other):
        alice_client.post(ADDRESS_URL, {"address": address})
    response = alice_client.post(ADDRESS_URL, {"address": ALICE_ADDRESS})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.address == other  # the third change was refused
    assert "Try again in" in text(alice_client.get(URL))


def test_the_address_form_needs_a_login_and_the_csrf_token(client, member):
    response = client.post(ADDRESS_URL, {"address": ALICE_ADDRESS})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member)
    assert strict.post(ADDRESS_URL, {"address": ALICE_ADDRESS}).status_code == 403
    member.refresh_from_db()
    assert member.address == ""


def test_the_address_form_is_post_only(alice_client):
    assert alice_client.get(ADDRESS_URL).status_code == 405

"""The member's home page, /: what they have earned, what is under way, and "What needs
you", each item only when it is true and with the button or link that does it."""

import datetime
import html

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from claims.models import Completion
from connections.models import App, ConnectedAccount
from tests.claims.claims_support import require

pytestmark = pytest.mark.django_db

State = Completion.State


def text(response) -> str:
    return html.unescape(response.content.decode())


def needs(body: str) -> str:
    """The "What needs you" section, as HTML."""
    start = body.index('id="needs-you"')
    return body[start : body.index("</section>", start)]


@pytest.fixture
def github():
    return App.objects.create(slug="github", name="GitHub", enabled=True, order=1)


@pytest.fixture
def discord():
    return App.objects.create(slug="discord", name="Discord", enabled=True, order=2)


@pytest.fixture
def alice_home(client, alice):
    client.force_login(alice)
    return alice


def home_page_of(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return text(response)


def home(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return text(response)


def test_visitors_are_sent_to_log_in_where_the_list_of_claims_is_linked(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert 'href="/c/"' in text(client.get("/login/"))


def test_with_everything_in_place_nothing_needs_the_member(client, alice_home, make_claim):
    body = home(client)
    assert "Nothing needs you right now." in body
    assert 'id="todo-' not in body
    assert 'href="/c/"' in body  # the list of claims, from the navigation


def test_an_unconfirmed_email_is_asked_for_with_a_resend_button(client, unverified_member):
    client.force_login(unverified_member)
    section = needs(home(client))
    assert "Confirm your email address" in section and "carol@example.com" in section
    assert 'action="/email/"' in section and 'name="action_send"' in section
    assert 'value="carol@example.com"' in section
    assert "Nothing needs you" not in section


def test_no_address_points_at_the_address_form(client, member):
    client.force_login(member)
    section = needs(home(client))
    assert 'id="todo-address"' in section
    assert 'href="/claims/#address"' in section
    assert 'id="address"' in home_page_of(client, "/claims/")  # where the link lands
    assert 'id="todo-email"' not in section


def test_an_account_to_reconnect_has_its_button_and_names_the_claims_waiting(
    client, alice_home, make_claim, github
):
    make_claim("github-starter", apps=[github], name="GitHub starter")
    account = ConnectedAccount.objects.create(
        member=alice_home, app=github, pipedream_id="apn_1", name="octo", healthy=False
    )
    section = needs(home(client))
    start = section.index(f'id="todo-reconnect-{account.pk}"')
    item = section[start : section.index("</li>", start)]
    # Without JavaScript the hosted page ends on the one claim waiting.
    assert f'href="/connect/github/?account={account.pk}&next=/c/github-starter/"' in item
    assert "Reconnect GitHub" in item and "GitHub starter" in item
    # Reconnecting is the fix: not a second account.
    assert "todo-connect-github-starter" not in section
    # Fixed: the item goes.
    ConnectedAccount.objects.filter(pk=account.pk).update(healthy=True)
    assert "todo-reconnect" not in home(client)


def test_a_claim_missing_an_app_offers_connect_for_that_claim(
    client, alice_home, make_claim, github, discord
):
    make_claim("chatty", apps=[discord], name="Chatty badge")
    make_claim("github-starter", apps=[github])
    ConnectedAccount.objects.create(member=alice_home, app=github, pipedream_id="apn_1")
    section = needs(home(client))
    assert 'id="todo-connect-chatty-discord"' in section
    # Without JavaScript the hosted page ends on the claim it was connected for.
    assert 'href="/connect/discord/?next=/c/chatty/"' in section and "Chatty badge" in section
    assert "todo-connect-github-starter" not in section


def test_apps_of_which_one_is_enough_are_offered_together(
    client, alice_home, make_claim, github, discord
):
    slack = App.objects.create(slug="slack", name="Slack", enabled=True, order=3)
    either = make_claim("either", apps=[github], name="Either badge")
    require(either, discord, slack, group="any")
    ConnectedAccount.objects.create(member=alice_home, app=github, pipedream_id="apn_1")
    section = needs(home(client))
    assert 'id="todo-connect-either-discord-slack"' in section
    assert "Connect your Discord or Slack account for" in section
    assert 'href="/connect/discord/?next=/c/either/"' in section
    assert 'href="/connect/slack/?next=/c/either/"' in section
    # One of them connected: nothing left to connect.
    ConnectedAccount.objects.create(member=alice_home, app=slack, pipedream_id="apn_2")
    assert "todo-connect-either" not in needs(home(client))


def test_a_claim_ready_to_start_or_not_yet_offers_a_check(client, alice_home, make_claim, github):
    ready = make_claim("ready", apps=[github])
    not_yet = make_claim("not-yet", apps=[github])
    ConnectedAccount.objects.create(member=alice_home, app=github, pipedream_id="apn_1")
    Completion.objects.create(claim=not_yet, member=alice_home, state=State.INELIGIBLE)
    section = needs(home(client))
    assert 'action="/c/ready/check/"' in section
    assert 'action="/c/not-yet/check/"' in section
    # The button does what it says: a check starts, and the claim page says so.
    response = client.post("/c/ready/check/")
    assert response.status_code == 302 and response["Location"] == "/c/ready/"
    assert Completion.objects.filter(claim=ready, member=alice_home).exists()


def test_claims_that_check_again_by_themselves_or_are_stopped_offer_nothing(
    client, alice_home, make_claim, github
):
    scheduled = make_claim("scheduled", apps=[github], recheck_interval=datetime.timedelta(days=1))
    make_claim("used-up", apps=[github], life_max_uses=3, life_used=3)
    make_claim("closed", apps=[github], ends_at=timezone.now() - datetime.timedelta(hours=1))
    ConnectedAccount.objects.create(member=alice_home, app=github, pipedream_id="apn_1")
    Completion.objects.create(
        claim=scheduled,
        member=alice_home,
        state=State.INELIGIBLE,
        recheck_at=timezone.now() + datetime.timedelta(days=1),
    )
    section = needs(home(client))
    assert "Nothing needs you right now." in section
    for slug in ("scheduled", "used-up", "closed"):
        assert f"/c/{slug}/" not in section


def test_a_stopped_claim_asks_for_no_connection_either(client, alice_home, make_claim, github):
    """Used up or closed: connecting its app would change nothing."""
    make_claim("used-up", apps=[github], life_max_uses=3, life_used=3)
    make_claim("closed", apps=[github], ends_at=timezone.now() - datetime.timedelta(hours=1))
    section = needs(home(client))
    assert "Nothing needs you right now." in section
    assert "todo-connect" not in section


def test_an_unconfirmed_email_comes_before_any_connection(
    client, unverified_member, make_claim, github
):
    make_claim("github-starter", apps=[github])
    client.force_login(unverified_member)
    section = needs(home(client))
    assert 'id="todo-email"' in section
    assert "todo-connect" not in section


def test_earned_and_under_way_claims_are_listed_and_need_nothing(
    client, alice_home, make_claim, github, settings
):
    settings.BITBADGES_SITE_URL = "https://bitbadges.io"
    # Real BitBadges claims (the sandbox's own link to its stand-in page: claims/bitbadges/badge.py).
    settings.BITBADGES_API_URL = "https://api.bitbadges.io"
    done = make_claim("done", apps=[github], name="Done badge", bitbadges_claim_id="claim-done")
    busy = make_claim("busy", apps=[github], name="Busy badge")
    Completion.objects.create(
        claim=done, member=alice_home, state=State.COMPLETED, completed_at=timezone.now()
    )
    Completion.objects.create(claim=busy, member=alice_home, state=State.DELIVERING)
    # Earned stays earned: the account it was earned with is gone.
    body = home(client)
    earned = body[body.index('id="earned"') :]
    assert '<span class="count" id="earned-count">1</span>' in earned
    assert 'href="/c/done/"' in earned and "Done badge" in earned
    assert 'alt="Done badge"' in earned  # its picture
    assert 'href="https://bitbadges.io/claims/claim-done"' in earned  # View on BitBadges
    under_way = body[body.index('id="in-progress"') :]
    assert "Busy badge" in under_way.split("</section>", 1)[0]
    section = needs(body)
    assert "Done badge" not in section and "Busy badge" not in section
    assert "Nothing needs you right now." in section


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    return len(queries)


def _add(make_claim, member, apps, start: int, count: int) -> None:
    for n in range(start, start + count):
        app = apps[n % len(apps)]
        claim = make_claim(f"claim-{n:03}", apps=[app])
        if n % 3 == 0:
            Completion.objects.create(
                claim=claim, member=member, state=State.COMPLETED, completed_at=timezone.now()
            )
        ConnectedAccount.objects.create(
            member=member, app=app, pipedream_id=f"apn_{n}", healthy=n % 2 == 0
        )


def test_the_queries_do_not_grow_with_claims_or_accounts(client, alice_home, make_claim, settings):
    settings.PAGE_CACHE = False  # the render's own queries (the cache's: tests/perf)
    apps = [
        App.objects.create(slug=f"app-{n}", name=f"App {n}", enabled=True, order=n)
        for n in range(4)
    ]
    _add(make_claim, alice_home, apps, 0, 2)
    client.get("/")  # what is read once and cached is read here
    few = _queries(client)
    _add(make_claim, alice_home, apps, 2, 12)
    assert _queries(client) == few


def test_only_get_is_answered(client, alice_home):
    assert client.post("/").status_code == 405
    assert client.head("/").status_code == 405

"""The public list of claims, /c/: what a visitor and a member read there, what it leaves
out, its methods and its queries."""

import datetime
import html

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from claims import catalogue, wording
from claims.models import Claim, ClaimVisit, Completion
from connections.models import App, ConnectedAccount
from tests.claims.claims_support import ALICE_ADDRESS, require

pytestmark = pytest.mark.django_db

State = Completion.State
URL = "/c/"


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


def item(body: str, slug: str) -> str:
    """The list item of one claim, as HTML."""
    start = body.index(f'id="catalogue-{slug}"')
    end = body.find("</li>", start)
    return body[start:end]


def test_a_visitor_reads_every_enabled_claim_with_its_apps_and_a_link(
    client, make_claim, github, discord
):
    make_claim("github-starter", apps=[github], description="Connect GitHub. That is all.")
    make_claim("chatty", apps=[discord, github], name="Chatty badge")
    make_claim("secret-draft", apps=[github], enabled=False, name="Secret draft")

    response = client.get(URL)

    assert response.status_code == 200
    body = text(response)
    assert 'href="/c/github-starter/"' in body and 'href="/c/chatty/"' in body
    assert "Connect GitHub. That is all." in body
    chatty = item(body, "chatty")
    assert "Discord" in chatty and "GitHub" in chatty
    assert 'src="https://x.test/gh.svg"' in item(body, "github-starter")
    # The badge's picture (the generated mark until BitBadges' image is kept), named.
    assert 'class="catalogue-img" src="data:image/svg+xml,' in body
    assert 'alt="Chatty badge"' in chatty
    # A disabled claim is nobody's business.
    assert "secret-draft" not in body and "Secret draft" not in body
    # Nothing about any member for a visitor, and no visit counted (the landing's only).
    assert "data-state=" not in body and "Needs you" not in body
    assert not ClaimVisit.objects.exists()
    # The visitor can reach it from the navigation of any page.
    assert 'href="/c/"' in text(client.get("/login/"))


def test_closed_and_used_up_claims_are_marked_and_come_after_open_ones(client, make_claim, github):
    now = timezone.now()
    make_claim("a-closed", apps=[github], ends_at=now - datetime.timedelta(days=1))
    make_claim("b-used-up", apps=[github], life_max_uses=5, life_used=5)
    make_claim("c-later", apps=[github], starts_at=now + datetime.timedelta(days=3))
    make_claim("z-open", apps=[github], ends_at=now + datetime.timedelta(days=3))

    body = text(client.get(URL))

    order = [body.index(f'id="catalogue-{slug}"') for slug in ("z-open", "c-later", "b-used-up")]
    assert order == sorted(order)
    assert body.index('id="catalogue-b-used-up"') < body.index('id="catalogue-a-closed"')
    assert "This claim closed on" in item(body, "a-closed")
    assert "All badges of this claim have been given out." in item(body, "b-used-up")
    assert "This claim opens on" in item(body, "c-later")
    assert "Closes on" in item(body, "z-open")
    assert "Claim it" in item(body, "z-open") and "Read more" in item(body, "a-closed")


def test_a_member_reads_where_they_stand_on_each(
    client, make_claim, member, github, discord, settings
):
    settings.BITBADGES_SITE_URL = "https://bitbadges.io"
    member.address = ALICE_ADDRESS
    member.save(update_fields=["address"])
    done = make_claim("done", apps=[github])
    busy = make_claim("busy", apps=[github])
    make_claim("needs-discord", apps=[discord])
    broken_app = App.objects.create(slug="slack", name="Slack", enabled=True, order=3)
    make_claim("needs-reconnect", apps=[broken_app])
    make_claim("ready", apps=[github])
    make_claim("closed", apps=[github], ends_at=timezone.now() - datetime.timedelta(hours=1))
    ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_1")
    ConnectedAccount.objects.create(
        member=member, app=broken_app, pipedream_id="apn_2", healthy=False
    )
    Completion.objects.create(
        claim=done, member=member, state=State.COMPLETED, completed_at=timezone.now()
    )
    Completion.objects.create(claim=busy, member=member, state=State.CHECKING)
    Claim.objects.filter(pk__in=[done.pk, busy.pk]).update(bitbadges_claim_id="claim-1")
    client.force_login(member)

    body = text(client.get(URL))

    states = {
        slug: item(body, slug).split('data-state="', 1)[1].split('"', 1)[0]
        for slug in ("done", "busy", "needs-discord", "needs-reconnect", "ready")
    }
    assert states == {
        "done": "completed",
        "busy": "in_progress",
        "needs-discord": "needs_you",
        "needs-reconnect": "needs_you",
        "ready": "new",
    }
    assert "Completed" in item(body, "done") and "In progress" in item(body, "busy")
    assert "Needs you" in item(body, "needs-discord")
    # What needs the member comes first, what they earned last, a closed claim after all.
    order = [
        body.index(f'id="catalogue-{slug}"')
        for slug in ("needs-discord", "ready", "busy", "done", "closed")
    ]
    assert order == sorted(order)
    closed = item(body, "closed")
    assert 'data-state="stopped"' in closed and "member-state" not in closed
    assert "This claim closed on" in closed
    # An earned badge links to its page on BitBadges; one not earned yet does not.
    assert "View on BitBadges" in item(body, "done")
    assert "View on BitBadges" not in item(body, "busy")


def test_a_member_without_an_address_is_needed_on_every_open_claim(
    client, make_claim, member, github
):
    make_claim("ready", apps=[github])
    ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_1")
    client.force_login(member)
    assert 'data-state="needs_you"' in item(text(client.get(URL)), "ready")


def test_nothing_to_list_says_so(client, make_claim, github):
    make_claim("hidden", apps=[github], enabled=False)
    body = text(client.get(URL))
    assert "No badges to claim right now." in body
    assert "catalogue-item" not in body


def test_past_the_cap_the_page_says_only_the_first_are_listed(
    client, make_claim, github, monkeypatch
):
    monkeypatch.setattr(catalogue, "CATALOGUE_CAP", 3)
    for n in range(5):
        make_claim(f"claim-{n}", apps=[github])
    body = text(client.get(URL))
    assert body.count('class="card catalogue-item') == 3
    assert "Only the first 3 claims are listed here." in body


@pytest.mark.parametrize("method", ["post", "head", "put", "delete"])
def test_other_methods_than_get_are_refused(client, make_claim, github, method):
    make_claim("github-starter", apps=[github])
    assert getattr(client, method)(URL).status_code == 405


def test_hostile_query_parameters_change_nothing_and_are_not_echoed(client, make_claim, github):
    make_claim("github-starter", apps=[github])
    plain = text(client.get(URL))
    hostile = client.get(
        URL, {"slug": "../admin/", "page": "<script>alert(1)</script>", "next": "https://evil.test"}
    )
    assert hostile.status_code == 200
    body = text(hostile)
    assert "<script>alert(1)" not in body and "evil.test" not in body
    assert body.count("catalogue-item") == plain.count("catalogue-item")
    # A slug that is not a claim is the landing page's 404, not the list.
    assert client.get("/c/no-such-claim/").status_code == 404


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL).status_code == 200
    return len(queries)


def _add(make_claim, apps, member, start: int, count: int) -> None:
    for n in range(start, start + count):
        claim = make_claim(f"claim-{n:03}", apps=apps)
        Completion.objects.create(claim=claim, member=member, state=State.INELIGIBLE)
        ConnectedAccount.objects.create(member=member, app=apps[n % 2], pipedream_id=f"apn_{n}")


def test_the_queries_do_not_grow_with_the_claims(client, make_claim, member, github, discord):
    _add(make_claim, [github, discord], member, 0, 2)
    client.get(URL)  # what is read once and cached (the brand) is read here
    few_anonymous = _queries(client)
    client.force_login(member)
    few = _queries(client)
    _add(make_claim, [github, discord], member, 2, 10)
    assert _queries(client) == few
    client.logout()
    assert _queries(client) == few_anonymous


def test_a_member_state_follows_the_claims_row(client, make_claim, member, github, discord):
    """/c/ says what /claims/ says (claims/selectors.py): a failure of the claim's own
    settings waits for the site, one a check can change needs the member; of the "any"
    apps one connected is enough."""
    member.address = ALICE_ADDRESS
    member.save(update_fields=["address"])
    settings_failed = make_claim("settings-failed", apps=[github])
    busy_failed = make_claim("busy-failed", apps=[github])
    require(make_claim("either"), github, discord, group="any")
    ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_1")
    Completion.objects.create(
        claim=settings_failed,
        member=member,
        state=State.FAILED,
        reason=wording.SETTINGS_NEED_ATTENTION,
    )
    Completion.objects.create(
        claim=busy_failed, member=member, state=State.FAILED, reason="BitBadges was busy."
    )
    client.force_login(member)

    body = text(client.get(URL))

    assert 'data-state="waiting"' in item(body, "settings-failed")
    assert 'data-state="needs_you"' in item(body, "busy-failed")
    assert 'data-state="new"' in item(body, "either")

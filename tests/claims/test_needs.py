"""claims/needs.py: the member's broken accounts that a claim still needs, and their
warnings on the home page and /accounts/ (the words the email uses too)."""

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from claims.models import Completion
from claims.needs import broken_needed
from connections.models import App
from tests.claims.claims_support import require
from tests.claims.pages_support import account

pytestmark = pytest.mark.django_db

State = Completion.State


@pytest.fixture
def github():
    return App.objects.create(slug="github", name="GitHub", enabled=True, order=1)


@pytest.fixture
def discord():
    return App.objects.create(slug="discord", name="Discord", enabled=True, order=2)


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="pw-bob-123456")


def text(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.content.decode())


# --- the selector -------------------------------------------------------------------------


def test_a_broken_account_a_claim_needs_is_named_with_the_claim(member, make_claim, github):
    claim = make_claim("octo-badge", apps=[github], name="Octo Badge")
    octo = account(member, github, name="octo", healthy=False)
    (need,) = broken_needed(member)
    assert (need.account, need.app, need.claims) == (octo, github, [claim])
    assert need.sentence == "Your GitHub account (octo) stopped working. Octo Badge needs it."
    assert need.reconnect_url == f"/connect/github/?account={octo.pk}&next=/c/octo-badge/"


def test_several_claims_are_listed_by_name_and_the_reconnect_ends_on_accounts(
    member, make_claim, github
):
    make_claim("zeta", apps=[github], name="Zeta")
    make_claim("alpha", apps=[github], name="Alpha")
    make_claim("mid", apps=[github], name="Mid")
    dead = account(member, github, name="", healthy=False, dead=True)
    (need,) = broken_needed(member)
    assert [claim.name for claim in need.claims] == ["Alpha", "Mid", "Zeta"]
    assert need.sentence == "Your GitHub account stopped working. Alpha, Mid and Zeta need it."
    assert need.reconnect_url == f"/connect/github/?account={dead.pk}&next=/accounts/"


def test_nothing_when_all_is_well_or_no_claim_waits(member, make_claim, github, discord):
    make_claim("octo-badge", apps=[github])
    account(member, github, name="octo")
    assert broken_needed(member) == []
    # Broken, but no claim asks for Discord.
    account(member, discord, name="chatty", healthy=False)
    assert broken_needed(member) == []


def test_claims_that_need_nothing_more_are_left_out(member, make_claim, github, discord):
    earned = make_claim("earned", apps=[github])
    revoked = make_claim("revoked", apps=[github])
    make_claim("off", apps=[github], enabled=False)
    make_claim("other-app", apps=[discord])
    Completion.objects.create(claim=earned, member=member, state=State.COMPLETED)
    Completion.objects.create(claim=revoked, member=member, state=State.REVOKED)
    account(member, github, name="octo", healthy=False)
    account(member, discord, name="chatty")
    assert broken_needed(member) == []
    # A claim still to earn brings the warning back, naming that claim only.
    wanted = make_claim("wanted", apps=[github])
    assert [need.claims for need in broken_needed(member)] == [[wanted]]


def test_a_claim_waiting_for_its_check_needs_it_one_past_its_check_does_not(
    member, make_claim, github
):
    """A health change queues a check of the app's claims (claims/receivers.py): the
    claim then waits for that check, which runs on the account."""
    waiting = make_claim("waiting", apps=[github])
    checking = make_claim("checking", apps=[github])
    delivering = make_claim("delivering", apps=[github])
    retrying = make_claim("retrying", apps=[github])
    for claim in (waiting, checking, delivering, retrying):
        Completion.objects.create(claim=claim, member=member, state=claim.slug)
    account(member, github, name="octo", healthy=False)
    (need,) = broken_needed(member)
    assert need.claims == [checking, waiting]


def test_a_working_account_of_the_same_app_or_of_an_either_app_is_enough(
    member, make_claim, github, discord
):
    either = make_claim("either")
    require(either, github, discord, group="any")
    account(member, github, name="octo", healthy=False)
    account(member, discord, name="chatty")
    assert broken_needed(member) == []  # Discord does for "either"
    make_claim("github-only", apps=[github])
    assert [n.claims[0].slug for n in broken_needed(member)] == ["github-only"]
    account(member, github, name="octo-2")  # a working GitHub account: nothing to fix
    assert broken_needed(member) == []


def test_every_broken_account_of_a_needed_app_is_named(member, make_claim, github):
    make_claim("octo-badge", apps=[github])
    first = account(member, github, name="octo-a", healthy=False)
    second = account(member, github, name="octo-b", dead=True)
    assert [need.account for need in broken_needed(member)] == [first, second]


def test_another_members_accounts_and_completions_never_count(member, bob, make_claim, github):
    claim = make_claim("octo-badge", apps=[github])
    account(bob, github, name="bobs", healthy=False)
    assert broken_needed(member) == []
    account(member, github, name="octo", healthy=False)
    Completion.objects.create(claim=claim, member=bob, state=State.COMPLETED)
    (need,) = broken_needed(member)
    assert need.account.member == member and need.claims == [claim]
    assert broken_needed(bob) == []  # bob has earned it: his broken account is no concern


def test_names_are_escaped_in_the_html_sentence(member, make_claim, github):
    make_claim("octo-badge", apps=[github], name='<img src=x onerror="alert(1)">')
    account(member, github, name="<script>alert(1)</script>", healthy=False)
    (need,) = broken_needed(member)
    markup = str(need.sentence_html)
    assert "<script>" not in markup and "<img" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert '<a href="/c/octo-badge/">&lt;img src=x' in markup
    assert need.sentence.startswith("Your GitHub account (<script>alert(1)</script>)")


def _queries(member) -> int:
    with CaptureQueriesContext(connection) as queries:
        broken_needed(member)
    return len(queries.captured_queries)


def test_queries_do_not_grow_with_accounts_or_claims(member, make_claim, github, discord):
    make_claim("claim-0", apps=[github, discord])
    account(member, github, name="octo-0", healthy=False)
    one = _queries(member)
    for index in range(1, 8):
        make_claim(f"claim-{index}", apps=[github, discord])
        account(member, github, name=f"octo-{index}", healthy=False)
        account(member, discord, name=f"chatty-{index}", dead=True)
    Completion.objects.create(
        claim=make_claim("earned", apps=[github]), member=member, state=State.COMPLETED
    )
    assert len(broken_needed(member)) == 15
    assert _queries(member) == one == 4  # accounts, claims, their requirements, completions


# --- the warnings on the pages ------------------------------------------------------------


def test_warnings_on_home_and_accounts_name_the_account_and_claim_with_the_reconnect(
    client, alice, make_claim, github
):
    make_claim("octo-badge", apps=[github], name="Octo Badge")
    octo = account(alice, github, name="octo", healthy=False)
    client.force_login(alice)
    sentence = (
        'Your GitHub account (octo) stopped working. <a href="/c/octo-badge/">Octo Badge</a>'
        " needs it."
    )
    href = f'href="/connect/github/?account={octo.pk}&next=/c/octo-badge/"'
    for path in ("/", "/accounts/"):
        body = text(client.get(path))
        assert body.count(sentence) == 1, path
        start = body.index(sentence)
        item = body[start : body.index("</a>", body.index(href, start)) + 4]
        # The same Reconnect as on /accounts/: the Connect dialog opens on it.
        assert href in item and 'data-connect data-app="github"' in item
        assert f'data-account="{octo.pk}"' in item and "Reconnect GitHub" in item


def _reconnect_names(body: str, pk: int) -> list[str]:
    """The text (the accessible name: visually hidden words included) of each Reconnect
    link in the home page's item for account `pk`."""
    start = body.index(f'id="todo-reconnect-{pk}"')
    item = body[start : body.index("</li>", start)]
    links = re.findall(r"<a class=\"button primary\"[^>]*>(.*?)</a>", item, re.S)
    return [" ".join(re.sub(r"<[^>]+>", "", link).split()) for link in links]


def test_home_reconnect_links_name_their_account(client, alice, make_claim, github, discord):
    """Two broken GitHub accounts (a claim waits on them), and one broken Discord account
    no claim needs: each Reconnect link says which account, in visually hidden words."""
    make_claim("octo-badge", apps=[github], name="Octo Badge")
    octo = account(alice, github, name="octo", healthy=False)
    cat = account(alice, github, name="cat", healthy=False, dead=True)
    chat = account(alice, discord, name="chatty", healthy=False)
    nameless = account(alice, discord, name="", healthy=False)
    client.force_login(alice)
    body = text(client.get("/"))
    assert _reconnect_names(body, octo.pk) == ["Reconnect GitHub account octo"]
    assert _reconnect_names(body, cat.pk) == ["Reconnect GitHub account cat"]
    assert _reconnect_names(body, chat.pk) == ["Reconnect Discord account chatty"]
    assert _reconnect_names(body, nameless.pk) == ["Reconnect Discord"]
    assert body.count('<span class="visually-hidden"> account octo</span>') == 1
    # /accounts/'s warning says the same (its list's own Reconnect says "GitHub account").
    accounts = text(client.get("/accounts/"))
    start = accounts.index(f'id="need-{octo.pk}"')
    warning = accounts[start : accounts.index("</div>", start)]
    assert 'Reconnect GitHub<span class="visually-hidden"> account octo</span></a>' in warning


def test_no_warning_when_all_is_well(client, alice, make_claim, github):
    make_claim("octo-badge", apps=[github], name="Octo Badge")
    account(alice, github, name="octo")
    client.force_login(alice)
    for path in ("/", "/accounts/"):
        body = text(client.get(path))
        assert "stopped working" not in body, path
        assert "fresh-warning" not in body and "home-warning" not in body


def test_hostile_names_are_escaped_on_the_pages(client, alice, make_claim, github):
    make_claim("octo-badge", apps=[github], name="<b>bold</b>")
    account(alice, github, name='"><script>alert(1)</script>', healthy=False)
    client.force_login(alice)
    for path in ("/", "/accounts/"):
        response = client.get(path)
        assert response.status_code == 200
        body = response.content.decode()
        assert "<script>alert(1)" not in body and "<b>bold</b>" not in body
        assert "&lt;b&gt;bold&lt;/b&gt;" in body


def test_the_accounts_fragment_carries_the_warnings_out_of_band(client, alice, make_claim, github):
    make_claim("octo-badge", apps=[github], name="Octo Badge")
    octo = account(alice, github, name="octo", healthy=False)
    client.force_login(alice)
    fragment = text(client.get("/accounts/", headers={"HX-Request": "true"}))
    assert '<div id="fresh-health" class="fresh-health" hx-swap-oob="true"' in fragment
    assert f'id="need-{octo.pk}"' in fragment and "Octo Badge</a> needs it." in fragment
    # After a disconnect the warning goes with the account.
    octo.delete()
    fragment = text(client.get("/accounts/", headers={"HX-Request": "true"}))
    assert 'id="fresh-health"' in fragment and "stopped working" not in fragment


def _page_queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries.captured_queries)


def test_page_queries_do_not_grow_with_warnings(
    client, alice, make_claim, github, discord, settings
):
    settings.PAGE_CACHE = False  # the render's own queries (the cache's: tests/perf)
    make_claim("claim-0", apps=[github, discord])
    account(alice, github, name="octo-0", healthy=False)
    client.force_login(alice)
    client.get("/")  # the brand is read once into the cache
    one = {path: _page_queries(client, path) for path in ("/", "/accounts/")}
    for index in range(1, 8):
        make_claim(f"claim-{index}", apps=[github, discord])
        account(alice, github, name=f"octo-{index}", healthy=False)
        account(alice, discord, name=f"chatty-{index}", dead=True)
    body = text(client.get("/accounts/"))
    assert body.count("stopped working.") == 30  # the text, and data-announce's sentence
    assert body.count('data-announce-kind="error"') == 15
    assert {path: _page_queries(client, path) for path in ("/", "/accounts/")} == one

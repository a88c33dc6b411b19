"""The member pages' cache (core/pagecache.py): a page served from it is never stale.

A change written by any path (a model's save, a queryset update such as the engine's
ledger and syncs use, a delete) is on the next render of every page that shows it; two
members, and two sessions, never share an entry; a language switch renders again; the
CSRF token and the CSP nonce of a cached page are this request's; a flash message is
shown; the clock (a claim opening) renders again.
"""

import datetime
import re

import pytest
import time_machine
from django.contrib.messages import SUCCESS
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.cookie import CookieStorage
from django.test import Client, RequestFactory
from django.utils import timezone

from claims.models import Claim, Completion
from connections.models import ConnectedAccount
from core import pagecache
from tests.perf.pages_support import claim, populate

pytestmark = pytest.mark.django_db


@pytest.fixture
def kept(monkeypatch):
    """The keys of the entries written so far (a hit writes none)."""
    written = []
    keep = pagecache._keep
    monkeypatch.setattr(
        pagecache, "_keep", lambda key, *args: (written.append(key), keep(key, *args))
    )
    return written


@pytest.fixture
def alice_pages(member, apps, client, settings):
    settings.PAGE_CACHE = True
    claims = populate(member, apps, accounts=2, claims=2)  # claim-0 ineligible, -1 completed
    client.force_login(member)
    return claims


def _twice(client, path, kept):
    """GET path twice: the second comes from the cache (nothing more is kept)."""
    client.get(path)
    before = len(kept)
    body = client.get(path).content.decode()
    assert len(kept) == before, f"{path} was rendered again with nothing changed"
    return body


@pytest.mark.parametrize("path", ["/accounts/", "/claims/", "/c/claim-0/", "/"])
def test_no_browser_or_proxy_keeps_a_copy_of_a_member_page(client, alice_pages, kept, path):
    # The server's cache is per member and session; a copy on the way would not be.
    for _ in range(2):  # rendered, then served from the cache
        control = client.get(path)["Cache-Control"]
        assert {"private", "no-store", "no-cache"} <= set(control.replace(" ", "").split(",")), (
            path,
            control,
        )


def test_a_completion_changing_state_is_on_the_next_render(client, alice_pages, kept, member):
    for path in ("/claims/", "/c/claim-0/", "/"):
        _twice(client, path, kept)
    completion = Completion.objects.get(member=member, claim__slug="claim-0")
    assert completion.state == "ineligible"
    # As the engine's ledger writes it: a queryset update, no model signal.
    Completion.objects.filter(pk=completion.pk).update(
        state="completed", completed_at=timezone.now()
    )
    claims_page = client.get("/claims/").content.decode()
    assert 'id="claim-claim-0" data-state="completed"' in claims_page
    assert "Claim completed" in client.get("/c/claim-0/").content.decode()
    home = client.get("/").content.decode()
    assert re.search(r'id="earned-count">2<', home)


def test_an_account_health_change_is_on_the_next_render(client, alice_pages, kept, member):
    for path in ("/accounts/", "/", "/claims/"):
        _twice(client, path, kept)
    account = ConnectedAccount.objects.filter(member=member).first()
    ConnectedAccount.objects.filter(pk=account.pk).update(healthy=False)
    accounts_page = client.get("/accounts/").content.decode()
    assert 'class="account needs-reconnect"' in accounts_page
    assert f'id="todo-reconnect-{account.pk}"' in client.get("/").content.decode()
    # And back, through the model's save: healthy again, the warning gone.
    account.healthy = True
    account.save()
    assert "needs-reconnect" not in client.get("/accounts/").content.decode()


def test_a_disconnected_account_is_gone_on_the_next_render(client, alice_pages, kept, member):
    body = _twice(client, "/accounts/", kept)
    account = ConnectedAccount.objects.filter(member=member).first()
    assert f'id="account-{account.pk}"' in body
    account.delete()
    assert f'id="account-{account.pk}"' not in client.get("/accounts/").content.decode()


def test_a_claim_edited_by_staff_is_on_the_next_render(client, alice_pages, kept):
    for path in ("/claims/", "/c/claim-0/"):
        _twice(client, path, kept)
    edited = Claim.objects.get(slug="claim-0")
    edited.name = "Renamed by the organiser"
    edited.save()  # as the admin's change form saves it
    assert "Renamed by the organiser" in client.get("/claims/").content.decode()
    assert "Renamed by the organiser" in client.get("/c/claim-0/").content.decode()
    Claim.objects.filter(slug="claim-0").update(description="Now with a description")
    assert "Now with a description" in client.get("/c/claim-0/").content.decode()


def test_two_members_never_see_each_others_page(django_user_model, settings, kept):
    settings.PAGE_CACHE = True
    # Nothing of their own in the database: the digest alone could not tell them apart.
    bob = django_user_model.objects.create_user(username="bob", password="pw")
    eve = django_user_model.objects.create_user(username="eve", password="pw")
    pages = {}
    for user in (bob, eve):
        browser = Client()
        browser.force_login(user)
        for path in ("/", "/accounts/", "/claims/"):
            pages[user.username, path] = _twice(browser, path, kept)
    for path in ("/", "/accounts/", "/claims/"):
        assert "(bob)" in pages["bob", path] and "(eve)" not in pages["bob", path]
        assert "(eve)" in pages["eve", path] and "(bob)" not in pages["eve", path]


def test_each_session_has_its_own_entry(member, settings, kept):
    settings.PAGE_CACHE = True
    first, second = Client(), Client()
    first.force_login(member)
    second.force_login(member)
    first.get("/claims/")
    second.get("/claims/")
    assert len(set(kept)) == 2


def test_a_language_switch_renders_the_other_language(client, alice_pages, kept, settings):
    settings.LANGUAGES = [("en", "English"), ("fr", "Français")]
    assert '<html lang="en">' in _twice(client, "/claims/", kept)
    french = client.get("/claims/", headers={"accept-language": "fr"}).content.decode()
    assert '<html lang="fr">' in french
    assert '<html lang="en">' in client.get("/claims/").content.decode()


def test_a_cached_page_carries_this_requests_csrf_token_and_nonce(member, apps, settings):
    settings.PAGE_CACHE = True
    populate(member, apps, accounts=1, claims=1)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member)
    seen = set()
    for _ in range(2):
        response = browser.get("/claims/")
        body = response.content.decode()
        assert pagecache.MARK_PREFIX not in body
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
        nonce = re.search(r'nonce="([^"]+)"', body).group(1)
        policy = response.headers.get("Content-Security-Policy", "")
        assert f"'nonce-{nonce}'" in policy
        seen.add((token, nonce))
    assert len(seen) == 2  # a fresh mask and a fresh nonce each time
    # The token of the cached page is good for this session's POST.
    posted = browser.post(
        "/claims/address/", {"csrfmiddlewaretoken": token, "address": member.address or ""}
    )
    assert posted.status_code != 403


def test_a_flash_message_is_shown_over_a_cached_page(client, alice_pages, kept, member):
    _twice(client, "/claims/", kept)
    # A message queued for the next page (as a POST's redirect leaves one).
    storage = CookieStorage(RequestFactory().get("/"))
    client.cookies[storage.cookie_name] = storage._encode([Message(SUCCESS, "Saved, thanks.")])
    assert "Saved, thanks." in client.get("/claims/").content.decode()
    assert "Saved, thanks." not in client.get("/claims/").content.decode()


def test_a_claim_opening_renders_again_when_it_opens(client, member, apps, settings, kept):
    settings.PAGE_CACHE = True
    opens = timezone.now() + datetime.timedelta(hours=2)
    claim("later", apps["github"], starts_at=opens)
    client.force_login(member)
    assert "Opens on" in _twice(client, "/c/later/", kept)
    with time_machine.travel(opens + datetime.timedelta(seconds=1)):
        assert "Opens on" not in client.get("/c/later/").content.decode()


def test_window_edges_skip_what_no_datetime_holds():
    """BitBadges' windows in ms; its "never" (the largest uint64) is no moment, and the
    other edges of the claim still count."""
    edges = pagecache._window_edges([[1_700_000_000_000, 2**64 - 1], [0, 999]])
    assert datetime.datetime.fromtimestamp(1_700_000_000, tz=datetime.UTC) in edges
    assert datetime.datetime.fromtimestamp(1, tz=datetime.UTC) in edges  # past 999 ms
    assert pagecache._window_edges("not json") == []


def _without_tokens(html: str) -> str:
    html = re.sub(r'(csrfmiddlewaretoken" value="|"x-csrftoken": ")[^"]+', r"\1T", html)
    return re.sub(r' nonce="[^"]*"', "", html)


def test_a_served_page_is_the_page_a_render_gives(client, alice_pages, kept, settings):
    for path in ("/", "/accounts/", "/claims/", "/c/claim-0/"):
        settings.PAGE_CACHE = False
        rendered = client.get(path).content.decode()
        settings.PAGE_CACHE = True
        served = _twice(client, path, kept)
        assert _without_tokens(served) == _without_tokens(rendered), path


def test_the_settings_digest_is_the_same_in_every_process():
    """Web workers share entries only if their versions agree: sets in order, and the
    databases (whose test name holds the process id) left out."""
    assert pagecache._canonical({"b": {3, 1, 2}, "a": (1, "x")}) == pagecache._canonical(
        {"a": [1, "x"], "b": {2, 3, 1}}
    )
    assert "DATABASES" in pagecache._PER_PROCESS_SETTINGS
    assert pagecache._canonical(object()) == "object"  # never an address


def test_text_on_the_page_never_becomes_a_token(client, alice_pages, kept, member):
    # A claim's name that reads like the markers (an old fixed one, and the prefix of
    # today's) is shown as written: only the markers of that very render are filled in.
    lure = "pgcache0csrf0mark0b71f9e2c4a8 pgcache-mark-csrf-0000"
    Claim.objects.filter(slug="claim-0").update(name=lure)
    for _ in range(2):  # rendered, then from the cache
        body = client.get("/claims/").content.decode()
        assert lure in body  # not filled in with this session's token


def test_a_page_with_a_query_string_is_never_kept(client, alice_pages, kept):
    for n in range(3):
        assert client.get(f"/claims/?n={n}").status_code == 200
    assert kept == []
    _twice(client, "/claims/", kept)  # the plain page still is
    assert len(kept) == 1

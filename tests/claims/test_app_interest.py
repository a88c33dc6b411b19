"""An account connected on an app no enabled claim wants costs no claims query
(claims/receivers.py: wanted_app_slugs), and a change to the claims is seen at once."""

import pytest
from django.core.cache import cache, caches
from django.db import connection, transaction
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from claims import receivers
from claims.models import Claim, Completion, Requirement
from connections.models import App, ConnectedAccount
from connections.signals import account_connected
from tests.claims.claims_support import require

# The answers are kept only on a cache every process shares (core/shared_version.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared_cache")]


def committing():
    """The block's changes as committed: their on-commit callbacks run at its end."""
    return TestCase.captureOnCommitCallbacks(execute=True)


@pytest.fixture
def github():
    with committing():
        return App.objects.create(slug="github", name="GitHub", enabled=True)


@pytest.fixture
def discord():
    with committing():
        return App.objects.create(slug="discord", name="Discord", enabled=True)


def make_claim(slug, apps, *, enabled=True, save=True):
    claim = Claim(slug=slug, name=slug, enabled=enabled, delivery="dynamic_store", store_id="s")
    claim.set_store_secret("x")
    if save:
        with committing():
            claim.save()
            require(claim, *apps)
    return claim


@pytest.fixture
def alices_github(member, github):
    account = ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_a")
    account.app  # noqa: B018 (loaded now, as the re-fetch task has it)
    return account


def send_connected(account, member):
    account_connected.send(
        sender=ConnectedAccount, account=account, member=member, created=True, session=None
    )


def checked(member) -> set[str]:
    return set(Completion.objects.filter(member=member).values_list("claim__slug", flat=True))


def claims_queries(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if "claims_" in q["sql"]]


def test_an_app_no_claim_wants_costs_no_claims_query(member, alices_github, discord):
    make_claim("discord-only", [discord])
    send_connected(alices_github, member)  # the first one reads which apps are wanted
    with CaptureQueriesContext(connection) as ctx:
        send_connected(alices_github, member)
    assert claims_queries(ctx) == []
    assert len(ctx.captured_queries) == 0
    assert checked(member) == set()


def test_a_wanted_app_still_runs_the_checks(member, alices_github, github):
    make_claim("github-a", [github])
    send_connected(alices_github, member)
    assert checked(member) == {"github-a"}


def test_a_claim_made_for_the_app_is_checked_on_the_very_next_connect(
    member, alices_github, github
):
    send_connected(alices_github, member)
    assert checked(member) == set()
    make_claim("github-new", [github])
    send_connected(alices_github, member)
    assert checked(member) == {"github-new"}


def test_a_claim_enabled_is_seen_at_once(member, alices_github, github):
    off = make_claim("github-off", [github], enabled=False)
    send_connected(alices_github, member)
    assert checked(member) == set()
    off.enabled = True
    off.save(update_fields=["enabled"])
    send_connected(alices_github, member)
    assert checked(member) == {"github-off"}


def test_a_requirement_added_is_seen_at_once(member, alices_github, github, discord):
    bare = make_claim("bare", [discord])
    send_connected(alices_github, member)
    assert checked(member) == set()
    require(bare, github)
    send_connected(alices_github, member)
    assert checked(member) == {"bare"}


def test_an_app_renamed_to_a_wanted_slug_is_seen_at_once(member, alices_github, discord):
    make_claim("discord-only", [discord])
    discord.slug = "discord-old"
    discord.save()
    github = alices_github.app
    send_connected(alices_github, member)
    assert checked(member) == set()
    # The claim's app now carries the account's slug (the set holds slugs).
    discord.slug, github.slug = "github", "github-old"
    github.save()
    discord.save()
    alices_github.app = discord
    send_connected(alices_github, member)
    assert checked(member) == {"discord-only"}


def test_another_process_change_is_seen_through_the_shared_version(member, alices_github, github):
    send_connected(alices_github, member)
    # Another process adds a claim: its signals ran there, not here (no signal here).
    claim = make_claim("elsewhere", [], save=False)
    Claim.objects.bulk_create([claim])
    claim = Claim.objects.get(slug="elsewhere")
    Requirement.objects.bulk_create([Requirement(claim=claim, app=github, position=0)])
    send_connected(alices_github, member)
    assert checked(member) == set()  # this process's answer, under the version it read
    # ... and its commit replaced the shared version.
    cache.set(receivers.INTEREST_VERSION_KEY, "another-process")
    send_connected(alices_github, member)
    assert checked(member) == {"elsewhere"}


def test_the_version_evicted_means_reading_again(member, alices_github, github):
    send_connected(alices_github, member)
    claim = make_claim("quiet", [], save=False)
    Claim.objects.bulk_create([claim])
    claim = Claim.objects.get(slug="quiet")
    Requirement.objects.bulk_create([Requirement(claim=claim, app=github, position=0)])
    cache.clear()
    send_connected(alices_github, member)
    assert checked(member) == {"quiet"}


def test_a_life_reading_save_keeps_the_version(github):
    claim = make_claim("github-a", [github])
    before = receivers.wanted_app_slugs()
    version = cache.get(receivers.INTEREST_VERSION_KEY)
    claim.save(update_fields=["life_read_error"])
    assert cache.get(receivers.INTEREST_VERSION_KEY) == version
    assert receivers.wanted_app_slugs() == before == frozenset({"github"})


def test_no_cache_answer_means_the_queries_decide(member, alices_github, github, monkeypatch):
    make_claim("github-a", [github])
    monkeypatch.setattr(caches["default"], "get", lambda *a, **k: None)
    monkeypatch.setattr(caches["default"], "add", lambda *a, **k: False)
    assert receivers.wanted_app_slugs() is None
    send_connected(alices_github, member)
    assert checked(member) == {"github-a"}


def test_the_version_is_replaced_again_when_the_change_commits(
    github, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        make_claim("github-a", [github])
        at_once = cache.get(receivers.INTEREST_VERSION_KEY)
        assert at_once is not None
    assert cache.get(receivers.INTEREST_VERSION_KEY) not in (None, at_once)


def test_a_change_rolled_back_is_not_kept(member, alices_github, github):
    claim = make_claim("github-a", [github])
    try:
        with transaction.atomic():
            claim.enabled = False
            claim.save()
            send_connected(alices_github, member)  # no enabled claim wants GitHub here
            assert checked(member) == set()
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    send_connected(alices_github, member)  # enabled again, with no new version
    assert checked(member) == {"github-a"}

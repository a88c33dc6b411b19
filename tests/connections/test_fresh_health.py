"""Fresh health (connections/freshness.py): opening the home page, /claims/ or /accounts/
re-reads the member's stale accounts from Pipedream in a background task, once per member
per FRESH_HEALTH_SECONDS, and the page updates itself when the task is done."""

import datetime
import html
import logging

import pytest
import time_machine
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from connections import signals, tasks
from connections.models import ConnectedAccount, ReplacedAccount
from tests.claims.claims_support import ALICE_ADDRESS, run_worker
from tests.connections.services_support import ACCOUNTS_URL

TASK = "connections.tasks.accounts_refresh_task"
PAGES = ("/", "/claims/", "/accounts/")
HX = {"HX-Request": "true"}
LONG_AGO = datetime.timedelta(hours=1)


def queued() -> list:
    """The member ids of the refresh tasks queued so far, oldest first."""
    rows = DBTaskResult.objects.filter(task_path=TASK).order_by("enqueued_at")
    return [row.args_kwargs["args"] for row in rows]


def account(member, app, *, synced_ago=LONG_AGO, **fields) -> ConnectedAccount:
    fields.setdefault("pipedream_id", f"apn_fresh_{member.pk}_{ConnectedAccount.objects.count()}")
    return ConnectedAccount.objects.create(
        member=member,
        app=app,
        last_synced_at=None if synced_ago is None else timezone.now() - synced_ago,
        **fields,
    )


def body(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def cache_calls(action):
    """What `action()` returns, and the default cache's get/get_many/add/set calls it made,
    in order (the local-memory cache's get_many calls get itself: counted once)."""
    calls, inside = [], []
    spied = {name: getattr(cache, name) for name in ("get", "get_many", "add", "set")}

    def spy(name):
        def call(*args, **kwargs):
            if not inside:
                calls.append(name)
            inside.append(name)
            try:
                return spied[name](*args, **kwargs)
            finally:
                inside.pop()

        return call

    for name in spied:
        setattr(cache, name, spy(name))
    try:
        return action(), calls
    finally:
        for name, method in spied.items():
            setattr(cache, name, method)


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="pw-bob-123456")


# --- queueing --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_a_page_open_with_stale_accounts_queues_one_refresh_then_none(client, member, github, path):
    account(member, github, name="octo", synced_ago=datetime.timedelta(seconds=5))
    account(member, github, name="octo-old")  # the oldest decides
    client.force_login(member)
    assert 'data-polling="fresh"' in body(client.get(path))  # the page will ask again
    assert queued() == [[member.pk]]
    # Within the window: no page queues another, whichever is opened.
    for again in PAGES:
        assert client.get(again).status_code == 200
    assert queued() == [[member.pk]]


@pytest.mark.django_db
def test_never_synced_accounts_are_stale(client, member, github):
    account(member, github, synced_ago=None)
    client.force_login(member)
    client.get("/accounts/")
    assert queued() == [[member.pk]]


@pytest.mark.django_db
def test_fresh_accounts_and_no_accounts_queue_nothing(client, member, github, bob):
    account(member, github, synced_ago=datetime.timedelta(seconds=30))
    for who in (member, bob):  # bob has no account at all
        client.force_login(who)
        for path in PAGES:
            assert 'data-polling="fresh"' not in body(client.get(path))
    assert queued() == []


@pytest.mark.django_db
def test_another_members_page_never_syncs_mine(client, member, github, bob):
    account(member, github, name="alices")
    client.force_login(bob)
    for path in PAGES:
        client.get(path)
    assert queued() == []  # bob has no accounts: nothing, and never alice's
    account(bob, github, name="bobs")
    client.get("/claims/")
    assert queued() == [[bob.pk]]
    # Bob's refresh does not stand for alice's: her open queues her own.
    client.force_login(member)
    client.get("/")
    assert queued() == [[bob.pk], [member.pk]]


@pytest.mark.django_db
def test_once_the_window_has_passed_an_open_queues_again(client, member, github, settings):
    settings.FRESH_HEALTH_SECONDS = 300
    account(member, github)
    client.force_login(member)
    # The clock stands still, then jumps: the cache's expiry reads the same clock.
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client.get("/accounts/")
        clock.shift(datetime.timedelta(seconds=299))
        client.get("/accounts/")
        assert len(queued()) == 1
        clock.shift(datetime.timedelta(seconds=2))
        client.get("/accounts/")
    assert queued() == [[member.pk], [member.pk]]


@pytest.mark.django_db
@pytest.mark.parametrize("seconds", [0, -5])
def test_zero_or_less_turns_it_off(client, member, github, settings, seconds):
    settings.FRESH_HEALTH_SECONDS = seconds
    account(member, github, synced_ago=datetime.timedelta(days=30))
    client.force_login(member)
    for path in PAGES:
        assert 'data-polling="fresh"' not in body(client.get(path))
    assert queued() == []


@pytest.mark.django_db
def test_visitors_queue_nothing(client, member, github):
    account(member, github)
    for path in PAGES:
        assert client.get(path).status_code == 302  # to the login page
    assert client.get("/accounts/?fresh=1", headers=HX).status_code == 302
    assert client.get("/?fresh=1", headers=HX).status_code == 302
    assert queued() == []


# --- the page's poll --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_poll_ends_when_the_refresh_is_gone_or_too_old(client, member, github):
    account(member, github, name="octo")
    client.force_login(member)
    client.get("/accounts/")
    DBTaskResult.objects.filter(task_path=TASK).delete()  # e.g. pruned by an administrator
    response = client.get("/accounts/?fresh=1", headers=HX)
    assert response.status_code == 286  # htmx stops polling
    text = response.content.decode()
    assert (
        'id="accounts"' in text
        and 'id="fresh-health"' in text
        and "hx-get" not in text.split('id="fresh-health"')[1].split(">")[0]
    )
    assert len(queued()) == 0  # the window holds: nothing queued again


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/", "/"])
@pytest.mark.parametrize(
    "value", ["1", "", "<script>alert(1)</script>", "%00", "9" * 5000, "1&fresh=2"]
)
def test_the_poll_waits_while_the_refresh_is_queued(client, member, github, path, value):
    account(member, github, name="octo")
    client.force_login(member)
    page = body(client.get(path))
    assert f'hx-get="{path}?fresh=1"' in page and 'id="fresh-checking"' in page
    response = client.get(path, {"fresh": value}, headers=HX)
    assert response.status_code == 204 and response.content == b""
    # Without htmx (or boosted) the parameter changes nothing: the whole page.
    assert "<html" in body(client.get(path, {"fresh": value}))
    boosted = client.get(path, {"fresh": value}, headers={**HX, "HX-Boosted": "true"})
    assert "<html" in body(boosted)
    assert len(queued()) == 1


@pytest.mark.django_db
def test_the_home_poll_ends_with_the_section_alone_and_keeps_flash_messages(client, member, github):
    account(member, github, name="octo")
    client.force_login(member)
    client.get("/")
    # A message set meanwhile (another tab): the poll must leave it for the next load.
    assert client.post("/claims/address/", {"address": ALICE_ADDRESS}).status_code == 302
    DBTaskResult.objects.filter(task_path=TASK).delete()  # gone: nothing to wait for
    ConnectedAccount.objects.update(last_synced_at=timezone.now() - LONG_AGO)
    cache.clear()  # the window has passed too: the poll still queues nothing
    response = client.get("/?fresh=1", headers=HX)
    assert response.status_code == 286  # htmx stops polling
    text = html.unescape(response.content.decode())
    assert text.lstrip().startswith('<section class="card home-needs" id="needs-you"')
    assert "hx-get" not in text.split(">")[0] and 'id="fresh-checking"' not in text
    assert "<html" not in text and 'id="messages"' not in text and 'id="earned"' not in text
    assert len(queued()) == 0
    page = body(client.get("/"))
    assert 'id="messages"' in page and "address" in page.split('id="messages"')[1][:400]


class QueueDown(DatabaseBackend):
    """The task queue refusing work (its database table unreachable, say)."""

    def enqueue(self, task, args, kwargs):
        raise DatabaseError("the queue is down")


@pytest.mark.django_db
def test_a_queue_that_refuses_the_task_leaves_the_page_whole(
    client, member, github, settings, caplog
):
    settings.TASKS = {"default": {"BACKEND": f"{__name__}.QueueDown"}}
    account(member, github, name="octo")
    client.force_login(member)
    with caplog.at_level(logging.ERROR, logger="connections.freshness"):
        for path in PAGES:
            page = body(client.get(path))
            assert 'data-polling="fresh"' not in page and "octo" in body(client.get("/accounts/"))
    # Logged once: the other opens in the window did not try again.
    assert [r.getMessage() for r in caplog.records].count(
        f"Fresh health: refresh of {member.pk} not queued"
    ) == 1
    assert client.get("/accounts/?fresh=1", headers=HX).status_code == 286


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["", "queued", "queued nonsense 1", "queued - x", "x y z w"])
def test_a_garbled_cache_entry_means_nothing_to_wait_for(client, member, github, value):
    from django.core.cache import cache

    account(member, github, name="octo")
    cache.set(f"fresh-health:{member.pk}", value, 60)
    client.force_login(member)
    for path in PAGES:
        assert 'data-polling="fresh"' not in body(client.get(path))
    assert client.get("/accounts/?fresh=1", headers=HX).status_code == 286
    assert queued() == []


@pytest.mark.django_db
def test_the_task_for_a_member_gone_since_does_nothing(django_user_model):
    gone = django_user_model.objects.create_user(username="gone", password="pw-gone-123456")
    pk = gone.pk
    gone.delete()
    assert tasks.accounts_refresh_task.call(pk) == "no such member"


# --- the task, through the worker -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_sandbox_breaking_an_account_shows_on_the_next_render(
    client, alice, apps, connect, make_claim
):
    """The member's account is broken at Pipedream (the sandbox); the page still says
    Healthy, queues the refresh, and once the worker has run it says Unhealthy, with the
    warning naming the claim that needs it, on /accounts/ and the home page."""
    from sandbox.pipedream.models import Account as SandboxAccount

    make_claim("octo-badge", apps=[apps["github"]], name="Octo Badge")
    octo = connect(alice, "github", "octo")
    ConnectedAccount.objects.filter(pk=octo.pk).update(last_synced_at=timezone.now() - LONG_AGO)
    SandboxAccount.objects.filter(name="octo").update(healthy=False, error="token_expired")
    client.force_login(alice)
    before = body(client.get("/accounts/"))
    assert '<span class="badge ok">Healthy</span>' in before and "stopped working" not in before
    assert queued() == [[alice.pk]]
    assert client.get("/accounts/?fresh=1", headers=HX).status_code == 204
    assert client.get("/?fresh=1", headers=HX).status_code == 204

    run_worker()

    result = DBTaskResult.objects.get(task_path=TASK)
    assert result.status == "SUCCESSFUL" and result.return_value.startswith("synced: 1 health")
    poll = client.get("/accounts/?fresh=1", headers=HX)
    assert poll.status_code == 286
    swapped = html.unescape(poll.content.decode())
    assert '<span class="badge warn">Unhealthy</span>' in swapped
    assert "Your GitHub account (octo) stopped working." in swapped  # the warnings, out of band
    sentence = "Your GitHub account (octo) stopped working. Octo Badge needs it."
    # Said once in the live region when it appears (static/js/focus.js): as an alert.
    assert f'data-announce="{sentence}" data-announce-kind="error"' in swapped
    home_poll = client.get("/?fresh=1", headers=HX)
    assert home_poll.status_code == 286
    section = html.unescape(home_poll.content.decode())
    assert f'id="todo-reconnect-{octo.pk}" data-announce="{sentence}"' in section
    assert 'data-announce-kind="error"' in section and 'data-polling="fresh"' not in section
    for path in ("/", "/accounts/"):
        page = body(client.get(path))
        assert "Your GitHub account (octo) stopped working." in page, path
        assert f"/connect/github/?account={octo.pk}&next=/c/octo-badge/" in page
        assert 'data-polling="fresh"' not in page
    assert 'data-polling="fresh"' not in body(client.get("/claims/", headers=HX))
    assert len(queued()) == 1  # fresh now: nothing queued again


def _task_table_queries(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if "django_tasks_database" in q["sql"]]


@pytest.mark.django_db(transaction=True)
def test_on_a_shared_cache_the_poll_takes_the_workers_word_not_the_task_table(
    client, pd, member, github, shared_cache
):
    pd.get(ACCOUNTS_URL, status=500, json={"error": "boom"})  # it ends, failed: still an end
    account(member, github, name="octo")
    client.force_login(member)
    assert 'data-polling="fresh"' in body(client.get("/accounts/"))
    assert queued() == [[member.pk]]
    # An earlier refresh's end is not this one's.
    shared_cache.set(tasks.REFRESHED_KEY.format(member_id=member.pk), "an-older-ticket")
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/accounts/?fresh=1", headers=HX).status_code == 204
        assert 'data-polling="fresh"' in body(client.get("/accounts/"))
    assert _task_table_queries(ctx) == []

    run_worker()

    assert DBTaskResult.objects.get(task_path=TASK).return_value == "failed"
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/accounts/?fresh=1", headers=HX).status_code == 286
        assert 'data-polling="fresh"' not in body(client.get("/accounts/"))
    assert _task_table_queries(ctx) == []
    assert len(queued()) == 1


@pytest.mark.django_db
def test_on_the_local_memory_cache_the_task_table_says(client, member, github):
    # The worker's word is not seen by the web processes there: the task's row decides.
    account(member, github, name="octo")
    client.force_login(member)
    client.get("/accounts/")
    cache.set(tasks.REFRESHED_KEY.format(member_id=member.pk), "whatever")
    assert client.get("/accounts/?fresh=1", headers=HX).status_code == 204
    DBTaskResult.objects.filter(task_path=TASK).update(status="SUCCESSFUL")
    assert client.get("/accounts/?fresh=1", headers=HX).status_code == 286


@pytest.mark.django_db(transaction=True)
def test_pipedream_failing_is_logged_once_and_never_retried(client, pd, member, github, caplog):
    pd.get(ACCOUNTS_URL, status=500, json={"error": "boom"})
    account(member, github, name="octo")
    client.force_login(member)
    client.get("/")
    with caplog.at_level(logging.WARNING, logger="connections.tasks"):
        run_worker()
    result = DBTaskResult.objects.get(task_path=TASK)
    assert result.status == "SUCCESSFUL" and result.return_value == "failed"
    assert any("Fresh health: member" in r.getMessage() for r in caplog.records)
    # The page stops asking, and nothing is queued again within the window.
    assert client.get("/accounts/?fresh=1", headers=HX).status_code == 286
    for path in PAGES:
        assert 'data-polling="fresh"' not in body(client.get(path))
    assert len(queued()) == 1
    assert ConnectedAccount.objects.get().health == "healthy"  # nothing half-written


# --- the sync's signals ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_failing_receiver_never_stops_the_others_or_the_sync(
    client, alice, apps, connect, caplog
):
    """connections/services/accounts.py sends its signals with send_robust: a receiver of
    account_health_changed that raises is logged; the receivers after it, the sync's later
    signals (a removed account's account_disconnected) and the task itself still run."""
    from sandbox.pipedream.models import Account as SandboxAccount

    octo = connect(alice, "github", "octo")
    gone = account(alice, apps["github"], name="gone")  # Pipedream has never heard of it
    ConnectedAccount.objects.filter(pk=octo.pk).update(last_synced_at=timezone.now() - LONG_AGO)
    SandboxAccount.objects.filter(name="octo").update(healthy=False, error="token_expired")
    heard = []

    def breaks(sender, **kwargs):
        raise RuntimeError("this receiver is broken")

    def health(sender, account, current, **kwargs):
        heard.append(("health", account.pk, current))

    def disconnected(sender, pipedream_id, **kwargs):
        heard.append(("disconnected", pipedream_id))

    signals.account_health_changed.connect(breaks, weak=False)
    signals.account_health_changed.connect(health, weak=False)
    signals.account_disconnected.connect(disconnected, weak=False)
    try:
        client.force_login(alice)
        client.get("/accounts/")
        with caplog.at_level(logging.ERROR):
            run_worker()
    finally:
        signals.account_health_changed.disconnect(breaks)
        signals.account_health_changed.disconnect(health)
        signals.account_disconnected.disconnect(disconnected)
    result = DBTaskResult.objects.get(task_path=TASK)
    assert result.status == "SUCCESSFUL", result.traceback
    assert result.return_value == "synced: 1 health changed, 1 removed"
    assert heard == [("health", octo.pk, "unhealthy"), ("disconnected", gone.pipedream_id)]
    assert ConnectedAccount.objects.get().health == "unhealthy"
    logged = [
        r
        for r in caplog.records
        if r.name == "connections.services.accounts" and r.levelno >= logging.ERROR
    ]
    assert [r.getMessage() for r in logged] == [
        f"Account {octo.pk}: a receiver of account_health_changed failed"
    ]
    assert "this receiver is broken" in str(logged[0].exc_info[1])


@pytest.mark.django_db(transaction=True)
def test_an_account_the_refresh_skips_queues_no_refresh_every_window(
    client, alice, connect, settings
):
    """A sync skips an account it must not take (here: one a reconnect replaced, not yet
    deleted at Pipedream), so its last_synced_at stays old. The refresh remembers it: the
    next window's open queues nothing for it; once it has been read again, or the memory is
    gone, it counts again."""
    octo = connect(alice, "github", "octo")
    old = connect(alice, "github", "octo-old")
    ReplacedAccount.objects.create(member=alice, pipedream_id=old.pipedream_id)
    ConnectedAccount.objects.update(last_synced_at=timezone.now() - LONG_AGO)
    client.force_login(alice)
    client.get("/")
    run_worker()
    result = DBTaskResult.objects.get(task_path=TASK)
    assert result.return_value == "synced: 0 health changed, 0 removed, 1 skipped"
    octo.refresh_from_db()
    old.refresh_from_db()
    assert old.last_synced_at < octo.last_synced_at - datetime.timedelta(minutes=30)
    cache.delete(f"fresh-health:{alice.pk}")  # the window has passed
    for path in PAGES:
        assert 'data-polling="fresh"' not in body(client.get(path)), path
    assert len(queued()) == 1  # the skipped account alone queues nothing
    # octo turns stale again: it is read again, and old is still skipped.
    ConnectedAccount.objects.filter(pk=octo.pk).update(last_synced_at=timezone.now() - LONG_AGO)
    client.get("/accounts/")
    assert len(queued()) == 2
    # The skip is forgotten (a day later): the old account counts again.
    run_worker()
    cache.delete(f"fresh-health:{alice.pk}")
    cache.delete(tasks.SKIPPED_KEY.format(member_id=alice.pk))
    client.get("/claims/")
    assert len(queued()) == 3


@pytest.mark.django_db
@pytest.mark.parametrize("garbage", ["x", ["1"], {"1": 5}, 7])
def test_a_garbled_skip_memory_counts_as_none(client, member, github, garbage):
    account(member, github, name="octo")  # the only account, stale
    cache.set(tasks.SKIPPED_KEY.format(member_id=member.pk), garbage)
    client.force_login(member)
    assert client.get("/").status_code == 200
    assert queued() == [[member.pk]]  # whatever the memory holds


@pytest.mark.django_db
def test_a_refresh_under_way_costs_one_cache_read_per_check(member, github):
    # What every page open of a member with stale accounts pays while the refresh it
    # queued runs: one read of the cache (the skip memory and the window's key together).
    from connections import freshness  # the function under test, not a page

    accounts = [account(member, github, name="octo")]
    assert freshness.refresh_if_stale(member, accounts) is True  # queued now
    under_way, calls = cache_calls(lambda: freshness.refresh_if_stale(member, accounts))
    assert under_way is True  # still under way
    assert calls == ["get_many"]
    assert queued() == [[member.pk]]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_a_kept_page_reads_the_cache_once_while_a_refresh_runs(
    client, member, github, settings, path
):
    # The page's entry, the brand and the refresh's state come in one round trip
    # (core/pagecache.py's prefetch, connections/freshness.cache_keys).
    settings.PAGE_CACHE = True
    account(member, github, name="octo")
    client.force_login(member)
    client.get(path)  # rendered and kept; the refresh is queued
    client.get(path)  # served from the cache
    response, calls = cache_calls(lambda: client.get(path))
    assert 'data-polling="fresh"' in body(response)  # the refresh is still under way
    assert calls == ["get_many"]
    assert queued() == [[member.pk]]

"""The admin home and the funnel (page and CSV) at two sizes of data: the same number of
queries at both, asserted exactly; their figures equal what the funnel's old per-stage
COUNTs gave; and what is kept under the data version (claims/funnel/version.py) is
known stale on the next load after a change, whichever way the change was written
(shown as of when it was computed, and counted again by the task worker), and current
once counted again."""

import datetime

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from claims import funnel
from claims.audit import ActorKind
from claims.funnel import version as data_version
from claims.models import Claim, Completion, CompletionEvent
from connections.models import ConnectedAccount
from tests.claims import funnel_support as seed
from tests.claims.claims_support import run_worker
from tests.operations.home_support import staff
from tests.perf.funnel_reference_support import reference, shown

HOME = "/admin/"
FUNNEL = "/admin/claims/claim/funnel/"
FUNNEL_CSV = "/admin/claims/claim/funnel/csv/"

# Inside a test's transaction nothing is cached (data_version.current() is None there):
# these are the queries of the figures computed, whatever the size.
HOME_QUERIES = 19  # session, user, brand, permissions, the sections (see the test)
FUNNEL_QUERIES = 6  # session, user, brand, permissions; the figures (one), the claims
CSV_QUERIES = 4  # session, user; the figures (one), the claims and visits


def _programme(claims: dict, scale: int) -> None:
    """`scale` x 100 members on every path of the funnel (emails, addresses, accounts,
    completions in each state with their ledger events), and claims' page visits."""
    seed.seed_members(claims, scale=scale)
    day = timezone.localdate() - datetime.timedelta(days=scale)  # one row per claim a day
    seed.seed_visits(claims, [day], 3 * scale)


@pytest.fixture
def superuser_client(client):
    client.force_login(staff("root", superuser=True))
    return client


def _get(client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, url
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)


@pytest.mark.django_db
def test_home_and_funnel_queries_are_the_same_at_two_sizes(
    superuser_client, django_assert_num_queries
):
    claims = seed.seed_claims()
    _programme(claims, 1)
    for url in (HOME, FUNNEL, FUNNEL_CSV):
        _get(superuser_client, url)  # the session, the permissions cache, the brand settle
    with django_assert_num_queries(HOME_QUERIES):
        _get(superuser_client, HOME)
    with django_assert_num_queries(FUNNEL_QUERIES):
        _get(superuser_client, FUNNEL)
    with django_assert_num_queries(CSV_QUERIES):
        _get(superuser_client, FUNNEL_CSV)

    # Five times the members, accounts, completions and events, and more claims.
    for index in range(4):
        claims[f"more-{index}"] = Claim.objects.create(
            slug=f"more-{index}", name=f"More {index}", delivery=Claim.Delivery.WORKFLOW
        )
    _programme(claims, 4)
    assert get_user_model().objects.filter(is_staff=False).count() >= 490
    with django_assert_num_queries(HOME_QUERIES):
        _get(superuser_client, HOME)
    with django_assert_num_queries(FUNNEL_QUERIES):
        _get(superuser_client, FUNNEL)
    with django_assert_num_queries(CSV_QUERIES):
        _get(superuser_client, FUNNEL_CSV)


@pytest.mark.django_db
def test_the_funnels_figures_are_the_old_counts(superuser_client):
    """Every figure the page shows (overall and per claim: each stage, its out-of-order
    members, its BitBadges sign-ups; completed outside) equals the old per-stage COUNTs,
    for the whole history and for a range."""
    claims = seed.seed_claims()
    taken = seed.seed_members(claims, scale=1)
    seed.seed_members(claims, scale=1, joined=timezone.now() - datetime.timedelta(days=40))
    User = get_user_model()
    # Signed up with BitBadges (a path of its own), and a tie: a grant at the very time
    # of the delivery it came before, decided by the events' order.
    User.objects.filter(first_name="completed: workflow").update(signup_method="bitbadges")
    tied = Completion.objects.filter(member__first_name="eligible, delivering").first()
    assert tied is not None
    at = timezone.now() - datetime.timedelta(days=3)
    CompletionEvent.objects.filter(completion=tied).update(at=at)
    CompletionEvent.objects.create(
        completion=tied,
        at=at,
        from_state="",
        to_state="waiting",
        reason="granted",
        actor_kind=ActorKind.STAFF,
    )
    assert sum(taken.values()) == 100

    data = superuser_client.get(FUNNEL).context["funnel"]
    assert shown(data) == reference()
    assert data.stages[0]["count"] > 100  # both cohorts
    start = timezone.now() - datetime.timedelta(days=10)
    assert shown(funnel.funnel_build(start=start)) == reference(start=start)
    end = timezone.now() - datetime.timedelta(days=10)
    assert shown(funnel.funnel_build(end=end)) == reference(end=end)


# --- Kept under the data version: a change is known on the next load ------------------


def _funnel_read(queries) -> bool:
    """Whether the funnel's figures were computed (not served from the cache)."""
    return any("WITH cohort AS" in query["sql"] for query in queries.captured_queries)


def _home_funnel(client) -> list[int]:
    home = client.get(HOME).context["home"]
    assert home.as_of is None  # current figures: nothing to say
    return [stage["count"] for stage in home.funnel]


def _home_after_change(client, before: list[int]):
    """The home's next load after a counted change: the figures it had (`before`),
    said to be as of when they were computed, and one recompute queued; once the task
    worker ran it, the next load's home (current figures, nothing said)."""
    stale = client.get(HOME)
    assert stale.context["home"].as_of is not None
    assert b"newer ones are being counted" in stale.content
    assert [stage["count"] for stage in stale.context["home"].funnel] == before
    run_worker()
    home = client.get(HOME).context["home"]
    assert home.as_of is None
    return home


def _funnel_after_change(client, before: list[int]) -> list[int]:
    return [stage["count"] for stage in _home_after_change(client, before).funnel]


@pytest.mark.django_db(transaction=True)
def test_a_change_written_any_way_is_known_on_the_next_load(superuser_client):
    claims = seed.seed_claims()
    _programme(claims, 1)
    first = _home_funnel(superuser_client)
    with CaptureQueriesContext(connection) as again:
        assert _home_funnel(superuser_client) == first
    assert not _funnel_read(again)  # kept: nothing changed
    with CaptureQueriesContext(connection) as page:
        funnel_page = superuser_client.get(FUNNEL).context["funnel"]
    assert not _funnel_read(page)  # the page and the home share the figures
    assert [stage["count"] for stage in funnel_page.stages] == first

    # A column nothing counts: still kept.
    get_user_model().objects.update(last_login=timezone.now())
    with CaptureQueriesContext(connection) as unrelated:
        assert _home_funnel(superuser_client) == first
    assert not _funnel_read(unrelated)

    # A queryset update (no signal): confirming an email moves members to stage 2.
    unconfirmed = EmailAddress.objects.filter(user__first_name="signed up, never confirmed")
    moved = unconfirmed.update(verified=True)
    assert moved
    second = _funnel_after_change(superuser_client, first)
    assert second[1] == first[1] + moved

    # Raw SQL, as the engine's ledger writes: a completion and its events, found eligible
    # and completed. The home's funnel and its completed figures follow.
    member = get_user_model().objects.filter(first_name="connected, not checked").first()
    with transaction.atomic():
        completion = Completion.objects.create(
            claim=claims["gh-badge"],
            member=member,
            state="completed",
            completed_at=timezone.now(),
            address=seed.ADDRESS,
        )
        columns = "completion_id, at, from_state, to_state, reason, details, actor_kind, "
        columns += "actor_detail"
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO claims_completionevent ({columns}) VALUES "  # noqa: S608
                "(%s, %s, 'checking', 'delivering', 'delivering', '{}', 'worker', ''), "
                "(%s, %s, 'delivering', 'completed', 'delivered', '{}', 'worker', '')",
                [completion.pk, timezone.now()] * 2,
            )
    third = _funnel_after_change(superuser_client, second)
    assert third[4:] == [second[4] + 1, second[5] + 1]

    # bulk_create: new members; a queryset delete: accounts gone (signals or not).
    get_user_model().objects.bulk_create(
        get_user_model()(username=f"late{n}", email=f"late{n}@example.com") for n in range(3)
    )
    fourth = _funnel_after_change(superuser_client, third)
    assert fourth[0] == third[0] + 3
    home = superuser_client.get(HOME).context["home"]
    accounts_before = home.accounts[0]["total"]
    deleted, _ = ConnectedAccount.objects.filter(member__first_name="one app of two").delete()
    assert deleted
    home = _home_after_change(superuser_client, fourth)
    assert home.accounts[0]["total"] == accounts_before - deleted


@pytest.mark.django_db(transaction=True)
def test_nothing_is_kept_inside_a_transaction():
    """Its own writes are not in the version yet (PostgreSQL bumps at commit) or may be
    rolled back: figures read inside one are read, never kept."""
    claims = seed.seed_claims()
    _programme(claims, 1)
    assert data_version.current() is not None
    before = funnel.member_funnel()
    with transaction.atomic():
        assert data_version.current() is None
        get_user_model().objects.bulk_create(
            get_user_model()(username=f"tx{n}", email=f"tx{n}@example.com") for n in range(2)
        )
        inside = funnel.member_funnel()
        assert inside[0][1] == before[0][1] + 2
        transaction.set_rollback(True)
    assert funnel.member_funnel() == before


@pytest.mark.django_db(transaction=True)
def test_migrate_turns_the_triggers_off_then_on_and_bumps_the_version():
    """Before `migrate` the triggers go (a migration may drop a column one names), after
    it they are back and the version is bumped (what the migration wrote is read again)."""
    member = get_user_model().objects.create(username="moving", email="moving@example.com")
    start = data_version.current()
    assert start is not None
    data_version.uninstall()
    get_user_model().objects.filter(pk=member.pk).update(address=seed.ADDRESS)
    assert data_version.current() is None  # off: nothing counts, so nothing is kept
    data_version.install()
    after = data_version.current()
    assert after is not None and after > start
    get_user_model().objects.filter(pk=member.pk).update(address="")
    assert (data_version.current() or 0) > after  # on again


@pytest.mark.django_db(transaction=True)
def test_a_migrate_that_fails_leaves_no_figure_frozen(superuser_client, monkeypatch, caplog):
    """pre_migrate turned the triggers off and the migration failed (no post_migrate):
    the figures kept before are not answered as current while nothing counts changes;
    they are counted on each load, until a migrate that runs to the end."""
    claims = seed.seed_claims()
    _programme(claims, 1)
    first = _home_funnel(superuser_client)

    def fails(self, *args, **kwargs):
        raise RuntimeError("a migration failed")

    monkeypatch.setattr(MigrationExecutor, "migrate", fails)
    with pytest.raises(RuntimeError, match="a migration failed"):
        call_command("migrate", verbosity=0)
    get_user_model().objects.bulk_create(
        get_user_model()(username=f"late{n}", email=f"late{n}@example.com") for n in range(3)
    )
    for _ in range(2):
        assert _home_funnel(superuser_client)[0] == first[0] + 3  # counted, never stale
    # As on every deploy, a migrate may be running: a warning, once.
    said = [r for r in caplog.records if "triggers" in r.getMessage()]
    assert [r.levelname for r in said] == ["WARNING"] and "under way" in said[0].getMessage()
    # Off for longer than a migrate takes: it failed. An error, once, with the way out.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {data_version.TABLE} SET n = n - %s WHERE slot = %s",  # noqa: S608
            [data_version.OFF_FAILED_SECONDS, data_version.OFF],
        )
    for _ in range(2):
        assert _home_funnel(superuser_client)[0] == first[0] + 3
    said = [r for r in caplog.records if "triggers" in r.getMessage()]
    assert [r.levelname for r in said] == ["WARNING", "ERROR"]
    assert "did not finish" in said[1].getMessage() and "manage.py migrate" in said[1].getMessage()

    monkeypatch.undo()
    call_command("migrate", verbosity=0)
    on = data_version.current()
    assert on is not None  # counted and kept again
    get_user_model().objects.filter(username="late0").delete()
    assert (data_version.current() or 0) > on
    # The newest figures kept are those from before: said to be older, counted again.
    assert _funnel_after_change(superuser_client, first)[0] == first[0] + 2


@pytest.mark.django_db(transaction=True)
def test_a_restored_database_never_shows_the_figures_of_the_data_it_replaced(
    superuser_client,
):
    """A backup restored (its rows, and the counter as it was then) and migrated, as after
    any restore: the versions it counts up from are past every version the cache holds
    the replaced data's figures under, so those are never shown as current."""
    claims = seed.seed_claims()
    _programme(claims, 1)
    first = _home_funnel(superuser_client)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT slot, n FROM {data_version.TABLE}")  # noqa: S608
        backup = cursor.fetchall()
    # After the backup the live data goes on: three members join, counted and kept.
    get_user_model().objects.bulk_create(
        get_user_model()(username=f"after{n}", email=f"after{n}@example.com") for n in range(3)
    )
    second = _funnel_after_change(superuser_client, first)
    assert second[0] == first[0] + 3
    live = data_version.current()
    # The backup is restored: the three are gone and the counter is as it was.
    get_user_model().objects.filter(username__startswith="after").delete()
    with connection.cursor() as cursor:
        for slot, n in backup:
            cursor.execute(f"UPDATE {data_version.TABLE} SET n = %s WHERE slot = %s", [n, slot])  # noqa: S608
    data_version.install()  # what `migrate` after the restore does (post_migrate)
    assert (data_version.current() or 0) > (live or 0) + 2**39
    restored = _home_after_change(superuser_client, second)  # said to be older, recounted
    assert [stage["count"] for stage in restored.funnel] == first

"""The database connection dropped in the middle of a member's request, or of a task.

Served by live_server over real HTTP; the connection is cut for real at a chosen query
(tests/faults/dbdrop_support.py: pg_terminate_backend on PostgreSQL, the DB-API connection
closed underneath on SQLite). A member never sees a 500: a page read is retried once on
a fresh connection without them noticing; a write answers 503 with Retry-After and a
sentence, and wrote nothing; the next request works.
"""

import datetime
import time

import pytest
import time_machine
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from claims.models import Completion, CompletionEvent
from connections import services as connections_services
from connections.models import ConnectedAccount, ConnectSession, WebhookEvent
from sandbox.bitbadges import attempts as bb_sandbox
from tests.faults.workers_support import allow_on_hosted_page

pytestmark = pytest.mark.django_db(transaction=True)

TRY_AGAIN = "try again"


def _table(name: str) -> str:
    return f'"{name}"'


@pytest.fixture
def member_with_account(alice, connect):
    connect(alice, "github", "octo-drop")
    return alice


# (path, headers, the query cut, what the page shows)
PAGE_READS = [
    ("/accounts/", {}, _table("connections_connectedaccount"), "octo-drop"),
    ("/accounts/", {"HX-Request": "true"}, _table("connections_connectedaccount"), "octo-drop"),
    ("/claims/", {}, _table("claims_claim"), "Claims"),
    ("/claims/", {"HX-Request": "true"}, _table("claims_claim"), 'id="claims"'),
    # Lost while the session middleware loads the member: outside the view.
    ("/accounts/", {}, _table("django_session"), "octo-drop"),
    ("/profile/", {}, _table("users_user"), "alice"),
]


def test_a_page_read_is_retried_on_a_fresh_connection(member_with_account, browser, dbdrop):
    member = browser(member_with_account)
    for path, headers, sql, expect in PAGE_READS:
        rule = dbdrop.drop(sql=sql, path=path)

        response = member.get(path, headers=headers)

        case = (path, headers, sql)
        assert len(rule.fired) == 1, ("the connection was not dropped", case)
        assert response.status_code == 200, (case, response.text[:500])
        assert expect in response.text, case
        dbdrop.disarm()


def test_a_read_that_loses_its_connection_twice_says_try_again_then_works(
    member_with_account, browser, dbdrop
):
    member = browser(member_with_account)
    rule = dbdrop.drop(sql=_table("connections_connectedaccount"), path="/accounts/", times=2)

    page = member.get("/accounts/", headers={"Accept": "text/html"})
    poll = member.get("/claims/", headers={"HX-Request": "true"})  # not armed: fine

    assert len(rule.fired) == 2
    assert page.status_code == 503
    assert page.headers["Retry-After"].isdigit()
    assert TRY_AGAIN in page.text and "<h1>" in page.text
    assert poll.status_code == 200
    assert member.get("/accounts/").status_code == 200


def test_an_htmx_poll_that_cannot_reach_the_database_is_a_503_htmx_leaves_alone(
    member_with_account, browser, dbdrop
):
    """htmx swaps nothing on a 5xx and a polling element keeps its `every` trigger: the
    next poll, on a working connection, updates the page."""
    member = browser(member_with_account)
    dbdrop.drop(sql=_table("claims_claim"), path="/claims/", times=2)

    poll = member.get("/claims/", headers={"HX-Request": "true"})

    assert poll.status_code == 503
    assert poll.headers["HX-Reswap"] == "none" and poll.headers["Retry-After"]
    assert TRY_AGAIN in poll.text
    assert member.get("/claims/", headers={"HX-Request": "true"}).status_code == 200


def test_minting_a_token_when_the_connection_drops_writes_nothing(
    member_with_account, apps, browser, dbdrop
):
    member = browser(member_with_account)
    rule = dbdrop.drop(sql=f"INSERT INTO {_table('connections_connectsession')}")

    refused = member.post("/connect/token/", json={"app": "github"})

    assert len(rule.fired) == 1
    assert refused.status_code == 503, refused.text[:300]
    assert TRY_AGAIN in refused.json()["error"]
    assert refused.headers["Retry-After"].isdigit()
    assert not ConnectSession.objects.exists()

    again = member.post("/connect/token/", json={"app": "github"})
    assert again.status_code == 200, again.text[:300]
    assert ConnectSession.objects.count() == 1


def test_check_again_when_the_connection_drops_changes_nothing(
    member_with_account, make_claim, apps, browser, dbdrop, settings
):
    settings.CLAIMS_CHECK_RATE_LIMIT = (50, 60)
    claim = make_claim("drop-claim", apps=[apps["github"]])
    member = browser(member_with_account)
    before = (
        list(Completion.objects.values_list("pk", "state", "reason", "next_attempt_at")),
        CompletionEvent.objects.count(),
    )
    # Cut after the row was written, at the event beside it in the same transaction.
    rule = dbdrop.drop(sql=f"INSERT INTO {_table('claims_completionevent')}", path="/claims/")

    refused = member.post(f"/claims/{claim.slug}/check/", headers={"HX-Request": "true"})

    assert len(rule.fired) == 1, (refused.status_code, refused.text[:300])
    assert refused.status_code == 503
    after = (
        list(Completion.objects.values_list("pk", "state", "reason", "next_attempt_at")),
        CompletionEvent.objects.count(),
    )
    assert after == before
    assert member.post(f"/claims/{claim.slug}/check/", headers={"HX-Request": "true"}).ok


def test_the_webhook_answers_503_and_the_sandbox_delivers_it_again(
    alice, apps, upstreams, dbdrop, worker, settings
):
    settings.SANDBOX_WEBHOOK_RETRY_DELAYS = (0.2, 0.5)
    session, token = connections_services.connect_session_start(
        member=alice, app=apps["github"], mode="link"
    )
    link = connections_services.connect_link_for(token=token, app=apps["github"])
    rule = dbdrop.drop(
        sql=f"INSERT INTO {_table('connections_webhookevent')}", path="/connect/webhook/"
    )

    [delivery] = allow_on_hosted_page(link, "octo-hook")

    assert len(rule.fired) == 1
    assert (delivery.status, delivery.attempts) == ("delivered", 2), delivery.last_error
    [event] = WebhookEvent.objects.all()
    worker()
    event.refresh_from_db()
    assert event.outcome == "connected", event.detail
    assert ConnectedAccount.objects.get().name == "octo-hook"
    session.refresh_from_db()
    assert session.status == "connected"


@pytest.mark.parametrize("skip", [0, 2, 5], ids=lambda n: f"update-{n + 1}")
def test_a_task_that_loses_its_connection_is_retried_not_lost(
    demo_claims, alice, connect, dbdrop, worker, skip
):
    """The worker's connection drops at one of the updates a completion task makes
    (taking the row, starting the delivery, after sending...): the worker survives it,
    the task is queued again, and every completion ends completed, once."""
    connect(alice, "github", "octo-pro")
    assert Completion.objects.count() == len(demo_claims)
    rule = dbdrop.drop(sql=f"UPDATE {_table('claims_completion')}", skip=skip)

    now = timezone.now()
    for round_number in range(12):
        with time_machine.travel(now, tick=True):
            worker()  # raises if the worker itself fell over
        if round_number == 0:
            # Whatever the drop interrupted was recorded on a fresh connection: no row
            # is left held by the worker (to wait minutes for its lease to run out).
            held = Completion.objects.filter(state__in=["checking", "delivering"])
            assert not held.exists(), list(held.values_list("claim__slug", "state"))
        if not Completion.objects.filter(state__in=Completion.IN_PROGRESS).exists():
            break
        now += datetime.timedelta(minutes=10)  # past any retry or unknown-outcome wait
        time.sleep(0.2)

    assert len(rule.fired) == 1
    states = list(Completion.objects.values_list("claim__slug", "state", "reason"))
    assert {state for _, state, _ in states} == {"completed"}, states
    assert not DBTaskResult.objects.filter(status="RUNNING").exists()
    for slug in ("github-starter", "github-workflow"):
        claim = demo_claims[slug]
        assert bb_sandbox.completions(claim.bitbadges_claim_id, alice.address) == 1, slug


@pytest.mark.parametrize(
    "sql",
    [
        f"INSERT INTO {_table('connections_connectedaccount')}",
        f"UPDATE {_table('connections_webhookevent')}",
    ],
    ids=["recording-the-account", "settling-the-delivery"],
)
def test_a_webhook_task_that_loses_its_connection_is_retried_not_lost(
    alice, apps, upstreams, dbdrop, worker, sql
):
    session, token = connections_services.connect_session_start(
        member=alice, app=apps["github"], mode="link"
    )
    link = connections_services.connect_link_for(token=token, app=apps["github"])
    allow_on_hosted_page(link, "octo-task")
    [event] = WebhookEvent.objects.all()
    rule = dbdrop.drop(sql=sql)

    now = timezone.now()
    for _ in range(4):
        with time_machine.travel(now, tick=True):
            worker()
        event.refresh_from_db()
        if event.outcome != "pending":
            break
        now += datetime.timedelta(minutes=1)

    assert len(rule.fired) == 1
    # Cut while settling, the account was already recorded: the retry finds it so.
    assert event.outcome in ("connected", "duplicate"), (event.outcome, event.detail)
    assert ConnectedAccount.objects.get().name == "octo-task"
    session.refresh_from_db()
    assert session.status == "connected"
    assert not DBTaskResult.objects.filter(status__in=["RUNNING", "FAILED"]).exists()


def test_loading_the_member_failing_twice_is_a_503_not_a_500(member_with_account, browser, dbdrop):
    """The member could not be loaded on either pass (the user query cut twice): the
    access log must not try to load them a third time and turn the 503 into a 500."""
    member = browser(member_with_account)
    # Armed for a third query too: the one the access log would make (and fail on).
    rule = dbdrop.drop(sql=_table("users_user"), path="/accounts/", times=3)

    page = member.get("/accounts/", headers={"Accept": "text/html"})

    assert page.status_code == 503
    assert len(rule.fired) == 2  # the two passes; nothing after them asked again
    dbdrop.disarm()
    assert member.get("/accounts/").status_code == 200


def test_a_link_that_mints_at_pipedream_is_not_run_twice(
    member_with_account, browser, dbdrop, apps
):
    """GET /connect/<app>/ mints a Connect token upstream: cut while recording it, the
    member is asked to try again rather than minting a second token behind their back."""
    from sandbox.pipedream.models import ConnectToken

    member = browser(member_with_account)
    before = ConnectToken.objects.count()
    rule = dbdrop.drop(sql=f"INSERT INTO {_table('connections_connectsession')}")

    answer = member.get("/connect/github/", allow_redirects=False)

    assert len(rule.fired) == 1
    assert answer.status_code == 503
    assert ConnectToken.objects.count() - before == 1  # minted once, not retried


def test_the_try_again_link_stays_on_the_site(rf):
    from config.middleware import unavailable_response

    request = rf.get("/x", HTTP_ACCEPT="text/html")
    request.path = "//evil.example/x"  # a path as a server receives it (the test client
    # would read it as a host)
    page = unavailable_response(request)

    assert page.status_code == 503
    assert 'href="//evil.example' not in page.content.decode()
    assert 'href="/evil.example/x"' in page.content.decode()

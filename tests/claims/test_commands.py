"""`manage.py complete_claims`: arguments checked, dry runs write nothing, due work is done.

Claims here have no criterion and members without an address, so evaluation never
reaches an upstream: a processed completion ends ineligible, which is all this needs.
"""

import datetime
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from claims.models import Claim, Completion, CompletionEvent
from connections.models import App, ConnectedAccount
from tests.claims.claims_support import require
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db

State = Completion.State
ALICE_ADDRESS = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"


@pytest.fixture
def github():
    return App.objects.create(slug="github", name="GitHub", enabled=True)


@pytest.fixture
def make_claim(github):
    def make(slug, *, enabled=True, apps=None):
        claim = Claim(slug=slug, name=slug.title(), enabled=enabled, delivery="dynamic_store")
        claim.store_id = "s"
        claim.set_store_secret("x")
        claim.save()
        require(claim, *[github] if apps is None else apps)
        return claim

    return make


@pytest.fixture
def people(django_user_model):
    def make(*names, **fields):
        return [
            verify_email(django_user_model.objects.create_user(username=name, **fields))
            for name in names
        ]

    return make


_ids = iter(range(1, 10_000))


def connect(member, app, **fields):
    return ConnectedAccount.objects.create(
        member=member, app=app, pipedream_id=f"apn_{next(_ids)}", **fields
    )


def run(*args) -> str:
    out = StringIO()
    call_command("complete_claims", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- Arguments -------------------------------------------------------------------------------


def test_an_unknown_claim_names_the_known_ones(make_claim):
    make_claim("github-starter")
    make_claim("builders", enabled=False)
    with pytest.raises(CommandError) as caught:
        run("--claim", "nope")
    assert str(caught.value) == "No claim 'nope'. Known claims: builders, github-starter."


def test_an_unknown_claim_with_no_claims_at_all_says_none_yet(db):
    with pytest.raises(CommandError, match=r"Known claims: none yet\."):
        run("--claim", "nope")


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_claim_is_refused(db, value):
    with pytest.raises(CommandError, match="--claim needs a claim's slug or number."):
        run("--claim", value)


@pytest.mark.parametrize(
    "value",
    [
        "x" * 10_000,
        "'; DROP TABLE claims_claim; --",
        "9" * 40,  # a number past any primary key
        "²",  # a digit to str.isdigit, not to int()
        "star\x00ter",  # PostgreSQL refuses NUL in a query
        "<script>",
    ],
)
def test_hostile_or_oversized_claim_values_are_just_unknown(make_claim, value):
    make_claim("starter")
    with pytest.raises(CommandError, match="No claim"):
        run("--claim", value)
    assert Claim.objects.count() == 1


def test_a_claim_can_be_named_by_its_number(make_claim):
    claim = make_claim("starter")
    out = run("--claim", str(claim.pk), "--dry-run")
    assert out.startswith("Dry run of starter (enabled, delivery dynamic_store)")


@pytest.mark.parametrize("limit", ["0", "-1", "-100000"])
def test_limit_must_be_positive(db, limit):
    with pytest.raises(CommandError, match="--limit must be a positive number."):
        run("--limit", limit)


@pytest.mark.parametrize("limit", ["abc", "1.5", ""])
def test_limit_must_be_a_number(db, limit):
    with pytest.raises(CommandError, match="invalid int value"):
        run("--limit", limit)


def test_dry_run_needs_a_claim(db):
    with pytest.raises(CommandError, match=r"--dry-run needs --claim C"):
        run("--dry-run")


def test_an_unknown_option_is_refused(db):
    with pytest.raises(CommandError, match="unrecognized arguments"):
        run("--everything")


# --- Dry run ---------------------------------------------------------------------------------


def test_dry_run_counts_members_and_writes_nothing(
    make_claim, github, people, django_capture_on_commit_callbacks
):
    claim = make_claim("starter", enabled=False)
    alice, bob, carol, dave = people("alice", "bob", "carol", "dave")
    people("eve", is_active=False)  # inactive members are not counted
    for member in (alice, bob):
        member.address = ALICE_ADDRESS
        member.save()
    connect(alice, github)
    connect(carol, github, healthy=False, error="token revoked")
    Completion.objects.create(claim=claim, member=dave, state=State.COMPLETED)
    before = (Completion.objects.count(), CompletionEvent.objects.count())

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        out = run("--claim", "starter", "--dry-run")

    assert out.splitlines()[0] == (
        "Dry run of starter (disabled, delivery dynamic_store): nothing is delivered."
    )
    assert "  alice: would qualify" in out
    assert "  bob: Connect your GitHub account." in out
    assert "  carol: Your GitHub account needs reconnecting." in out
    assert "  dave: already completed" in out
    assert "eve" not in out
    assert "4 member(s): 1 would qualify, 1 already completed, 2 would not." in out
    assert "  1 × Connect your GitHub account." in out
    # Nothing written, nothing queued.
    assert (Completion.objects.count(), CompletionEvent.objects.count()) == before
    assert not DBTaskResult.objects.exists()
    assert callbacks == []


def test_dry_run_tells_members_without_an_address_why(make_claim, github, people):
    make_claim("starter")
    (alice,) = people("alice")
    connect(alice, github)
    out = run("--claim", "starter", "--dry-run")
    assert "  alice: Add your BitBadges address so the badge has somewhere to go." in out
    assert "1 member(s): 0 would qualify, 0 already completed, 1 would not." in out
    assert not Completion.objects.exists()


# --- A normal run ----------------------------------------------------------------------------


def test_a_due_completion_is_processed_and_summed_up(make_claim, github, people):
    claim = make_claim("starter")
    (alice,) = people("alice")  # no address: the evaluation stops there
    connect(alice, github)
    completion = Completion.objects.create(
        claim=claim,
        member=alice,
        state=State.WAITING,
        next_attempt_at=timezone.now() - datetime.timedelta(minutes=1),
    )

    out = run()

    completion.refresh_from_db()
    assert completion.state == State.INELIGIBLE
    assert completion.reason == "Add your BitBadges address so the badge has somewhere to go."
    assert completion.attempts == 1
    assert (
        "starter · alice: ineligible — Add your BitBadges address so the badge has somewhere "
        "to go." in out
    )
    assert out.splitlines()[-1] == "1 due completion(s) processed: 1 ineligible; 0 newly queued."
    actors = set(CompletionEvent.objects.values_list("actor_kind", "actor_detail"))
    assert actors == {("command", "complete_claims")}


def test_rows_not_due_are_left_alone(make_claim, github, people):
    claim = make_claim("starter")
    alice, bob, carol = people("alice", "bob", "carol")
    later = timezone.now() + datetime.timedelta(hours=1)
    future = Completion.objects.create(
        claim=claim, member=alice, state=State.RETRYING, next_attempt_at=later
    )
    held = Completion.objects.create(
        claim=claim, member=bob, state=State.CHECKING, lease_expires_at=later
    )
    done = Completion.objects.create(claim=claim, member=carol, state=State.COMPLETED)

    out = run()

    assert out.strip() == "0 due completion(s) processed; 0 newly queued."
    for row, state in ((future, State.RETRYING), (held, State.CHECKING), (done, State.COMPLETED)):
        row.refresh_from_db()
        assert row.state == state
    assert not CompletionEvent.objects.exists()


def test_limit_processes_at_most_n_oldest_first(make_claim, people):
    claim = make_claim("starter")
    members = people("alice", "bob", "carol")
    now = timezone.now()
    for age, member in zip((3, 2, 1), members, strict=True):
        Completion.objects.create(
            claim=claim,
            member=member,
            next_attempt_at=now - datetime.timedelta(minutes=age),
        )

    out = run("--limit", "2")

    states = dict(Completion.objects.values_list("member__username", "state"))
    assert states == {"alice": State.INELIGIBLE, "bob": State.INELIGIBLE, "carol": State.WAITING}
    assert out.splitlines()[-1].startswith("2 due completion(s) processed: 2 ineligible")


def test_claim_limits_the_run_to_that_claim(make_claim, people):
    starter, other = make_claim("starter"), make_claim("other")
    (alice,) = people("alice")
    past = timezone.now() - datetime.timedelta(minutes=1)
    mine = Completion.objects.create(claim=starter, member=alice, next_attempt_at=past)
    theirs = Completion.objects.create(claim=other, member=alice, next_attempt_at=past)

    run("--claim", "starter")

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.state, theirs.state) == (State.INELIGIBLE, State.WAITING)


def test_a_deleted_members_row_is_not_processed(make_claim):
    claim = make_claim("starter")
    orphan = Completion.objects.create(
        claim=claim, member=None, next_attempt_at=timezone.now() - datetime.timedelta(hours=1)
    )
    out = run()
    orphan.refresh_from_db()
    assert orphan.state == State.WAITING
    assert out.strip() == "0 due completion(s) processed; 0 newly queued."


def test_discovery_queues_members_who_already_have_the_app(
    make_claim, github, people, django_capture_on_commit_callbacks
):
    claim = make_claim("starter")
    make_claim("retired", enabled=False)  # disabled claims discover nobody
    alice, bob, carol = people("alice", "bob", "carol")
    people("dave", is_active=False)
    connect(alice, github)
    connect(carol, github)
    connect(people("erin")[0], App.objects.create(slug="discord", name="Discord"))  # the wrong app
    Completion.objects.create(claim=claim, member=carol, state=State.INELIGIBLE)

    with django_capture_on_commit_callbacks(execute=True):
        out = run()

    completion = Completion.objects.get(claim=claim, member=alice)
    assert CompletionEvent.objects.filter(
        completion=completion, from_state="", to_state=State.WAITING
    ).exists()
    # Queued as a batch (claims enabled queue their members a few to a task).
    assert DBTaskResult.objects.filter(
        task_path="claims.tasks.completion_batch_task", args_kwargs__args=[[completion.pk]]
    ).exists()
    # Only alice was new: bob has no account, carol already had a row, dave is inactive.
    assert set(Completion.objects.values_list("member__username", flat=True)) == {
        "alice",
        "carol",
    }
    assert re.search(r"; 1 newly queued\.$", out.strip())
    # Being due at once, the run also processed her (no address: not eligible yet).
    assert f"starter · alice: {completion.state}" in out

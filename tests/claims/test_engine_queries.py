"""What one completion costs the database: the engine's statements, counted.

A completion through the engine (issue 24) reads its row with the claim, the member and
what the check needs (one query), the claim's requirements and the member's accounts,
and makes each move with its ledger row in one write (claims/engine/ledger.write: one
statement on PostgreSQL, an UPDATE and an INSERT elsewhere). The neighbours told of a
completion (the host site's webhooks, the member's notification) add their own.
"""

import uuid

import pytest
from django.db import connection
from django.db.models import Exists
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from claims import queue, services
from claims.audit import Actor
from claims.engine import ledger
from claims.models import Claim, Completion, CompletionEvent
from sandbox.bitbadges import attempts as bb_attempts
from tests.claims.claims_support import random_address, run_worker
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db(transaction=True)

POSTGRES = connection.vendor == "postgresql"
# The engine's statements for one completion, delivered by a BitBadges claim: the lease
# (read, move), the requirements, the accounts, delivering, the attempt id, completed.
# Before issue 24 they were 17 (the same steps, each move an UPDATE and an INSERT, the
# lease renewed, the email and the pause read apart, savepoints around the delivering
# move) on either database.
ENGINE = 7 if POSTGRES else 11
# Everything in the run: the engine's, the webhooks' look for endpoints that want
# completion.completed, and the notification (its row, one statement that also looks
# for a waiting badge, and its send task).
EVERYTHING = ENGINE + 3


def statements(captured) -> list[str]:
    """What went to the database, transactions' own BEGIN and COMMIT left out (the
    benchmark's counter, on the cursor, does not see them on PostgreSQL)."""
    return [
        q["sql"]
        for q in captured
        if q["sql"].split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK")
    ]


def engine_tables(sql: str) -> bool:
    return any(
        f'"{table}"' in sql.split(" WHERE ", 1)[0]
        for table in (
            "claims_completion",
            "claims_completionevent",
            "claims_requirement",
            "connections_connectedaccount",
        )
    )


@pytest.fixture
def starter(demo_claims):
    claim = demo_claims["github-starter"]
    Claim.objects.exclude(pk=claim.pk).update(enabled=False)
    return claim


def test_one_completion_costs_the_engine_a_few_statements(starter, alice, connect):
    connect(alice, "github", "octo")  # queues the completion
    completion = Completion.objects.get(claim=starter, member=alice)

    with CaptureQueriesContext(connection) as captured:
        done = services.completion_process(completion.pk, actor=Actor.worker())

    assert done.state == "completed", done.reason
    sent = statements(captured.captured_queries)
    engine = [sql for sql in sent if engine_tables(sql)]
    assert len(engine) == ENGINE, "\n".join(engine)
    assert len(sent) == EVERYTHING, "\n".join(sent)
    # Nothing is lost from the ledger: every step is there, in order.
    assert [
        (e.from_state, e.to_state, e.reason)
        for e in CompletionEvent.objects.filter(completion=done).order_by("at", "pk")
    ] == [
        ("", "waiting", "requested"),
        ("waiting", "checking", "taken"),
        ("checking", "delivering", "delivering"),
        ("delivering", "delivering", "sent"),
        ("delivering", "completed", "delivered"),
    ]
    assert bb_attempts.completions(starter.bitbadges_claim_id, alice.address) == 1


def test_a_move_whose_lease_is_lost_writes_neither_the_row_nor_its_event(starter, alice, connect):
    connect(alice, "github", "octo")
    completion = Completion.objects.get(claim=starter, member=alice)
    taken, token = ledger.take(completion.pk, actor=Actor.worker(), now=timezone.now())
    assert taken.state == "checking" and token is not None
    events = CompletionEvent.objects.filter(completion=completion)
    before = events.count()

    row = ledger.event_row(taken, "checking", "failed", Actor.worker(), "error")
    assert not ledger.write(taken.pk, {"state": "failed"}, [row], lease_token=uuid.uuid4())
    assert Completion.objects.get(pk=taken.pk).state == "checking"
    assert events.count() == before

    assert ledger.write(taken.pk, {"state": "failed"}, [row], lease_token=token)
    assert Completion.objects.get(pk=taken.pk).state == "failed"
    assert events.count() == before + 1
    assert events.order_by("-pk").first().to_state == "failed"


def test_a_move_with_conditions_that_fail_returns_at_once(starter, alice, connect):
    """`only_if` not met: no fallback read, no move, no event (the caller finds out why)."""
    connect(alice, "github", "octo")
    completion = Completion.objects.get(claim=starter, member=alice)
    taken, token = ledger.take(completion.pk, actor=Actor.worker(), now=timezone.now())
    nobody = Exists(Claim.objects.filter(pk=-1))
    with CaptureQueriesContext(connection) as captured:
        moved = ledger.fenced(
            taken,
            token,
            ("checking",),
            "delivering",
            actor=Actor.worker(),
            why=CompletionEvent.Reason.DELIVERING,
            only_if=(nobody,),
        )
    assert moved is False
    assert len(statements(captured.captured_queries)) == 1
    assert Completion.objects.get(pk=taken.pk).state == "checking"


def test_enabling_a_claim_queues_its_members_in_batches_in_a_few_writes(
    starter, django_user_model, connect
):
    Claim.objects.filter(pk=starter.pk).update(enabled=False)
    members = []
    for i in range(9):  # the sandbox's development project takes 10 at most
        member = verify_email(
            django_user_model.objects.create_user(
                username=f"m{i}", email=f"m{i}@example.com", address=random_address()
            )
        )
        connect(member, "github", f"octo-{i}")
        members.append(member)
    assert not Completion.objects.filter(claim=starter).exists()  # disabled: none asked
    Claim.objects.filter(pk=starter.pk).update(enabled=True)
    starter.refresh_from_db()

    with CaptureQueriesContext(connection) as captured:
        count = services.claim_discover(claim=starter, actor=Actor.system("test"))
        sent = statements(captured.captured_queries)
    assert count == 9
    rows = Completion.objects.filter(claim=starter)
    assert rows.count() == 9 and set(rows.values_list("state", flat=True)) == {"waiting"}
    events = CompletionEvent.objects.filter(completion__claim=starter)
    assert set(events.values_list("from_state", "to_state", "reason")) == {
        ("", "waiting", "requested")
    }
    assert events.count() == 9
    # The members, the life read, the requirements; the rows, their ledger rows and the
    # batch tasks (9 spread over 8 tasks or fewer: 5 of 2 and 1) each in one INSERT.
    tasks = [sql for sql in sent if "django_tasks_database_dbtaskresult" in sql]
    assert len(tasks) == 5 and queue.BATCH_SIZE >= 2
    assert len(sent) - len(tasks) <= 6, "\n".join(sent)

    run_worker()
    assert set(rows.values_list("state", flat=True)) == {"completed"}
    assert bb_attempts.complete_calls(starter.bitbadges_claim_id) == 9

"""Which events become messages, for which endpoints, with what in them, at what cost.

Completions reach the webhooks through the ledger (claims.engine.ledger.event, which
sends completion_changing inside the move's transaction); member deletion through the user model's
pre_delete. No HTTP here: the messages are recorded and queued, not sent.
"""

import json

import pytest
from allauth.socialaccount.models import SocialAccount
from django.core.cache import caches
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from claims.audit import Actor
from claims.engine import ledger
from claims.models import Completion, CompletionEvent
from connections.models import ConnectedAccount
from connections.signals import account_health_changing
from core import webhooks
from users.hostsso import PROVIDER_ID
from webhooks import events
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db

URL = "https://93.184.215.14/hooks/connect"  # never called in this module
ALL = {"completion.completed", "completion.failed", "completion.revoked", "member.deleted"}


@pytest.fixture
def completion(make_claim, member):
    claim = make_claim("github-starter")
    return Completion.objects.create(
        claim=claim, member=member, state="delivering", address="bb1exampleaddress"
    )


def move(completion, to_state, capture):
    """Move `completion` through the ledger, as the engine and staff actions do."""
    with capture(execute=True), transaction.atomic():
        Completion.objects.filter(pk=completion.pk).update(state=to_state, reason="Done.")
        ledger.event(
            completion,
            completion.state,
            to_state,
            Actor.system("test"),
            CompletionEvent.Reason.DELIVERED,
        )
    completion.state = to_state


def bodies(endpoint=None):
    rows = Delivery.objects.order_by("pk")
    if endpoint is not None:
        rows = rows.filter(endpoint=endpoint)
    return [json.loads(row.body) for row in rows]


def test_each_move_the_host_hears_of_makes_one_message_per_endpoint(
    completion, member, endpoint_to, django_capture_on_commit_callbacks
):
    first, _ = endpoint_to(URL, name="Site")
    second, _ = endpoint_to(URL, name="Backup")
    move(completion, "completed", django_capture_on_commit_callbacks)
    move(completion, "revoked", django_capture_on_commit_callbacks)
    move(completion, "waiting", django_capture_on_commit_callbacks)  # not an event
    move(completion, "failed", django_capture_on_commit_callbacks)

    kinds = [body["type"] for body in bodies(first)]
    assert kinds == ["completion.completed", "completion.revoked", "completion.failed"]
    assert bodies(first) == bodies(second)
    # One webhook-id per event, the same for both endpoints; each queued for the worker.
    ids = Delivery.objects.values_list("message_id", flat=True)
    assert len(set(ids)) == 3 and len(ids) == 6
    assert DBTaskResult.objects.filter(task_path__endswith="webhook_delivery_task").count() == 6
    data = bodies(first)[1]["data"]
    assert data == {
        "id": completion.pk,
        "claim": "github-starter",
        "member": {"host_id": None, "external_id": str(member.external_id)},
        "state": "revoked",
        "previous_state": "completed",
        "reason": "Done.",
        "address": "bb1exampleaddress",
        "completed_at": None,
        "updated_at": data["updated_at"],
    }
    assert bodies(first)[1]["timestamp"].endswith("Z")


def test_the_messages_are_written_in_the_moves_own_transaction(
    completion, endpoint_to, django_capture_on_commit_callbacks
):
    """A crash right after the move commits (no on-commit callback ever runs) loses no
    message: the rows were written with the move; a worker or send_webhooks sends them."""
    endpoint_to(URL)
    with django_capture_on_commit_callbacks(execute=False) as queued, transaction.atomic():
        Completion.objects.filter(pk=completion.pk).update(state="completed")
        ledger.event(
            completion,
            "delivering",
            "completed",
            Actor.system("test"),
            CompletionEvent.Reason.DELIVERED,
        )
    assert queued  # the tasks and the on-commit signal never ran...
    assert [body["type"] for body in bodies()] == ["completion.completed"]  # ...yet it is kept


def test_a_move_rolled_back_records_no_message(completion, endpoint_to):
    endpoint_to(URL)
    with pytest.raises(RuntimeError), transaction.atomic():
        ledger.event(
            completion,
            "delivering",
            "failed",
            Actor.system("test"),
            CompletionEvent.Reason.DELIVERED,
        )
        raise RuntimeError("the move fails after its event")
    assert not Delivery.objects.exists()


def test_the_member_is_named_by_the_host_id_when_they_signed_on_from_the_host(
    completion, member, endpoint_to, django_capture_on_commit_callbacks
):
    SocialAccount.objects.create(user=member, provider=PROVIDER_ID, uid="host-alice-0001")
    endpoint_to(URL)
    move(completion, "completed", django_capture_on_commit_callbacks)
    assert bodies()[0]["data"]["member"] == {
        "host_id": "host-alice-0001",
        "external_id": str(member.external_id),
    }


def test_an_endpoint_gets_only_the_events_it_ticked(
    completion, member, endpoint_to, django_capture_on_commit_callbacks
):
    deletions, _ = endpoint_to(URL, name="Deletions", event_types=["member.deleted"])
    everything, _ = endpoint_to(URL, name="Everything")
    move(completion, "completed", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        member.delete()
    assert [body["type"] for body in bodies(deletions)] == ["member.deleted"]
    assert {body["type"] for body in bodies(everything)} == {
        "completion.completed",
        "member.deleted",
    }


def test_a_disabled_endpoint_gets_nothing(
    completion, endpoint_to, django_capture_on_commit_callbacks
):
    endpoint_to(URL, enabled=False)
    move(completion, "completed", django_capture_on_commit_callbacks)
    assert not Delivery.objects.exists()


def test_member_deleted_carries_the_host_id_read_before_the_cascade(
    member, endpoint_to, django_capture_on_commit_callbacks
):
    SocialAccount.objects.create(user=member, provider=PROVIDER_ID, uid="host-alice-0001")
    external_id = str(member.external_id)
    endpoint_to(URL)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        member.delete()
    assert not SocialAccount.objects.exists()  # it cascaded; the message kept the id
    [body] = bodies()
    assert body["type"] == "member.deleted"
    assert body["data"]["member"] == {"host_id": "host-alice-0001", "external_id": external_id}
    assert body["data"]["deleted_at"].endswith("Z")
    assert len(queued) == 1  # queued once the deletion committed


def test_a_deletion_rolled_back_tells_nobody(
    member, endpoint_to, django_capture_on_commit_callbacks
):
    endpoint_to(URL)
    with (
        django_capture_on_commit_callbacks(execute=True) as queued,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        member.delete()
        raise RuntimeError("changed my mind")
    assert not Delivery.objects.exists()
    assert queued == []


def _webhooks_queries(queries):
    return [q["sql"] for q in queries.captured_queries if "webhooks_" in q["sql"]]


def test_with_no_endpoint_an_event_builds_nothing_and_reads_the_table_once(
    shared_cache, completion, django_capture_on_commit_callbacks
):
    with CaptureQueriesContext(connection) as queries:
        move(completion, "completed", django_capture_on_commit_callbacks)
    claims_reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and "claims_completion" in q["sql"]
    ]
    assert len(_webhooks_queries(queries)) == 1  # is any endpoint on?
    assert claims_reads == []  # the payload was never built
    # The answer is kept until an endpoint changes: the next event reads nothing.
    with CaptureQueriesContext(connection) as queries:
        move(completion, "revoked", django_capture_on_commit_callbacks)
    assert _webhooks_queries(queries) == []


@pytest.mark.parametrize("cache_kind", ["shared", "local"])
def test_an_endpoint_made_or_turned_on_hears_the_very_next_event(
    request, cache_kind, completion, endpoint_to, django_capture_on_commit_callbacks
):
    if cache_kind == "shared":
        request.getfixturevalue("shared_cache")
    move(completion, "failed", django_capture_on_commit_callbacks)  # "none" is now known
    endpoint, _ = endpoint_to(URL)
    move(completion, "completed", django_capture_on_commit_callbacks)
    assert Delivery.objects.filter(endpoint=endpoint).count() == 1
    # Off, then on again through a save (as the admin does): heard at once both ways.
    endpoint.enabled = False
    endpoint.save()
    move(completion, "revoked", django_capture_on_commit_callbacks)
    assert Delivery.objects.count() == 1
    endpoint.enabled = True
    endpoint.save()
    move(completion, "completed", django_capture_on_commit_callbacks)
    assert Delivery.objects.count() == 2


def test_a_change_in_another_process_is_seen_through_the_shared_version(
    shared_cache, completion, endpoint_to, django_capture_on_commit_callbacks
):
    move(completion, "failed", django_capture_on_commit_callbacks)  # "none" is now known
    # Another process saves an endpoint: the row appears, and it replaces the version in
    # the shared cache; nothing in this process is told.
    elsewhere = Endpoint(name="Elsewhere", url=URL)
    elsewhere.set_secret(webhooks.new_secret())
    Endpoint.objects.bulk_create([elsewhere])  # no signal here: it is another process's
    move(completion, "completed", django_capture_on_commit_callbacks)
    assert not Delivery.objects.exists()  # this process still trusts its "none"
    events.KEPT.committed()  # what the other process's save does, at its commit
    move(completion, "revoked", django_capture_on_commit_callbacks)
    assert Delivery.objects.count() == 1


def test_on_a_cache_each_process_keeps_for_itself_every_event_reads_the_table(
    completion, endpoint_to, django_capture_on_commit_callbacks
):
    # The local-memory cache (the default): a web process's version is never seen by the
    # task worker, so nothing is kept and another process's new endpoint hears at once.
    move(completion, "failed", django_capture_on_commit_callbacks)
    elsewhere = Endpoint(name="Elsewhere", url=URL)
    elsewhere.set_secret(webhooks.new_secret())
    Endpoint.objects.bulk_create([elsewhere])  # no signal: another process's save
    move(completion, "completed", django_capture_on_commit_callbacks)
    assert Delivery.objects.count() == 1


def test_a_cache_that_fails_costs_the_query_not_the_move(
    shared_cache, completion, endpoint_to, django_capture_on_commit_callbacks, monkeypatch
):
    endpoint_to(URL)

    def down(*args, **kwargs):
        raise ConnectionError("Redis is restarting")

    monkeypatch.setattr(caches["default"], "get", down)
    move(completion, "completed", django_capture_on_commit_callbacks)  # does not raise
    assert Delivery.objects.count() == 1


@pytest.mark.parametrize("endpoints", [1, 4])
def test_the_cost_of_an_event_does_not_grow_with_the_endpoints(
    completion, endpoint_to, endpoints, django_capture_on_commit_callbacks
):
    for n in range(endpoints):
        endpoint_to(URL, name=f"Site {n}")
    with CaptureQueriesContext(connection) as queries:
        move(completion, "completed", django_capture_on_commit_callbacks)
    assert Delivery.objects.count() == endpoints
    # The move's own queries, then ours: endpoints, the completion with its claim and
    # member, the host id, the rows in one insert, and one task queued per row.
    ours = [q["sql"] for q in queries.captured_queries if "webhooks_" in q["sql"]]
    assert len(ours) == 2  # endpoints read, deliveries inserted
    assert sum("socialaccount" in q["sql"] for q in queries.captured_queries) == 1
    reads = [q for q in queries.captured_queries if 'FROM "claims_completion"' in q["sql"]]
    assert len(reads) == 1


def test_account_health_changed_carries_the_contracts_keys_and_no_email(
    apps, member, endpoint_to, django_capture_on_commit_callbacks
):
    SocialAccount.objects.create(user=member, provider=PROVIDER_ID, uid="host-0001")
    account = ConnectedAccount.objects.create(
        member=member, app=apps["github"], pipedream_id="apn_abc123", name="octo"
    )
    endpoint_to(URL)
    with django_capture_on_commit_callbacks(execute=True):  # as connections sends it
        account_health_changing.send(
            sender=ConnectedAccount,
            account=account,
            member=member,
            previous="healthy",
            current="dead",
        )
    [body] = bodies()
    assert set(body) == {"type", "timestamp", "data"}
    assert body["data"] == {
        "id": "apn_abc123",
        "app": "github",
        "health": "dead",
        "previous_health": "healthy",
        "connected_at": body["data"]["connected_at"],
        "member": {"host_id": "host-0001", "external_id": str(member.external_id)},
    }
    assert body["data"]["connected_at"].endswith("Z")
    with django_capture_on_commit_callbacks(execute=True):
        member.delete()
    for row in Delivery.objects.all():  # nothing of the member but their two ids
        assert member.email not in row.body and member.username not in row.body


def test_a_round_completing_fifty_members_costs_the_same_few_queries_each(
    make_claim, django_user_model, endpoint_to, django_capture_on_commit_callbacks
):
    """A re-check round that completes 50 members, in one transaction: each event costs
    the same few queries (its endpoints, the completion with its claim and member, the
    host id, one insert of its messages, one task per message), whatever came before."""
    endpoint_to(URL, name="Site")
    endpoint_to(URL, name="Backup")
    claim = make_claim("github-starter")
    people = django_user_model.objects.bulk_create(
        django_user_model(username=f"m{n:02d}", email=f"m{n:02d}@example.com") for n in range(50)
    )
    SocialAccount.objects.bulk_create(
        SocialAccount(user=person, provider=PROVIDER_ID, uid=f"host-{n}")
        for n, person in enumerate(people[:25])
    )
    rows = Completion.objects.bulk_create(
        Completion(claim=claim, member=person, state="delivering", address="bb1x")
        for person in people
    )
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        for row in rows:
            Completion.objects.filter(pk=row.pk).update(state="completed")
            ledger.event(
                row,
                "delivering",
                "completed",
                Actor.system("test"),
                CompletionEvent.Reason.DELIVERED,
            )
    sql = [q["sql"] for q in queries.captured_queries]
    assert Delivery.objects.count() == 100
    assert sum(q.startswith("SELECT") for q in sql) == 150  # the three below, nothing else
    assert sum('"webhooks_endpoint"' in q and q.startswith("SELECT") for q in sql) == 50
    assert sum(q.startswith('INSERT INTO "webhooks_delivery"') for q in sql) == 50
    assert sum(q.startswith("SELECT") and 'FROM "claims_completion"' in q for q in sql) == 50
    assert sum("socialaccount" in q for q in sql) == 50
    assert sum(q.startswith('INSERT INTO "django_tasks_database') for q in sql) == 100
    hosts = [json.loads(row.body)["data"]["member"]["host_id"] for row in Delivery.objects.all()]
    assert sum(host is not None for host in hosts) == 50  # 25 members, two endpoints each

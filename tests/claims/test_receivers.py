"""Connections' signals ask the claims engine for checks (claims/receivers.py).

connections sends its signals on commit; here they are sent directly, and the task each
request queues (itself on commit) is let through by django_capture_on_commit_callbacks.
"""

import datetime

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from claims.models import Claim, Completion, CompletionEvent
from connections.models import App, ConnectedAccount
from connections.signals import account_connected, account_disconnected, account_health_changed
from tests.claims.claims_support import require

pytestmark = pytest.mark.django_db

State = Completion.State


@pytest.fixture
def github():
    return App.objects.create(slug="github", name="GitHub", enabled=True)


@pytest.fixture
def discord():
    return App.objects.create(slug="discord", name="Discord", enabled=True)


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob")


@pytest.fixture
def claims(github, discord):
    """github-a and github-b need GitHub (b also Discord); retired needs GitHub but is
    disabled; discord-only needs Discord."""

    def make(slug, apps, enabled=True):
        claim = Claim(slug=slug, name=slug, enabled=enabled, delivery="dynamic_store", store_id="s")
        claim.set_store_secret("x")
        claim.save()
        require(claim, *apps)
        return claim

    return {
        "github-a": make("github-a", [github]),
        "github-b": make("github-b", [github, discord]),
        "retired": make("retired", [github], enabled=False),
        "discord-only": make("discord-only", [discord]),
    }


@pytest.fixture
def alices_github(member, github):
    return ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_alice")


def queued_ids() -> list[int]:
    return sorted(
        args["args"][0]
        for args in DBTaskResult.objects.filter(
            task_path="claims.tasks.completion_process_task"
        ).values_list("args_kwargs", flat=True)
    )


def slugs_of(member) -> dict[str, str]:
    return dict(Completion.objects.filter(member=member).values_list("claim__slug", "state"))


def send_connected(account, member, **extra):
    account_connected.send(
        sender=ConnectedAccount, account=account, member=member, created=True, session=None, **extra
    )


def test_connecting_an_account_queues_each_enabled_claim_needing_that_app(
    member, alices_github, claims, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send_connected(alices_github, member)

    assert slugs_of(member) == {"github-a": State.WAITING, "github-b": State.WAITING}
    completions = Completion.objects.filter(member=member)
    assert queued_ids() == sorted(completion.pk for completion in completions)
    for completion in completions:
        assert completion.next_attempt_at is not None
        assert completion.next_attempt_at <= timezone.now()
        event = CompletionEvent.objects.get(completion=completion)
        assert (event.from_state, event.to_state, event.actor_display()) == (
            "",
            State.WAITING,
            "signal: account connected",
        )


def test_nothing_is_queued_when_no_enabled_claim_needs_the_app(
    member, claims, github, django_capture_on_commit_callbacks
):
    slack = App.objects.create(slug="slack", name="Slack")
    account = ConnectedAccount.objects.create(member=member, app=slack, pipedream_id="apn_s")
    with django_capture_on_commit_callbacks(execute=True):
        send_connected(account, member)
    assert not Completion.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_only_the_connecting_member_is_queued(
    member, bob, alices_github, claims, django_capture_on_commit_callbacks
):
    bobs = Completion.objects.create(claim=claims["github-a"], member=bob, state=State.INELIGIBLE)
    with django_capture_on_commit_callbacks(execute=True):
        send_connected(alices_github, member)
    bobs.refresh_from_db()
    assert bobs.state == State.INELIGIBLE
    assert bobs.pk not in queued_ids()


def test_a_reconnect_signal_is_handled_like_a_connect(
    member, alices_github, claims, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        account_connected.send(
            sender=ConnectedAccount,
            account=alices_github,
            member=member,
            created=False,
            session=None,
        )
    assert set(slugs_of(member)) == {"github-a", "github-b"}


@pytest.mark.parametrize(("previous", "current"), [("healthy", "dead"), ("dead", "healthy")])
def test_a_health_change_queues_the_same_checks(
    member, alices_github, claims, previous, current, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        account_health_changed.send(
            sender=ConnectedAccount,
            account=alices_github,
            member=member,
            previous=previous,
            current=current,
        )
    assert slugs_of(member) == {"github-a": State.WAITING, "github-b": State.WAITING}
    assert len(queued_ids()) == 2
    assert set(CompletionEvent.objects.values_list("actor_kind", "actor_detail")) == {
        ("signal", f"account {current}")
    }


def test_a_disconnect_queues_checks_too(member, claims, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        account_disconnected.send(
            sender=ConnectedAccount, member=member, app_slug="discord", pipedream_id="apn_gone"
        )
    assert slugs_of(member) == {"github-b": State.WAITING, "discord-only": State.WAITING}
    assert set(CompletionEvent.objects.values_list("actor_kind", "actor_detail")) == {
        ("signal", "account disconnected")
    }


def test_a_completed_completion_stays_completed(
    member, alices_github, claims, django_capture_on_commit_callbacks
):
    done_at = timezone.now()
    done = Completion.objects.create(
        claim=claims["github-a"], member=member, state=State.COMPLETED, completed_at=done_at
    )
    with django_capture_on_commit_callbacks(execute=True):
        send_connected(alices_github, member)
    done.refresh_from_db()
    assert (done.state, done.completed_at) == (State.COMPLETED, done_at)
    assert not CompletionEvent.objects.filter(completion=done).exists()
    assert done.pk not in queued_ids()
    assert slugs_of(member)["github-b"] == State.WAITING


def test_an_ineligible_completion_is_checked_again_from_scratch(
    member, alices_github, claims, django_capture_on_commit_callbacks
):
    before = Completion.objects.create(
        claim=claims["github-a"], member=member, state=State.INELIGIBLE, attempts=4
    )
    with django_capture_on_commit_callbacks(execute=True):
        send_connected(alices_github, member)
    before.refresh_from_db()
    assert (before.state, before.attempts) == (State.WAITING, 0)
    assert before.pk in queued_ids()
    event = CompletionEvent.objects.get(completion=before)
    assert (event.from_state, event.to_state) == (State.INELIGIBLE, State.WAITING)


def test_a_retry_keeps_its_backoff(
    member, alices_github, claims, django_capture_on_commit_callbacks
):
    later = timezone.now() + datetime.timedelta(minutes=10)
    retrying = Completion.objects.create(
        claim=claims["github-a"],
        member=member,
        state=State.RETRYING,
        attempts=2,
        next_attempt_at=later,
    )
    with django_capture_on_commit_callbacks(execute=True):
        send_connected(alices_github, member)
    retrying.refresh_from_db()
    assert (retrying.state, retrying.attempts, retrying.next_attempt_at) == (
        State.RETRYING,
        2,
        later,
    )
    assert retrying.pk not in queued_ids()


def test_a_completion_a_worker_holds_is_left_alone(
    member, alices_github, claims, django_capture_on_commit_callbacks
):
    held = Completion.objects.create(
        claim=claims["github-a"],
        member=member,
        state=State.DELIVERING,
        lease_expires_at=timezone.now() + datetime.timedelta(minutes=5),
    )
    with django_capture_on_commit_callbacks(execute=True):
        send_connected(alices_github, member)
    held.refresh_from_db()
    assert held.state == State.DELIVERING
    assert held.pk not in queued_ids()


def test_the_same_signal_twice_keeps_one_row_per_claim(
    member, alices_github, claims, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send_connected(alices_github, member)
        send_connected(alices_github, member)
    assert Completion.objects.filter(member=member).count() == 2
    assert set(slugs_of(member).values()) == {State.WAITING}

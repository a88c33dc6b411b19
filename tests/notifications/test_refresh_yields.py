"""A fresh-health refresh (connections' accounts_refresh_task, queued by page opens) never
delays a notification send: the worker takes the send first, and while Pipedream hangs
a refresh gives up within its short budget and the next ones fail at once (breaker)."""

import socket
import time

import pytest
from django_tasks_db.models import DBTaskResult

from connections import tasks as connections_tasks
from notifications.tasks import notifications_send_task

pytestmark = pytest.mark.django_db


def test_a_send_queued_after_refreshes_runs_before_them(member):
    for _ in range(3):
        connections_tasks.accounts_refresh_task.enqueue(member.pk)
    send = notifications_send_task.enqueue(member.pk)
    first = DBTaskResult.objects.ready().first()
    assert first is not None and str(first.pk) == send.id


@pytest.fixture
def hanging_pipedream(settings):
    """Pipedream's address on a port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings.PIPEDREAM_API_URL = settings.PIPEDREAM_CONNECT_URL = url
    yield
    listener.close()


def test_a_refresh_gives_up_within_its_budget_while_pipedream_hangs(
    member, hanging_pipedream, monkeypatch
):
    monkeypatch.setattr(connections_tasks, "REFRESH_BUDGET", 1.0)
    started = time.monotonic()
    assert connections_tasks.accounts_refresh_task.call(member.pk) == "failed"
    assert time.monotonic() - started < 4
    started = time.monotonic()
    assert connections_tasks.accounts_refresh_task.call(member.pk) == "failed"
    assert time.monotonic() - started < 0.5  # the breaker: not even tried

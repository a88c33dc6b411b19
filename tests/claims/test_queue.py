"""claims/queue.py: the engine's tasks, provided by claims/tasks.py at app-ready.

A task the backend will not take is logged and never raised into the work that asked
for it (complete_claims finds what is due); a missing task is a wiring mistake and
stops the app from starting."""

import logging

import pytest
from django.core.exceptions import ImproperlyConfigured

from claims import queue, tasks


class Refusing:
    """A task whose backend refuses every enqueue."""

    def using(self, **kwargs):
        return self

    def enqueue(self, *args):
        raise ConnectionError("the queue is down")


def test_every_task_the_engine_queues_is_provided_when_the_app_is_ready():
    queue.require_all()  # ClaimsConfig.ready ran it; it still holds
    assert queue._tasks["process"] is tasks.completion_process_task
    assert queue._tasks["trigger_remove"] is tasks.trigger_remove_task


def test_a_missing_task_stops_the_app_with_its_name(monkeypatch):
    monkeypatch.delitem(queue._tasks, "trigger_event")
    with pytest.raises(ImproperlyConfigured, match="trigger_event"):
        queue.require_all()
    with pytest.raises(ImproperlyConfigured, match="trigger_event"):
        queue.trigger_event(1)


def test_an_unknown_task_name_is_refused():
    with pytest.raises(ImproperlyConfigured, match="Unknown claims task name"):
        queue.provide(procss=tasks.completion_process_task)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("process", lambda: queue.process(7)),
        ("process_batch", lambda: queue.process_many([7])),
        ("pause_probe", lambda: queue.pause_probe(None)),
        ("trigger_event", lambda: queue.trigger_event(7)),
        ("trigger_remove", lambda: queue.trigger_remove(7)),
    ],
)
def test_a_task_the_backend_refuses_is_logged_not_raised(monkeypatch, caplog, name, call):
    monkeypatch.setitem(queue._tasks, name, Refusing())
    with caplog.at_level(logging.ERROR, logger="claims.queue"):
        call()  # outside a transaction, on_commit runs at once
    [record] = [r for r in caplog.records if r.name == "claims.queue"]
    assert "the queue is down" in record.exc_text

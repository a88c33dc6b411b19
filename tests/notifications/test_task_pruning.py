"""Finished task rows (every notification send, every fresh-health refresh adds one) are
pruned: the scheduler's hourly step runs django_tasks_db's prune_db_task_results, and
what it runs deletes an old finished row and keeps a recent one."""

import datetime
import re
import shlex
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from notifications.tasks import notifications_sweep_task

pytestmark = pytest.mark.django_db(transaction=True)

PROCFILE = Path(__file__).resolve().parents[2] / "Procfile.scaled"


def _hourly_commands() -> list[list[str]]:
    scheduler = next(
        line for line in PROCFILE.read_text().splitlines() if line.startswith("scheduler:")
    )
    hourly = re.findall(r"\[ \$\(\(i % 60\)\) -eq 0 \] && ([^;]+);", scheduler)
    return [shlex.split(step) for step in hourly]


def test_the_hourly_step_prunes_old_finished_tasks(worker):
    commands = _hourly_commands()
    assert ["python", "manage.py", "prune_records", "-v", "0"] in commands
    prune = next((c for c in commands if c[2:3] == ["prune_db_task_results"]), None)
    assert prune is not None, commands
    old, recent = (notifications_sweep_task.enqueue() for _ in range(2))
    worker()
    assert DBTaskResult.objects.finished().count() == 2
    DBTaskResult.objects.filter(pk=old.id).update(
        finished_at=timezone.now() - datetime.timedelta(days=30)
    )
    call_command(*prune[2:])
    assert not DBTaskResult.objects.filter(pk=old.id).exists()
    assert DBTaskResult.objects.filter(pk=recent.id).exists()

"""Work the engine asks to be done later, without importing the tasks that do it.

claims/tasks.py runs the engine, so the engine cannot import it back. Instead the tasks
module hands its tasks to `provide()` when it is loaded (ClaimsConfig.ready loads it in
every process, and checks with `require_all()` that every task is there), and the engine
and its neighbours (pause, triggers) queue through the functions below. A task the
backend will not take is logged, never raised into the work that asked for it:
`manage.py complete_claims` (the cron) finds whatever is due.
"""

import datetime
import logging

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

logger = logging.getLogger(__name__)

_tasks: dict = {}
NAMES = ("process", "process_batch", "pause_probe", "trigger_event", "trigger_remove")

# Completions queued together (a claim enabled) go this many to a task at most, and over
# at least BATCH_SPREAD tasks when there are enough of them, so that every worker gets
# some: a task's queue rows and the claim's requirements are then read once per batch.
BATCH_SIZE = 10
BATCH_SPREAD = 8


def provide(**tasks) -> None:
    """Called once by claims/tasks.py with its Task objects, by the names in NAMES."""
    unknown = set(tasks) - set(NAMES)
    if unknown:
        raise ImproperlyConfigured(f"Unknown claims task name(s): {', '.join(sorted(unknown))}")
    _tasks.update(tasks)


def require_all() -> None:
    """Every task the engine queues has been provided (ClaimsConfig.ready calls this)."""
    missing = [name for name in NAMES if name not in _tasks]
    if missing:
        raise ImproperlyConfigured(
            f"claims/tasks.py did not provide the task(s) {', '.join(missing)} to claims/queue.py."
        )


def _task(name: str, run_after: datetime.datetime | None = None):
    try:
        task = _tasks[name]
    except KeyError:
        raise ImproperlyConfigured(
            f"No {name!r} task: claims/tasks.py provides it when the claims app is ready."
        ) from None
    return task.using(run_after=run_after) if run_after is not None else task


def process(completion_id: int, run_after: datetime.datetime | None = None) -> None:
    """Process the completion (at `run_after`, or now), once this transaction commits."""
    task = _task("process", run_after)

    def send():
        try:
            task.enqueue(completion_id)
        except Exception:  # the cron command picks it up; never lose the request
            logger.exception("Could not enqueue completion %s; complete_claims will", completion_id)

    transaction.on_commit(send)


def process_many(completion_ids: list[int]) -> None:
    """Process these completions (now), in batches of a few per task, once this
    transaction commits."""
    if not completion_ids:
        return
    task = _task("process_batch")
    size = max(1, min(BATCH_SIZE, -(-len(completion_ids) // BATCH_SPREAD)))
    batches = [completion_ids[i : i + size] for i in range(0, len(completion_ids), size)]

    def send():
        for batch in batches:
            try:
                task.enqueue(batch)
            except Exception:  # the cron command picks them up; never lose the request
                logger.exception("Could not enqueue completions %s; complete_claims will", batch)

    transaction.on_commit(send)


def pause_probe(run_after: datetime.datetime) -> None:
    """Check at `run_after` whether the delivery pause is over."""
    task = _task("pause_probe", run_after)
    try:
        task.enqueue()
    except Exception:  # complete_claims (the cron) probes too
        logger.exception("Could not schedule the delivery pause probe; complete_claims will")


def trigger_event(delivery_id: int, run_after: datetime.datetime | None = None) -> None:
    """Act on a trigger delivery (at `run_after`, or now)."""
    task = _task("trigger_event", run_after)
    try:
        task.enqueue(delivery_id)
    except Exception:
        logger.exception("Trigger delivery %s: could not enqueue its check", delivery_id)


def trigger_remove(deployment_id: int) -> None:
    """Remove a trigger deployment from Pipedream. A deployment left behind only sends
    events that ask for a check of a completed claim, which changes nothing."""
    task = _task("trigger_remove")
    try:
        task.enqueue(deployment_id)
    except Exception:
        logger.exception("Trigger deployment %s: could not enqueue its removal", deployment_id)

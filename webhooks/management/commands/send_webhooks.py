"""Send the host site's webhook messages no task worker took: for the scheduler, each minute.

A message waits for the worker; one still waiting a minute after its time (the worker
stopped, or its task could not be queued) is tried here, until the pass has spent
WEBHOOK_PASS_BUDGET seconds (each try is cut at what is left; the rest wait for the
next pass). A try that fails is queued for the worker at its next time, as the
worker's own tries are. Delivered and failed messages older than WEBHOOK_LOG_DAYS
leave the delivery log, at most PRUNE_BATCH a pass.
"""

import datetime
import logging
from time import monotonic

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from webhooks import sending, tasks
from webhooks.models import Delivery

logger = logging.getLogger(__name__)

GRACE = datetime.timedelta(seconds=60)
PRUNE_BATCH = 1000  # old rows deleted a pass (each is loaded to cascade); the rest next pass


class Command(BaseCommand):
    help = (
        "Send the host site's webhook messages that no task worker took within a minute of "
        "their time, for at most WEBHOOK_PASS_BUDGET seconds. Run it every minute."
    )

    def handle(self, *args, **options):
        deadline = monotonic() + max(0.0, float(settings.WEBHOOK_PASS_BUDGET))
        sent = left = failed = 0
        for delivery_id in sending.due(timezone.now(), GRACE):
            budget = deadline - monotonic()
            if budget <= 0:
                left += 1
                continue
            try:
                again = sending.attempt(delivery_id, budget=budget)
            except Exception:  # one message the pass cannot try never stops the rest
                logger.exception("Webhook delivery %s: the pass could not try it", delivery_id)
                failed += 1
                continue
            if again is not None:
                tasks.enqueue(delivery_id, again)
            sent += 1
        kept_since = timezone.now() - datetime.timedelta(days=settings.WEBHOOK_LOG_DAYS)
        old = Delivery.objects.exclude(state=Delivery.State.PENDING)
        oldest = old.filter(created_at__lt=kept_since).order_by("pk")[:PRUNE_BATCH]
        doomed = Delivery.objects.filter(pk__in=list(oldest.values_list("pk", flat=True)))
        pruned = doomed.delete()[1].get("webhooks.Delivery", 0)
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"{sent} webhook message(s) tried"
                + (f", {left} left for the next pass (time spent)" if left else "")
                + (f", {failed} could not be tried (see the log)" if failed else "")
                + (f", {pruned} old row(s) deleted from the log" if pruned else "")
            )

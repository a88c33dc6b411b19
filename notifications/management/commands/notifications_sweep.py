"""Pick up notification rows a lost task or a killed worker left behind, and delete old
ones (notifications/sweep.py). Run it from cron every few minutes."""

from django.core.management.base import BaseCommand

from notifications.tasks import sweep_and_queue


class Command(BaseCommand):
    help = "Queue sends for stuck or late notifications; delete rows past their retention."

    def handle(self, *args, **options):
        self.stdout.write(str(sweep_and_queue()))

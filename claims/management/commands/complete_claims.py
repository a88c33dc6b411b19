"""Run the claim completions that are due: for cron, and for an operator's look.

The task worker runs completions as they are requested; this command is the safety net
(a lost task, a retry whose time has come, a worker that died mid-way) and a way to see
what a claim would do: `complete_claims --claim C --dry-run` evaluates every member
without delivering or writing anything.
"""

import re

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from claims import pause, services
from claims.audit import Actor
from claims.models import Claim

SLUG = re.compile(r"[-a-zA-Z0-9_]{1,80}")


def claim_lookup(value: str) -> Claim:
    value = (value or "").strip()
    if not value:
        raise CommandError("--claim needs a claim's slug or number.")
    lookup = Q(pk__in=[])
    if SLUG.fullmatch(value):  # nothing else can be a slug (NUL would upset PostgreSQL)
        lookup |= Q(slug=value)
    if value.isascii() and value.isdigit():  # "²" is a digit to isdigit() but not to int()
        lookup |= Q(pk=int(value))
    claim = Claim.objects.filter(lookup).first()
    if claim is None:
        known = ", ".join(Claim.objects.order_by("slug").values_list("slug", flat=True)[:20])
        raise CommandError(f"No claim {value!r}. Known claims: {known or 'none yet'}.")
    return claim


COMMAND = Actor.command("complete_claims")


class Command(BaseCommand):
    help = (
        "Process claim completions that are due (suitable for cron): retries whose time "
        "has come, requests whose task was lost, and work a dead worker left behind. Also "
        "queues members who already qualify for an enabled claim but were never checked. "
        "--claim C limits it to one claim; --dry-run evaluates every member for that claim "
        "and delivers nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--claim", help="A claim's slug or number.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="With --claim: show who would qualify and why the others do not; change nothing.",
        )
        parser.add_argument("--limit", type=int, help="Process at most N due completions.")

    def handle(self, *args, claim=None, dry_run=False, limit=None, **options):
        if limit is not None and limit < 1:
            raise CommandError("--limit must be a positive number.")
        target = claim_lookup(claim) if claim is not None else None
        if dry_run:
            if target is None:
                raise CommandError("--dry-run needs --claim C: it evaluates one claim.")
            self._dry_run(target)
            return
        # Deliveries paused on BitBadges' credits: is it time to look again? (The probe's
        # own task does this too; this is the net if that task was lost.)
        probed = pause.probe()
        if probed.state == "resumed":
            self.stdout.write(
                f"BitBadges answers again: {probed.resumed} paused completion(s) queued."
            )
        elif probed.state == "still paused":
            self.stdout.write(
                self.style.WARNING("Deliveries through BitBadges are paused: out of credits.")
            )
        claims = [target] if target else list(Claim.objects.enabled())
        discovered = sum(services.claim_discover(claim=item, actor=COMMAND) for item in claims)
        due = list(services.completions_due(claim=target, limit=limit).values_list("pk", flat=True))
        outcomes: dict[str, int] = {}
        for completion_id in due:
            completion = services.completion_process(completion_id, actor=COMMAND)
            if completion is None:
                continue
            outcomes[completion.state] = outcomes.get(completion.state, 0) + 1
            who = completion.member.username if completion.member else "(deleted member)"
            line = f"{completion.claim.slug} · {who}: {completion.state}"
            if completion.reason and completion.state != completion.State.COMPLETED:
                line += f" — {completion.reason}"
            self.stdout.write(line)
        summary = ", ".join(f"{count} {state}" for state, count in sorted(outcomes.items()))
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(due)} due completion(s) processed{': ' + summary if summary else ''}; "
                f"{discovered} newly queued."
            )
        )

    def _dry_run(self, claim: Claim):
        report = services.claim_dry_run(claim=claim)
        state = "enabled" if claim.enabled else "disabled"
        self.stdout.write(
            f"Dry run of {claim.slug} ({state}, delivery {claim.delivery}): nothing is delivered."
        )
        for member, _evaluation, note in report.rows:
            self.stdout.write(f"  {member.username}: {note}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{report.members} member(s): {report.qualify} would qualify, "
                f"{report.completed} already completed, "
                f"{report.members - report.qualify - report.completed} would not."
            )
        )
        for reason, count in report.reasons.most_common():
            self.stdout.write(f"  {count} × {reason}")

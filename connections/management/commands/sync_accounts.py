"""Bring members' connected accounts in line with Pipedream (new, changed, gone, health).

Pipedream is the source of truth for accounts: a member can remove one there, and an
account can go unhealthy at any time. Run it for one member, or for everyone from
cron (`sync_accounts --all`) as the health poll.
"""

from django.core.management.base import BaseCommand, CommandError

from connections import services
from connections.management.commands._members import member_lookup
from connections.selectors import members_to_poll


class Command(BaseCommand):
    help = (
        "Sync connected accounts with Pipedream: add new ones, refresh names and health, "
        "remove those gone upstream. Use --user U for one member or --all for everyone "
        "with accounts (suitable for cron; it also processes connection webhooks whose "
        "task was lost); --dry-run shows what would change."
    )

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group()
        who.add_argument("--user", help="The member's username or email.")
        who.add_argument(
            "--all", action="store_true", help="Every member who has connected accounts."
        )
        parser.add_argument(
            "--limit", type=int, help="With --all: only the N least recently synced members."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would change; write nothing."
        )

    def handle(self, *args, user=None, all=False, limit=None, dry_run=False, **options):
        if not user and not all:
            raise CommandError("Name a member with --user U, or sync everyone with --all.")
        if limit is not None and limit < 1:
            raise CommandError("--limit must be a positive number.")
        members = [member_lookup(user)] if user else list(members_to_poll(limit))
        verb = "would" if dry_run else "did"
        totals = dict(members=0, failed=0, created=0, updated=0, removed=0, health_changed=0)
        for member in members:
            totals["members"] += 1
            try:
                result = services.accounts_sync(member=member, dry_run=dry_run)
            except services.UpstreamError as exc:
                totals["failed"] += 1
                self.stderr.write(f"{member.username}: not synced: {exc.cause}")
                if user:
                    raise CommandError(str(exc)) from exc
                continue
            for key in ("created", "updated", "removed", "health_changed"):
                totals[key] += len(getattr(result, key))
            if all or options.get("verbosity", 1) >= 1:
                self.stdout.write(f"{member.username}: {result}")
        summary = (
            f"{totals['members']} member(s) {'checked' if dry_run else 'synced'}"
            f"{f', {totals["failed"]} failed' if totals['failed'] else ''}: "
            f"{totals['created']} new, {totals['updated']} updated, {totals['removed']} removed, "
            f"{totals['health_changed']} changed health"
            + (f" ({verb} change; dry run, nothing written)" if dry_run else "")
        )
        if all and not dry_run:
            self._upkeep(limit)
        style = self.style.WARNING if totals["failed"] else self.style.SUCCESS
        self.stdout.write(style(summary))
        if totals["failed"] and totals["failed"] == totals["members"]:
            raise CommandError("No member could be synced: Pipedream is failing.")

    def _upkeep(self, limit) -> None:
        done = services.upkeep(limit)
        if done.sessions_expired:
            self.stdout.write(f"{done.sessions_expired} unused connect session(s) marked expired.")
        if done.site_sync_failed:
            self.stderr.write(f"The site's own accounts were not read: {done.site_sync_failed}")
        elif done.site_apps_changed:
            self.stdout.write(
                f"The site's own accounts of {done.site_apps_changed} app(s) changed: their "
                "claims' shared triggers follow."
            )
        if done.replaced_deleted:
            self.stdout.write(
                f"{done.replaced_deleted} account(s) replaced by a reconnect deleted at Pipedream."
            )
        if done.webhooks_processed:
            self.stdout.write(
                f"{done.webhooks_processed} connection webhook(s) left unprocessed by a lost "
                f"task: {done.webhooks_settled} settled now."
            )

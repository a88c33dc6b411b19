"""Make a link a member can open to connect an app: printed, or emailed to them.

Pipedream's own Connect tokens die after 4 hours and one use, too soon for an email.
This link is ours, encrypted, spent once it has connected an account, and expiring after
CONNECT_EMAILED_LINK_HOURS (72 by default) at most; opening it mints a fresh Connect
token at that moment and continues on Pipedream's hosted page.
"""

import datetime
import re

from django.core.mail import send_mail
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from branding.selectors import brand_current
from connections import services
from connections.management.commands._members import member_lookup
from connections.models import App, ConnectedAccount

UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def _shown(delta: datetime.timedelta) -> str:
    """A lifetime as the option takes it: 3d, 12h or 30m."""
    minutes = int(delta.total_seconds() // 60)
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def parse_duration(text: str) -> datetime.timedelta:
    match = re.fullmatch(r"\s*(\d{1,5})\s*([mhd])\s*", text or "")
    if not match:
        raise CommandError(
            f"--expires must be a number and a unit, such as 30m, 12h or 7d, not {text!r}."
        )
    delta = datetime.timedelta(**{UNITS[match[2]]: int(match[1])})
    if delta <= datetime.timedelta(0):
        raise CommandError("--expires must be longer than zero.")
    longest = services.emailed_link_lifetime()
    if delta > longest:
        raise CommandError(
            f"--expires can be at most {_shown(longest)} (CONNECT_EMAILED_LINK_HOURS); "
            f"{text.strip()} is longer."
        )
    return delta


class Command(BaseCommand):
    help = (
        "Print (or --email) a signed link that lets a member connect an app: "
        "--user alice --app github [--expires 12h]. Durations: 30m, 12h, 3d; at most "
        "CONNECT_EMAILED_LINK_HOURS, the default."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="The member's username or email.")
        parser.add_argument("--app", required=True, help="The app's slug, e.g. github.")
        parser.add_argument(
            "--expires",
            help="How long the link works, e.g. 12h (by default and at most: "
            "CONNECT_EMAILED_LINK_HOURS).",
        )
        parser.add_argument(
            "--email", action="store_true", help="Email the link to the member as well."
        )
        parser.add_argument(
            "--account",
            metavar="ID",
            help="Reconnect this account of theirs in place (its Pipedream ID, apn_..., or "
            "the site's number for it), e.g. one that stopped working.",
        )

    def handle(self, *args, user, app, expires=None, email=False, account=None, **options):
        lifetime = services.emailed_link_lifetime() if expires is None else parse_duration(expires)
        member = member_lookup(user)
        found = App.objects.filter(slug=(app or "").strip()).first()
        if found is None:
            raise CommandError(f"No app {app!r}; sync_apps --enable {app} adds it.")
        if not found.enabled:
            raise CommandError(
                f"{found.name} is not enabled, so members cannot connect it; "
                "enable it in the admin or with sync_apps --enable."
            )
        if email and not member.email:
            raise CommandError(f"{member.username} has no email address; print the link instead.")
        reconnect = _account_of(member, found, account) if account is not None else None
        link = services.emailed_link_make(
            member=member, app=found, expires=lifetime, reconnect_account=reconnect
        )
        if email:
            brand = brand_current()
            words = {"app": found.name, "email": brand.support_email, "lifetime": _shown(lifetime)}
            if reconnect is not None:
                subject = _("Reconnect your %(app)s account") % words
                open_link = _("Open this link to reconnect your %(app)s account:") % words
            else:
                subject = _("Connect your %(app)s account") % words
                open_link = _("Open this link to connect your %(app)s account:") % words
            support = (
                _("Questions? Write to %(email)s") % words + "\n" if brand.support_email else ""
            )
            hello = _("Hello %(name)s,") % {"name": member.get_short_name() or member.username}
            send_mail(
                subject=subject,
                message=(
                    f"{hello}\n\n{open_link}\n\n{link}\n\n"
                    + _("It works once, for %(lifetime)s.") % words
                    + f"\n\n{brand.name}\n{support}"
                ),
                from_email=brand.from_email,
                recipient_list=[member.email],
            )
            self.stdout.write(self.style.SUCCESS(f"Emailed the link to {member.email}."))
        self.stdout.write(link)


def _account_of(member, app: App, given: str) -> ConnectedAccount:
    """The member's account of `app` named by its Pipedream ID or the site's number."""
    given = (given or "").strip()
    accounts = ConnectedAccount.objects.filter(member=member, app=app)
    found = (
        accounts.filter(pk=int(given)).first()
        if given.isdigit() and len(given) < 19
        else accounts.filter(pipedream_id=given).first()
    )
    if found is None:
        names = ", ".join(f"{a.pipedream_id} ({a.name or 'no name'})" for a in accounts[:10])
        raise CommandError(
            f"{member.username} has no {app.name} account {given[:100]!r}"
            + (f"; theirs: {names}." if names else f"; they have no {app.name} account at all.")
        )
    return found

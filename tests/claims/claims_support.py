"""Helpers for the claims tests and the suites built on them (attack, faults)."""

import secrets

from django.core.management import call_command

from claims.models import Requirement
from core.addresses import eth_checksum

ALICE_ADDRESS = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"


def random_address() -> str:
    return eth_checksum(secrets.token_hex(20))


def run_worker():
    """The real task worker, once through the queue (it closes its connection after).

    Its options as on the command line: call_command's keyword no_startup_delay=True
    would set the option's dest, startup_delay, to True, and each run would first sleep
    up to a second (db_worker's thundering-herd delay)."""
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def only(demo_claims, slug):
    """The demo claim `slug`, the others switched off (saved, as staff would)."""
    for other_slug, claim in demo_claims.items():
        if other_slug != slug:
            claim.enabled = False
            claim.save()
    return demo_claims[slug]


# --- Requirements ---------------------------------------------------------------------

CHECK_FIELDS = ("action", "props", "proxy_url", "path", "comparison", "value", "text")


def require(claim, *apps, group="all"):
    """Add to `claim` a requirement of a healthy account of each app, in order."""
    start = claim.requirements.count()
    return [
        Requirement.objects.create(claim=claim, app=app, group=group, position=start + i)
        for i, app in enumerate(apps)
    ]


def add_check(claim, app, *, group="all", identity_path="", **fields):
    """Add to `claim` a requirement checking `app`'s account: an action (`action=`,
    `props=`) or a proxy read (`proxy_url=`), with `path`, `comparison`, `value`, `text`."""
    unknown = set(fields) - set(CHECK_FIELDS)
    assert not unknown, f"not a requirement field: {unknown}"
    kind = Requirement.Kind.PROXY if fields.get("proxy_url") else Requirement.Kind.ACTION
    return Requirement.objects.create(
        claim=claim,
        app=app,
        group=group,
        kind=kind,
        identity_path=identity_path,
        position=claim.requirements.count(),
        **fields,
    )

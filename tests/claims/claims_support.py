"""Helpers for the claims tests and the suites built on them (attack, faults)."""

import secrets

from django.core.management import call_command

from core.addresses import eth_checksum

ALICE_ADDRESS = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"


def random_address() -> str:
    return eth_checksum(secrets.token_hex(20))


def run_worker():
    """The real task worker, once through the queue (it closes its connection after)."""
    call_command("db_worker", batch=True, no_startup_delay=True, verbosity=0)

"""Many requests at once: a claim number is taken once, uses are never over-counted, the
last credit is spent once."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection
from django.utils import timezone

from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import claims as bb_claims
from sandbox.bitbadges import credits as bb_credits
from sandbox.bitbadges import stores as bb_stores
from sandbox.bitbadges.models import BitBadgesAttempt, BitBadgesClaim
from tests.sandbox.bitbadges_support import BB, KEY, PREFIX

THREADS = 8


def _in_thread(function):
    """Run `function` in a worker thread with its own database connection, closed after."""

    def run(*args):
        try:
            return function(*args)
        finally:
            connection.close()

    return run


@pytest.mark.django_db(transaction=True)
def test_threads_completing_a_single_use_claim_get_one_success(live_server, settings):
    settings.SANDBOX_BITBADGES_ATTEMPT_DELAY = 0
    claim = bb_claims.claim_create(max_uses=1)
    url = f"{live_server.url}{PREFIX}/api/v0/claims/complete/{claim.claim_id}/{BB}"
    barrier = threading.Barrier(THREADS)

    def complete(_):
        barrier.wait()
        with requests.Session() as session:
            response = session.post(
                url, json={"_expectedVersion": -1}, headers={"x-api-key": KEY}, timeout=30
            )
            if response.status_code != 200:
                return response.status_code, response.json()["errorMessage"]
            attempt_id = response.json()["claimAttemptId"]
            status = session.get(
                f"{live_server.url}{PREFIX}/api/v0/claims/status/{attempt_id}",
                headers={"x-api-key": KEY},
                timeout=30,
            )
            return status.status_code, status.json()

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(complete, range(THREADS)))

    bb_attempts.attempts_resolve_due()
    assert bb_attempts.completions(claim.claim_id) == 1
    assert BitBadgesClaim.objects.get(pk=claim.pk).num_uses == 1
    assert bb_attempts.complete_calls(claim.claim_id) == THREADS
    assert not BitBadgesAttempt.objects.filter(status="pending").exists()
    numbers = list(
        BitBadgesAttempt.objects.filter(status="success").values_list("claim_number", flat=True)
    )
    assert numbers == [0]
    successes = [r for r in results if r[0] == 200 and r[1].get("success") is True]
    assert len(successes) == 1  # judged as it was queued: its poll says so
    for status, body in results:
        if isinstance(body, str):  # refused at once
            assert status == 500 and body.endswith("Overall max uses exceeded")


@pytest.mark.django_db(transaction=True)
def test_concurrent_resolvers_take_each_claim_number_once(settings):
    settings.SANDBOX_BITBADGES_ATTEMPT_DELAY = 60
    claim = bb_claims.claim_create(max_uses=3)
    for _ in range(THREADS):
        bb_attempts.complete(claim.claim_id, BB, {"_expectedVersion": -1})
    BitBadgesAttempt.objects.update(due_at=timezone.now())  # all due at once
    barrier = threading.Barrier(THREADS)

    @_in_thread
    def resolve(_):
        barrier.wait()
        return bb_attempts.attempts_resolve_due()

    with ThreadPoolExecutor(THREADS) as pool:
        resolved = list(pool.map(resolve, range(THREADS)))

    assert sum(resolved) == THREADS  # each attempt resolved exactly once
    attempts = BitBadgesAttempt.objects.filter(claim=claim)
    assert attempts.filter(status="success").count() == 3
    assert attempts.filter(status="failed").count() == THREADS - 3
    assert sorted(attempts.filter(status="success").values_list("claim_number", flat=True)) == [
        0,
        1,
        2,
    ]
    assert BitBadgesClaim.objects.get(pk=claim.pk).num_uses == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_store_actions_land_once(settings):
    settings.SANDBOX_BITBADGES_STORE_LAG = 0
    store = bb_stores.store_create(store_id="s", secret="x")
    actions = [bb_stores.StoreAction("add", BB)] * 3
    bb_stores.store_actions_record("s", "x", actions)
    barrier = threading.Barrier(4)

    @_in_thread
    def apply(_):
        barrier.wait()
        return bb_stores.store_actions_apply_due()

    with ThreadPoolExecutor(4) as pool:
        applied = list(pool.map(apply, range(4)))

    assert sum(applied) == 3
    assert store.entries.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_requests_racing_for_the_last_credit(live_server):
    """The conditional UPDATE: exactly one of two concurrent requests gets the last credit."""
    claim = bb_claims.claim_create()
    bb_credits.credits_set(1)
    url = f"{live_server.url}{PREFIX}/api/v0/claim/{claim.claim_id}"
    barrier = threading.Barrier(2)

    def fetch(_):
        barrier.wait()
        return requests.get(url, headers={"x-api-key": KEY}, timeout=30)

    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(fetch, range(2)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 402]
    refused = next(r for r in responses if r.status_code == 402).json()
    total = bb_credits.credits().on_chain_total
    assert refused["onChainTotal"] == total and refused["used"] == total
    assert refused["remaining"] == 0
    assert bb_credits.credits_remaining() == 0


@pytest.mark.django_db(transaction=True)
def test_many_requests_never_overspend(live_server):
    bb_credits.credits_set(5)
    url = f"{live_server.url}{PREFIX}/api/v0/claims/status/{'0' * 64}"
    barrier = threading.Barrier(THREADS)

    def status(_):
        barrier.wait()
        with requests.Session() as session:
            return [
                session.get(url, headers={"x-api-key": KEY}, timeout=30).status_code
                for _ in range(2)
            ]

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = [code for codes in pool.map(status, range(THREADS)) for code in codes]

    assert statuses.count(200) == 5
    assert statuses.count(402) == 2 * THREADS - 5
    credits = bb_credits.credits()
    assert credits.used == credits.on_chain_total

"""The real BitBadges client against the BitBadges sandbox over real HTTP.

The client's unit tests use `responses`; the sandbox's use Django's test client. Here
neither is faked: the two halves must agree on paths, bodies, status codes and errors.
"""

import time

import pytest

from claims import bitbadges
from sandbox.bitbadges import claims as bb_sandbox_claims
from sandbox.bitbadges import stores as bb_sandbox_stores

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"
BB1 = "bb1wskntnrxxnq9x2f95wuyf0y7wk2lp043p2tca7"  # the same account (docs §5 vectors)


@pytest.fixture
def client(live_server, settings):
    settings.BITBADGES_API_URL = f"{live_server.url}/sandbox/bitbadges"
    settings.SANDBOX_FAULTS = {}
    settings.SANDBOX_BITBADGES_ATTEMPT_DELAY = 0.3
    settings.SANDBOX_BITBADGES_STORE_LAG = 0.3
    return bitbadges.get_client()


@pytest.mark.parametrize("shape", ["no-doc", "false-empty", "missing"])
def test_complete_then_poll_through_every_pending_shape(client, settings, shape):
    settings.SANDBOX_BITBADGES_PENDING_SHAPE = shape
    claim = bb_sandbox_claims.claim_create(max_uses=5, password="pw")
    inputs = {"pwd": {"password": "pw"}}

    assert client.simulate(claim.claim_id, ADDRESS, inputs=inputs) == "0" * 64
    attempt = client.complete(claim.claim_id, ADDRESS, inputs=inputs)
    assert client.attempt_status(attempt).pending is True
    status = client.wait_for_attempt(attempt, interval=0.1, deadline=5)
    assert status.success is True and status.address == BB1
    assert client.success_count(claim.claim_id, BB1) == 1
    assert client.success_count(claim.claim_id, ADDRESS) == 1  # both forms, one account


def test_the_sandbox_refusals_arrive_as_the_right_errors(client):
    claim = bb_sandbox_claims.claim_create(max_uses=1, password="pw")
    with pytest.raises(bitbadges.WrongPassword):
        client.complete(claim.claim_id, ADDRESS, inputs={"pwd": {"password": "nope"}})
    with pytest.raises(bitbadges.ClaimNotFound):
        client.simulate("00" * 16, ADDRESS, inputs={})
    with pytest.raises(bitbadges.VersionMismatch):
        client.simulate(
            claim.claim_id, ADDRESS, inputs={"pwd": {"password": "pw"}}, expected_version=7
        )
    attempt = client.complete(claim.claim_id, ADDRESS, inputs={"pwd": {"password": "pw"}})
    client.wait_for_attempt(attempt, interval=0.1, deadline=5)
    with pytest.raises(bitbadges.ClaimExhausted):
        client.complete(claim.claim_id, BB1, inputs={"pwd": {"password": "pw"}})


def test_a_whitelist_store_gates_the_claim_after_its_lag(client):
    store = bb_sandbox_stores.store_create()
    claim = bb_sandbox_claims.claim_create(max_uses=10, store=store, max_uses_per_address=1)
    with pytest.raises(bitbadges.NotWhitelisted):
        client.simulate(claim.claim_id, ADDRESS)

    client.store_add(store.dynamic_data_id, store.data_secret, ADDRESS)
    deadline = time.monotonic() + 5
    while not client.store_contains(store.dynamic_data_id, store.data_secret, BB1):
        assert time.monotonic() < deadline, "the add never landed"
        time.sleep(0.1)
    attempt = client.complete(claim.claim_id, ADDRESS)
    client.wait_for_attempt(attempt, interval=0.1, deadline=5)
    with pytest.raises(bitbadges.AlreadyClaimed):
        client.simulate(claim.claim_id, BB1)

    client.store_remove(store.dynamic_data_id, store.data_secret, BB1)
    with pytest.raises(bitbadges.BitBadgesError, match="Invalid data secret"):
        client.store_contains(store.dynamic_data_id, "wrong-secret", ADDRESS)


def test_get_claim_and_a_wrong_key(client, settings):
    claim = bb_sandbox_claims.claim_create(max_uses=3, password="pw", label="Readable")
    details = client.get_claim(claim.claim_id)
    assert details["claimId"] == claim.claim_id
    assert {plugin["pluginId"] for plugin in details["plugins"]} >= {"numUses", "password"}
    assert details["version"] == "0"

    settings.BITBADGES_API_KEY = "not-the-key"
    with pytest.raises(bitbadges.Unauthorized):
        bitbadges.get_client().get_claim(claim.claim_id)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"status": 429, "retry_after": 60}, bitbadges.RateLimited),
        ({"status": 402}, bitbadges.PaymentRequired),
        ({"malformed": True}, bitbadges.InvalidResponse),
    ],
)
def test_injected_faults_arrive_as_the_right_errors(client, settings, fault, error):
    claim = bb_sandbox_claims.claim_create(max_uses=3)
    settings.SANDBOX_FAULTS = {"bitbadges.claim.get": fault}
    with pytest.raises(error):
        client.get_claim(claim.claim_id)

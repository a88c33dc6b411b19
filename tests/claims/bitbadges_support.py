"""Shared arrangements for the BitBadges client's tests (which use `responses`)."""

import json

from claims.bitbadges import BitBadgesClient

API = "https://api.bitbadges.test"
KEY = "bb-api-key-never-shown-0123456789"
STORE_SECRET = "store-secret-never-shown-9876"
CLAIM = "0123456789abcdef0123456789abcdef"
ATTEMPT = "ab" * 32
ETH = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"
ETH_LOWER = ETH.lower()
BB = "bb1wskntnrxxnq9x2f95wuyf0y7wk2lp043p2tca7"
# Addresses go out as bb1 whatever the member typed (docs/fidelity.md, "Addresses").
COMPLETE_URL = f"{API}/api/v0/claims/complete/{CLAIM}/{BB}"
SIMULATE_URL = f"{API}/api/v0/claims/simulate/{CLAIM}/{BB}"
STATUS_URL = f"{API}/api/v0/claims/status/{ATTEMPT}"
SUCCESS_URL = f"{API}/api/v0/claims/success/{CLAIM}/{BB}"
ATTEMPTS_URL = f"{API}/api/v0/claims/{CLAIM}/attempts"
CLAIM_URL = f"{API}/api/v0/claim/{CLAIM}"
STORE_ACTION_URL = f"{API}/api/v0/storeActions/single"
STORE_VALUE_URL = f"{API}/api/v0/dynamicStore/store123/value"
WRAP = "One or more of the challenges were not satisfied ({plugin}) : Error: {message}"


def claim_body(claim_id: str = CLAIM) -> dict:
    return {
        "claim": {
            "_includesPrivateParams": False,
            "claimId": claim_id,
            "version": "0",
            "plugins": [
                {
                    "instanceId": "numuses1",
                    "pluginId": "numUses",
                    "version": "0",
                    "publicParams": {"maxUses": 10},
                    "privateParams": {},
                    "publicState": {"numUses": 3},
                },
                {
                    "instanceId": "pwd1",
                    "pluginId": "password",
                    "version": "0",
                    "publicParams": {},
                    "privateParams": {},
                    "publicState": {},
                },
            ],
        }
    }


class FakeClock:
    """Time that passes only when the client sleeps, so that tests are instant."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(clock: FakeClock | None = None, **overrides) -> BitBadgesClient:
    clock = clock or FakeClock()
    options = dict(
        api_url=API,
        api_key=KEY,
        timeout=5.0,
        max_retries=3,
        sleep=clock.sleep,
        clock=clock,
    )
    options.update(overrides)
    return BitBadgesClient(**options)


def sent_json(call) -> dict:
    return json.loads(call.request.body)

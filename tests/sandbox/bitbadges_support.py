"""Helpers for the BitBadges sandbox tests (no tests here): a client and test addresses.

Addresses are the docs' test vectors (docs/bitbadges-api.md section 5).
"""

import json

from sandbox.credentials import SANDBOX_CREDENTIALS

PREFIX = "/sandbox/bitbadges"
KEY = SANDBOX_CREDENTIALS["bitbadges_api_key"]

ETH = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"  # EIP-55
ETH_LOWER = ETH.lower()
BB = "bb1wskntnrxxnq9x2f95wuyf0y7wk2lp043p2tca7"  # the same account
ETH_2 = "0x14574a6DFF2Ddf9e07828b4345d3040919AF5652"
BB_2 = "bb1z3t55m0l9h0eupuz3dp5t5cypyv674jjl8mh5h"
BAD_CHECKSUM = "0x742d35Cc6634c0532925A3b844bc9E7595F0beB1"  # one letter's case flipped
BAD_ADDRESSES = [
    BAD_CHECKSUM,
    "bb1z3t55m0l9h0eupuz3dp5t5cypyv674jj7mz2jw",  # the docs' misprint: bad checksum
    "0x1234",
    "cosmos1wskntnrxxnq9x2f95wuyf0y7wk2lp043p2tca7",
    "alice",
]
ADDRESS_ERROR = "Could not convert. Please make sure inputted address is well-formed"


class BitBadgesTestClient:
    """Django's test client, speaking to /sandbox/bitbadges with the sandbox API key."""

    def __init__(self, client, key: str | None = KEY):
        self.client = client
        self.key = key

    def _headers(self, headers):
        result = {} if self.key is None else {"x-api-key": self.key}
        result.update(headers or {})
        return result

    def get(self, path, params=None, headers=None):
        return self.client.get(PREFIX + path, params or {}, headers=self._headers(headers))

    def post(self, path, body=None, headers=None, raw=None):
        data = raw if raw is not None else json.dumps({} if body is None else body)
        return self.client.post(
            PREFIX + path, data, content_type="application/json", headers=self._headers(headers)
        )

    def complete(self, claim_id, address, body=None, *, version=-1, simulate=False):
        kind = "simulate" if simulate else "complete"
        payload = {"_expectedVersion": version, **(body or {})}
        return self.post(f"/api/v0/claims/{kind}/{claim_id}/{address}", payload)

    def status(self, attempt_id, method="GET"):
        path = f"/api/v0/claims/status/{attempt_id}"
        return self.get(path) if method == "GET" else self.post(path, raw="")

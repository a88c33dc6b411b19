"""A trigger signing key and Pipedream's signature headers, for the attack suite's webhook
tests."""

import hashlib
import hmac
import time

KEY = "whsec-attack-suite-signing-key-0123456789"


def signed(body: bytes, *, key=KEY, event_id="evt_1", timestamp=None) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(key.encode(), f"{timestamp}.{event_id}.".encode() + body, hashlib.sha256)
    return {
        "HTTP_X_PD_SIGNATURE": f"t={timestamp},v1={digest.hexdigest()}",
        "HTTP_X_PD_EVENT_ID": event_id,
    }

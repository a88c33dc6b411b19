"""Authenticator codes for tests, computed as an authenticator app does (RFC 6238).

HMAC-SHA1 of the 30-second step number under the base32 secret, dynamically truncated
to 6 digits: no dependency, and no call into allauth's own code for what it checks.
"""

import base64
import hashlib
import hmac
import struct
import time


def totp_code(secret: str, at: float | None = None) -> str:
    step = int((time.time() if at is None else at) // 30)
    digest = hmac.new(base64.b32decode(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def fresh_totp_code(secret: str) -> str:
    """A code with at least 3 seconds left in its step (a real clock, a real browser)."""
    if time.time() % 30 > 27:
        time.sleep(30 - time.time() % 30 + 0.1)
    return totp_code(secret)

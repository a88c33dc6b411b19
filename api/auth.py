"""Who may call the API: `Authorization: Bearer <key>`, checked in this order.

1. An address that sent too many keys that are not ours lately: 429, whatever it sends
   now (a right key included, or the limit would still answer guesses).
2. No Authorization header, or not `Bearer <key>`, or a key we do not know: 401 with
   `WWW-Authenticate: Bearer` (the last two count against the address).
3. A key past its rate limit (API_RATE_LIMIT): 429 with Retry-After (a revoked or
   expired key too: each of its calls is counted).
4. A revoked or expired key: 403.
5. A key without the operation's scope: 403.

Cookies are never read: a logged-in session authenticates nothing here, which is why the
API may be exempt from CSRF. Counters live in the shared cache (core/ratelimit.py), so
the limits hold across every web process.
"""

import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables
from ninja.security.http import HttpAuthBase

from api import keys
from api.models import ApiKey
from core.ratelimit import client_ip, hit

REALM = 'Bearer realm="api"'

logger = logging.getLogger(__name__)


class Refusal(Exception):
    """An answer other than 200: its status, a code for programs, a sentence for people."""

    def __init__(self, status: int, code: str, detail: str, headers: dict | None = None):
        super().__init__(code)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}


def _blocked_for(ip: str) -> int | None:
    until = cache.get(f"api:auth-blocked:{ip}")
    if not isinstance(until, int | float):
        return None
    wait = math.ceil(until - time.time())
    return wait if wait > 0 else None


def _count_failure(ip: str) -> None:
    """Count a key that is not ours from `ip`; past the limit, block the address until
    the window ends (every process sees the block: it is in the shared cache)."""
    limit, window = settings.API_AUTH_FAILURE_RATE_LIMIT

    def blocked(wait: int) -> None:  # once per window, not once per refused request
        logger.warning(
            "API: %s invalid keys from %s in %s s; it gets 429 for %s s", limit, ip, window, wait
        )

    wait = hit("api-auth-failure", ip, limit=limit, window=window, on_first_refusal=blocked)
    if wait is not None:
        cache.set(f"api:auth-blocked:{ip}", time.time() + wait, timeout=wait)
        raise too_many_failures(wait)


# The refusals, one function each: the operations raise them and api/v1.py shows them
# as the description's examples.


def too_many_failures(wait: int) -> Refusal:
    return Refusal(
        429,
        "too_many_failed_keys",
        f"Too many requests from this address carried a key that is not valid. "
        f"Wait {wait} seconds, then call again with a valid key.",
        {"Retry-After": str(wait)},
    )


def _unauthorized(code: str, detail: str, error: str = "") -> Refusal:
    challenge = f'{REALM}, error="{error}"' if error else REALM
    return Refusal(401, code, detail, {"WWW-Authenticate": challenge})


def missing_key() -> Refusal:
    return _unauthorized(
        "missing_key",
        "This API needs an API key: send the header `Authorization: Bearer <key>` "
        "with a key made in the admin.",
    )


def invalid_key() -> Refusal:
    return _unauthorized(
        "invalid_key",
        "The API key is not valid: send `Authorization: Bearer <key>` with the "
        "whole key the admin showed when it was made.",
        error="invalid_token",
    )


def revoked_key() -> Refusal:
    return Refusal(403, "revoked_key", "This API key was revoked: ask for a new one.")


def expired_key() -> Refusal:
    return Refusal(403, "expired_key", "This API key has expired: ask for a new one.")


def insufficient_scope(scope: str) -> Refusal:
    return Refusal(
        403,
        "insufficient_scope",
        f"This API key lacks the scope {scope}: ask for a key that has it.",
        {"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{scope}"'},
    )


def rate_limited(limit: int, window: int, wait: int) -> Refusal:
    return Refusal(
        429,
        "rate_limited",
        f"This key made more than {limit} requests in {window} seconds. "
        f"Wait {wait} seconds, then call again.",
        {"Retry-After": str(wait)},
    )


class ApiKeyAuth(HttpAuthBase):
    """The API's only authentication: an API key from the admin, as a bearer token.

    One instance per operation, holding the scope that operation needs. Its OpenAPI
    security scheme is HTTP bearer (the attributes below, read by ninja).
    """

    openapi_scheme = "bearer"
    openapi_bearerFormat = "API key"
    openapi_description = (
        "An API key made in the admin (API keys, Add): send it as "
        "`Authorization: Bearer cck_...`. Each key holds read-only scopes."
    )

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__()

    @sensitive_variables("header", "token")
    def __call__(self, request: HttpRequest) -> ApiKey:
        ip = client_ip(request)
        blocked = _blocked_for(ip)
        if blocked is not None:
            raise too_many_failures(blocked)
        header = request.headers.get("Authorization", "")
        if not header:
            raise missing_key()
        scheme, _, token = header.partition(" ")
        key = keys.find(token.strip()) if scheme.lower() == "bearer" else None
        if key is None:
            _count_failure(ip)
            raise invalid_key()
        limit, window = settings.API_RATE_LIMIT

        def flooded(wait: int) -> None:  # once per window, not once per refused request
            logger.warning(
                "API key %s_… (%s) made over %s requests in %s s; it gets 429 for %s s",
                key.prefix,
                key.name,
                limit,
                window,
                wait,
            )

        # Counted before the key's state, so a revoked or expired key that goes on
        # calling is held to the same limit (each call costs a query).
        wait = hit("api-key", key.pk, limit=limit, window=window, on_first_refusal=flooded)
        if wait is not None:
            raise rate_limited(limit, window, wait)
        state = key.state
        if state == ApiKey.State.REVOKED:
            raise revoked_key()
        if state == ApiKey.State.EXPIRED:
            raise expired_key()
        if not key.allows(self.scope):
            raise insufficient_scope(self.scope)
        keys.touch(key)
        return key

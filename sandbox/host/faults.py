"""Fault injection on the host provider: the shared machinery (sandbox/common/faults.py)
with OAuth's error shape, and the id_token faults.

Endpoint faults (names host.discovery, host.jwks, host.token, host.userinfo): latency, a
hang, an injected status answered as RFC 6749 5.2 writes errors ({"error":
"server_error" or "temporarily_unavailable" (429, 503, with Retry-After), or
"invalid_request"; "error_description"}), or a 200 with cut-short JSON.

id_token faults (ID_TOKEN_FAULTS): the token endpoint still answers 200, with an id_token
that is wrong in one way (email_verified_string: userinfo's claims too). One is on while
a spec is configured for its name (an enabled Fault row, or SANDBOX_FAULTS) and its rate
fires; what else the spec says is not read. Only patterns that start with
"host.id_token." count, so a "host.*" latency never turns them on by accident.
"""

import fnmatch
import random

from django.conf import settings
from django.http import HttpResponse, JsonResponse

from sandbox.common import faults
from sandbox.common.fault_specs import FaultSpecError, clean_spec
from sandbox.common.faults import _reason
from sandbox.common.models import Fault

HOST_MALFORMED_BODY = b'{"issuer": "'  # cut short: not valid JSON
ID_TOKEN_PREFIX = "host.id_token."
ID_TOKEN_FAULTS = {
    "host.id_token.wrong_issuer": "Wrong issuer: iss names another provider",
    "host.id_token.wrong_audience": "Wrong audience: aud names another client",
    "host.id_token.expired": "Expired: exp an hour ago",
    "host.id_token.bad_signature": "Bad signature: signed by a key not in the JWKS (same kid)",
    "host.id_token.unknown_kid": "Unknown kid: its kid is not in the JWKS",
    "host.id_token.wrong_nonce": "Wrong nonce: not the one the sign-in sent",
    "host.id_token.another_azp": "Another azp: aud is [this client], azp another client",
    "host.id_token.another_audience_too": "Two audiences: this client and another one",
    "host.id_token.other_sub": "Another sub: not the one userinfo gives for the token",
    "host.id_token.email_verified_string": (
        'email_verified as text ("true", "false"), in the id_token and userinfo'
    ),
}


def host_error_response(
    status: int, retry_after: int = 1, error_message: str | None = None
) -> HttpResponse:
    """An injected status as an OAuth server writes an error (RFC 6749 5.2)."""
    if status >= 500 and status != 503:
        code = "server_error"
    elif status in (429, 503):
        code = "temporarily_unavailable"
    else:
        code = "invalid_request"
    body = {
        "error": code,
        "error_description": error_message or f"{_reason(status)} (injected by the sandbox)",
    }
    response = JsonResponse(body, status=status)
    if status in (429, 503):
        response["Retry-After"] = str(retry_after)
    return response


def injectable(endpoint: str):
    """Decorate a host view so the faults configured for `endpoint` apply to it."""
    return faults.injectable(
        endpoint, error_response=host_error_response, malformed_body=HOST_MALFORMED_BODY
    )


def _configured() -> list[tuple[str, dict]]:
    """(pattern, spec) of every id_token fault configured: settings first, then rows."""
    found = []
    for pattern, spec in (getattr(settings, "SANDBOX_FAULTS", None) or {}).items():
        if pattern.startswith(ID_TOKEN_PREFIX):
            found.append((pattern, spec))
    rows = Fault.objects.filter(enabled=True, endpoint__startswith=ID_TOKEN_PREFIX)
    found += [(row.endpoint, row.as_spec()) for row in rows]
    return found


def id_token_faults() -> set[str]:
    """The id_token faults that fire for this answer (each spec's rate rolled once)."""
    fired = set()
    for pattern, spec in _configured():
        try:
            rate = clean_spec(spec)["rate"]
        except FaultSpecError:
            continue
        if rate < 1 and random.random() >= rate:
            continue
        fired.update(name for name in ID_TOKEN_FAULTS if fnmatch.fnmatchcase(name, pattern))
    return fired

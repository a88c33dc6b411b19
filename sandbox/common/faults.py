"""Fault injection for the sandbox's endpoints: latency, throttling, 5xx, hangs, broken JSON.

Every emulated endpoint has a name (ENDPOINTS) and its view is wrapped once with
`@injectable(name)` (BitBadges' views with sandbox/bitbadges/faults.py's, which answers
in BitBadges' shapes; the host site's provider with sandbox/host/faults.py's, which
answers as OAuth writes errors and adds the id_token faults). A fault spec is a dict:

    {"latency_ms": 250,      # added delay before answering
     "rate": 0.5,            # probability (0..1) that the fault fires; default 1
     "status": 429,          # answer with this status instead of running the view;
                             #   Pipedream: 429 -> {"error": "Throttled"} with
                             #   Retry-After and X-RateLimit-* headers, others ->
                             #   {"error": "..."}; BitBadges (bitbadges.*): 429 ->
                             #   {"errorMessage": "Exceeded rate limit. Too many
                             #   requests."} (per SANDBOX_BITBADGES_WORDING) with
                             #   express-rate-limit's draft-6 RateLimit-* headers and
                             #   Retry-After, 402 -> the documented "Insufficient
                             #   credits" body, others -> {"errorMessage": "..."}
     "error_message": "...", # with a status: this text is the answer's errorMessage
                             #   (Pipedream: its error) instead of the generic one
     "retry_after": 2,       # seconds, for a 429 (default 1)
     "hang_seconds": 30,     # sleep this long, then answer (past a client's timeout)
     "malformed": true}      # answer 200 with a body that is not valid JSON

Specs come from `settings.SANDBOX_FAULTS` (a dict keyed by endpoint name or pattern,
e.g. {"pipedream.*": {"latency_ms": 100}}; settable with override_settings) and from
enabled `sandbox.common.models.Fault` rows (the sandbox page edits them). Patterns use
shell-style wildcards (fnmatch). Every matching spec is rolled independently, settings
first, then rows in creation order: each one that fires adds its latency and hang, and
the first that fires with a `status` or `malformed` decides the answer.
"""

import fnmatch
import functools
import logging
import random
import time
from http import HTTPStatus

from django.conf import settings
from django.http import HttpResponse, JsonResponse

from sandbox.common.fault_specs import SPEC_KEYS as SPEC_KEYS  # re-exported: callers read it here
from sandbox.common.fault_specs import FaultSpecError, clean_spec
from sandbox.common.fault_specs import describe as describe  # re-exported, likewise
from sandbox.common.models import enabled_faults

logger = logging.getLogger(__name__)

ENDPOINTS = {
    "pipedream.oauth.token": "POST /v1/oauth/token",
    "pipedream.tokens.create": "POST /v1/connect/{project_id}/tokens",
    "pipedream.tokens.validate": "GET /v1/connect/tokens/{ctok}/validate",
    "pipedream.accounts.list": "GET /v1/connect/{project_id}/accounts",
    "pipedream.accounts.create": "POST /v1/connect/{project_id}/accounts",
    "pipedream.accounts.get": "GET /v1/connect/{project_id}/accounts/{account_id}",
    "pipedream.accounts.delete": "DELETE /v1/connect/{project_id}/accounts/{account_id}",
    "pipedream.accounts.delete_by_app": "DELETE /v1/connect/{project_id}/apps/{app_id}/accounts",
    "pipedream.users.list": "GET /v1/connect/{project_id}/users",
    "pipedream.users.accounts": "GET /v1/connect/{project_id}/users/{external_user_id}/accounts",
    "pipedream.users.delete": "DELETE /v1/connect/{project_id}/users/{external_user_id}",
    "pipedream.apps.list": "GET /v1/connect/apps (and /v1/apps)",
    "pipedream.apps.get": "GET /v1/connect/apps/{app_id} (and /v1/apps/{app_id})",
    "pipedream.components": (
        "GET .../components|actions|triggers[/{component_id}], POST .../configure|props"
    ),
    "pipedream.actions.run": "POST /v1/connect/{project_id}/actions/run",
    "pipedream.triggers.deploy": "POST /v1/connect/{project_id}/triggers/deploy",
    "pipedream.triggers.list": "GET /v1/connect/{project_id}/deployed-triggers",
    "pipedream.triggers.get": "GET /v1/connect/{project_id}/deployed-triggers/{trigger_id}",
    "pipedream.triggers.update": "PUT /v1/connect/{project_id}/deployed-triggers/{trigger_id}",
    "pipedream.triggers.delete": "DELETE /v1/connect/{project_id}/deployed-triggers/{trigger_id}",
    "pipedream.triggers.events": "GET .../deployed-triggers/{trigger_id}/events",
    "pipedream.triggers.webhooks": (
        "GET|PUT .../deployed-triggers/{trigger_id}/webhooks, GET .../webhooks/{webhook_id}, "
        "POST .../webhooks/{webhook_id}/regenerate_signing_key"
    ),
    "pipedream.proxy": "GET|POST|PUT|PATCH|DELETE /v1/connect/{project_id}/proxy/{url_64}",
    "pipedream.workflows.invoke": "POST /sandbox/pipedream/workflows/{endpoint_id}/",
    "pipedream.connect.page": "GET|POST /_static/connect.html (the hosted page)",
    "bitbadges.claims.complete": "POST /api/v0/claims/complete/{claimId}/{address}",
    "bitbadges.claims.simulate": "POST /api/v0/claims/simulate/{claimId}/{address}",
    "bitbadges.claims.status": "GET|POST /api/v0/claims/status/{claimAttemptId}",
    "bitbadges.claims.attempts": "GET /api/v0/claims/{claimId}/attempts",
    "bitbadges.claims.success": "GET /api/v0/claims/success/{claimId}/{address} (when served)",
    "bitbadges.claim.get": "GET /api/v0/claim/{claimId}",
    "bitbadges.claims.fetch": "POST /api/v1/claims/fetch (and /api/v0/claims/fetch)",
    "bitbadges.store.actions": "POST /api/v0/storeActions/{single,batch} (and legacy)",
    "bitbadges.store.value": "GET /api/v0/dynamicStore/{id}/value",
    "bitbadges.siwbb.token": "POST /api/v0/siwbb/token (Sign In with BitBadges: code, refresh)",
    "bitbadges.siwbb.revoke": "POST /api/v0/siwbb/token/revoke",
    "host.discovery": "GET /sandbox/host/.well-known/openid-configuration (the host's provider)",
    "host.jwks": "GET /sandbox/host/jwks",
    "host.token": "POST /sandbox/host/token",
    "host.userinfo": "GET|POST /sandbox/host/userinfo",
}

RATE_LIMIT = 100  # what Pipedream's X-RateLimit-Limit claims
MALFORMED_BODY = b'{"data": [{"id": "apn_'  # cut short: not valid JSON


def matching_specs(endpoint: str) -> list[dict]:
    """The cleaned specs that apply to `endpoint`: settings first, then enabled rows."""
    specs = []
    configured = getattr(settings, "SANDBOX_FAULTS", None) or {}
    for pattern, spec in configured.items():
        if fnmatch.fnmatchcase(endpoint, pattern):
            try:
                specs.append(clean_spec(spec))
            except FaultSpecError:
                logger.exception("Ignoring SANDBOX_FAULTS[%r]", pattern)
    for pattern, spec in enabled_faults():
        if fnmatch.fnmatchcase(endpoint, pattern):
            specs.append(clean_spec(spec))
    return specs


def _rate_headers(response: HttpResponse, retry_after: int) -> HttpResponse:
    """Pipedream's 429 headers (unchanged)."""
    response["Retry-After"] = str(retry_after)
    response["X-RateLimit-Limit"] = str(RATE_LIMIT)
    response["X-RateLimit-Remaining"] = "0"
    response["X-RateLimit-Reset"] = str(int(time.time()) + retry_after)
    return response


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_response(
    status: int, retry_after: int = 1, error_message: str | None = None
) -> HttpResponse:
    """The answer of an injected status as Pipedream gives it: its 429 shape, or
    {"error": "..."} (BitBadges' shapes: sandbox/bitbadges/faults.py)."""
    if status == 429:
        response = JsonResponse({"error": error_message or "Throttled"}, status=429)
        return _rate_headers(response, retry_after)
    message = error_message or f"{_reason(status)} (injected by the sandbox)"
    return JsonResponse({"error": message}, status=status)


def malformed_response(body: bytes = MALFORMED_BODY) -> HttpResponse:
    return HttpResponse(body, status=200, content_type="application/json")


def injectable(endpoint: str, *, error_response=error_response, malformed_body=MALFORMED_BODY):
    """Decorate a view so the faults configured for `endpoint` apply to it; an injected
    status is answered by `error_response(status, retry_after, error_message)`, a
    malformed answer is `malformed_body` (Pipedream's by default)."""
    if endpoint not in ENDPOINTS:
        raise ValueError(f"Unknown sandbox endpoint name {endpoint!r}; add it to ENDPOINTS.")

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            delay = 0.0
            answer = None
            for spec in matching_specs(endpoint):
                if spec["rate"] < 1 and random.random() >= spec["rate"]:
                    continue
                delay += spec["latency_ms"] / 1000 + spec["hang_seconds"]
                if answer is None and spec["status"]:
                    answer = functools.partial(
                        error_response,
                        spec["status"],
                        spec["retry_after"],
                        spec["error_message"],
                    )
                elif answer is None and spec["malformed"]:
                    answer = functools.partial(malformed_response, malformed_body)
            if delay:
                time.sleep(delay)
            if answer is not None:
                logger.info("Injected fault on %s: %s", endpoint, request.path)
                return answer()
            return view(request, *args, **kwargs)

        wrapped.sandbox_endpoint = endpoint
        return wrapped

    return decorator

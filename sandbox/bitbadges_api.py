"""The emulated BitBadges API (/sandbox/bitbadges/api/...), as docs/bitbadges-api.md describes it.

Every view is declared with `@endpoint(name)`, which does what the real service does
before a route runs: fault injection (sandbox/faults.py, BitBadges-shaped answers),
the `x-api-key` check (401 with BitBadges' two messages), and then the sandbox's lazy
work (due store actions land, due claim attempts resolve; see sandbox/bitbadges.py).
Errors are {"errorMessage": "..."}.

Where the docs leave a status code open, the sandbox picks one and says so here:
- a plugin that fails, a version mismatch, a malformed claim id or address: 400;
- an unknown claim: 404 "No doc found"; an unknown attempt id: 404 "No doc found"
  (a pending attempt answers per SANDBOX_BITBADGES_PENDING_SHAPE);
- an unknown store: 404 "Dynamic data doc not found"; a wrong secret: 401
  "Invalid data secret";
- a route or method that does not exist: JSON 404.
"""

import functools
import json
import secrets

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from sandbox import bitbadges as service
from sandbox.bitbadges import BitBadgesError
from sandbox.credentials import SANDBOX_CREDENTIALS
from sandbox.faults import injectable

NO_KEY = "Unauthorized request. This route is only accessible with an API key."
BAD_KEY = "Unauthorized request. Error validating API key."


def error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"errorMessage": message}, status=status)


def public_api(view):
    return csrf_exempt(login_not_required(never_cache(view)))


def check_key(request) -> None:
    key = request.headers.get("x-api-key")
    if not key:
        raise BitBadgesError(401, NO_KEY)
    if not secrets.compare_digest(key.encode(), SANDBOX_CREDENTIALS["bitbadges_api_key"].encode()):
        raise BitBadgesError(401, BAD_KEY)


def endpoint(name: str):
    """Declare a route: fault name, API key, lazy work, BitBadges error bodies."""

    def decorator(view):
        @injectable(name)
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            try:
                check_key(request)
                service.tick()
                return view(request, *args, **kwargs)
            except BitBadgesError as exc:
                body = {"errorMessage": exc.message}
                if exc.status == 401 and exc.message in (NO_KEY, BAD_KEY):
                    body["unauthorized"] = True
                return JsonResponse(body, status=exc.status)

        return wrapped

    return decorator


def by_method(**views):
    """One URL, one view per method; another method gets BitBadges' JSON 404."""

    def dispatch(request, *args, **kwargs):
        view = views.get(request.method)
        if view is None:
            return not_found(request)
        return view(request, *args, **kwargs)

    dispatch = public_api(dispatch)
    dispatch.views = views
    return dispatch


def json_body(request) -> dict:
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise BitBadgesError(400, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BitBadgesError(400, "The request body must be a JSON object.")
    return data


def query_bool(request, name: str) -> bool:
    return request.GET.get(name, "").strip().lower() in ("true", "1")


# --- Claims --------------------------------------------------------------------------


@endpoint("bitbadges.claims.complete")
def claims_complete(request, claim_id: str, address: str):
    """POST /api/v0/claims/complete/{claimId}/{address}: {"claimAttemptId": 64 hex}."""
    attempt = service.complete(claim_id, address, json_body(request))
    return JsonResponse({"claimAttemptId": attempt.attempt_id})


@endpoint("bitbadges.claims.simulate")
def claims_simulate(request, claim_id: str, address: str):
    """POST /api/v0/claims/simulate/{claimId}/{address}: a placeholder attempt id."""
    return JsonResponse({"claimAttemptId": service.simulate(claim_id, address, json_body(request))})


@endpoint("bitbadges.claims.status")
def claims_status(request, attempt_id: str):
    """GET or POST /api/v0/claims/status/{claimAttemptId}."""
    status, body = service.attempt_status(attempt_id)
    return JsonResponse(body, status=status)


@endpoint("bitbadges.claims.success")
def claims_success(request, claim_id: str, address: str):
    """GET /api/v0/claims/success/{claimId}/{address}: {successCount, claimNumbers}."""
    return JsonResponse(service.success_check(claim_id, address))


@endpoint("bitbadges.claim.get")
def claim_get(request, claim_id: str):
    """GET /api/v0/claim/{claimId}?fetchPrivateParams=&fetchAllClaimedUsers=: {"claim"}."""
    claim = service.claim_get(claim_id)
    return JsonResponse(
        {
            "claim": service.claim_json(
                claim,
                private=query_bool(request, "fetchPrivateParams"),
                claimed=query_bool(request, "fetchAllClaimedUsers"),
            )
        }
    )


@endpoint("bitbadges.claims.fetch")
def claims_fetch(request):
    """POST /api/v1/claims/fetch {claimsToFetch: [...]}: {"claims": [...]}.

    The older {claimIds: [...]} body is accepted too. Unknown ids are left out.
    """
    data = json_body(request)
    wanted = data.get("claimsToFetch")
    if wanted is None and isinstance(data.get("claimIds"), list):
        wanted = [{"claimId": claim_id} for claim_id in data["claimIds"]]
    if not isinstance(wanted, list) or not all(
        isinstance(item, dict) and isinstance(item.get("claimId"), str) for item in wanted
    ):
        raise BitBadgesError(400, "claimsToFetch must be an array of {claimId, ...}.")
    claims = []
    for item in wanted:
        try:
            claim = service.claim_get(item["claimId"])
        except BitBadgesError as exc:
            if exc.status == 404:
                continue
            raise
        claims.append(
            service.claim_json(
                claim,
                private=item.get("fetchPrivateParams") is True,
                claimed=item.get("fetchAllClaimedUsers") is True,
            )
        )
    return JsonResponse({"claims": claims})


# --- Dynamic stores ------------------------------------------------------------------


@endpoint("bitbadges.store.actions")
def store_action_single(request):
    """POST /api/v0/storeActions/single: {} (the action lands after the store lag)."""
    data = json_body(request)
    action = service.parse_store_action(data.get("actionName"), data.get("payload"))
    service.store_actions_record(
        data.get("dynamicDataId"),
        data.get("dataSecret"),
        [action],
        simulate=data.get("_isSimulation") is True,
    )
    return JsonResponse({})


@endpoint("bitbadges.store.actions")
def store_action_batch(request):
    """POST /api/v0/storeActions/batch: {} (all actions validated before any is queued)."""
    data = json_body(request)
    items = data.get("actions")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise BitBadgesError(400, "actions must be an array of {actionName, payload}.")
    actions = [service.parse_store_action(i.get("actionName"), i.get("payload")) for i in items]
    service.store_actions_record(
        data.get("dynamicDataId"),
        data.get("dataSecret"),
        actions,
        simulate=data.get("_isSimulation") is True,
    )
    return JsonResponse({})


@endpoint("bitbadges.store.actions")
def store_action_legacy(request, action: str, store_id: str, secret: str):
    """POST /api/v0/storeActions/{action}/{id}/{secret} with {address}: the legacy form."""
    data = json_body(request)
    if "address" not in data:
        raise BitBadgesError(400, "address is required: stores hold addresses only.")
    parsed = service.parse_store_action(action, {"address": data["address"]})
    service.store_actions_record(store_id, secret, [parsed])
    return JsonResponse({})


@endpoint("bitbadges.store.value")
def store_value(request, store_id: str):
    """GET /api/v0/dynamicStore/{id}/value?key=&dataSecret=: {key, inStore}."""
    return JsonResponse(
        service.store_value(store_id, request.GET.get("dataSecret"), request.GET.get("key"))
    )


@public_api
def not_found(request, *args, **kwargs):
    """Anything else under the API: a JSON 404."""
    return error(404, f"Route not found: {request.method} {request.path}")

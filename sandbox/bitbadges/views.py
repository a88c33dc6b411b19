"""The emulated BitBadges API (/sandbox/bitbadges/api/...), as docs/bitbadges-api.md describes it.

Every view is declared with `@endpoint(name)`, which does what the real service does
before a route runs, in this order: fault injection (sandbox/common/faults.py, BitBadges-shaped
answers), the `x-api-key` check (401), one API credit spent (402 with the docs' body
when none is left), and then the sandbox's lazy work (due store actions land, due claim
attempts resolve; see sandbox/bitbadges/). Errors are {"errorMessage": "..."}.

Statuses, and their sources (the notes of issue 12 list them; docs/fidelity.md):
- claim refusals on complete, simulate and status (plugins, "No doc found", "Invalid
  claimId format", "Invalid claimAttemptId format", a version mismatch, a malformed
  address): 500, as the 2024 indexer's catch blocks answer (IDX-2024 claims.ts);
- a payload of the wrong shape: 400 "Invalid request payload. [typia errors]";
- a missing or wrong key: 401; no credits: 402; an injected rate limit: 429 with
  express-rate-limit's draft-6 headers;
- unconfirmed (no source): an unknown claim on GET claim/{id} is 500 "No doc found";
  an unknown store or a wrong data secret on the store routes is 500 with the
  claim-time texts; a body that is not JSON is 400; an oversized one is 413;
- the removed GET claims/success route answers the JSON 404 of an unknown route unless
  SANDBOX_BITBADGES_SUCCESS_ROUTE is on;
- a route or method that does not exist: JSON 404.
"""

import functools
import json
import logging
import secrets

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from sandbox.bitbadges import attempts as service_attempts
from sandbox.bitbadges import base as service_base
from sandbox.bitbadges import claims as service_claims
from sandbox.bitbadges import credits as service_credits
from sandbox.bitbadges import stores as service_stores
from sandbox.bitbadges.base import INVALID_PAYLOAD, BitBadgesError
from sandbox.bitbadges.faults import injectable
from sandbox.credentials import SANDBOX_CREDENTIALS

logger = logging.getLogger(__name__)

# DOCS@1951c5c api/README.md (missing key) and IDX-2024 src/indexer.ts:259-265 (bad key).
NO_KEY = "Unauthorized request. This route is only accessible with an API key."
BAD_KEY = "Unauthorized request. Error validating API key."
# unconfirmed: body-parser's own text for a body over its limit (raw-body).
TOO_LARGE = "request entity too large"
NOT_JSON = INVALID_PAYLOAD + "The request body is not valid JSON."  # unconfirmed
NOT_AN_OBJECT = INVALID_PAYLOAD + "The request body must be a JSON object."  # unconfirmed


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


def endpoint(name: str, *, ticks: bool = True):
    """Declare a route: fault name, API key, one credit, lazy work, BitBadges error bodies.
    (`ticks=False`: the route's service does the lazy work itself, first.)

    Whatever goes wrong inside answers with BitBadges' JSON, never Django's error page:
    the indexer's handlers catch everything and answer 500 {"errorMessage": e.message}.
    """

    def decorator(view):
        @injectable(name)
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            try:
                check_key(request)
                service_credits.credits_debit()
                if ticks:
                    service_attempts.tick()
                return view(request, *args, **kwargs)
            except BitBadgesError as exc:
                return JsonResponse(exc.as_body(), status=exc.status)
            except RequestDataTooBig:
                return error(413, TOO_LARGE)
            except SuspiciousOperation as exc:  # e.g. too many query fields
                return error(400, INVALID_PAYLOAD + str(exc))
            except Exception as exc:
                # The route, never the path: the legacy store route carries a secret in it.
                route = getattr(request.resolver_match, "route", "") or "an unknown route"
                logger.exception("The BitBadges sandbox failed on %s", route)
                return error(500, str(exc) or type(exc).__name__)

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


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def json_body(request):
    """The parsed body (any JSON value); an empty body is {} as Express's json parser
    makes it. Not JSON (NaN and Infinity included, as in JavaScript): 400."""
    if not request.body:
        return {}
    try:
        return json.loads(request.body, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BitBadgesError(400, NOT_JSON) from None


def json_object(request) -> dict:
    data = json_body(request)
    if not isinstance(data, dict):
        raise BitBadgesError(400, NOT_AN_OBJECT)
    return data


def query_true(request, name: str) -> bool:
    """The SDK's FromQuery: `query[name] === 'true'` (SDK-0.27.2 requests.ts:492-497, 658-665)."""
    return request.GET.get(name) == "true"


# --- Claims --------------------------------------------------------------------------


@endpoint("bitbadges.claims.complete", ticks=False)  # complete() ticks
def claims_complete(request, claim_id: str, address: str):
    """POST /api/v0/claims/complete/{claimId}/{address}: {"claimAttemptId": 64 hex}."""
    attempt = service_attempts.complete(claim_id, address, json_body(request))
    return JsonResponse({"claimAttemptId": attempt.attempt_id})


@endpoint("bitbadges.claims.simulate", ticks=False)  # simulate() ticks
def claims_simulate(request, claim_id: str, address: str):
    """POST /api/v0/claims/simulate/{claimId}/{address}: a placeholder attempt id."""
    return JsonResponse(
        {"claimAttemptId": service_attempts.simulate(claim_id, address, json_body(request))}
    )


@endpoint("bitbadges.claims.status")
def claims_status(request, attempt_id: str):
    """GET or POST /api/v0/claims/status/{claimAttemptId}."""
    status, body = service_attempts.attempt_status(attempt_id)
    return JsonResponse(body, status=status)


@endpoint("bitbadges.claims.attempts")
def claims_attempts(request, claim_id: str):
    """GET /api/v0/claims/{claimId}/attempts?address=&includeErrors=&bookmark=:
    {"docs": [...], "bookmark": "...", "total": n} (SDK-0.27.2 getClaimAttempts)."""
    return JsonResponse(
        service_attempts.claim_attempts(
            claim_id,
            address=request.GET.get("address", ""),
            include_errors=query_true(request, "includeErrors"),
            bookmark=request.GET.get("bookmark", ""),
        )
    )


@endpoint("bitbadges.claims.success")
def claims_success(request, claim_id: str, address: str):
    """GET /api/v0/claims/success/{claimId}/{address}: {successCount, claimNumbers}."""
    return JsonResponse(service_attempts.success_check(claim_id, address))


@public_api
def claims_success_route(request, claim_id: str, address: str):
    """The removed success route: an unknown route (no key check, no credit, no fault)
    unless SANDBOX_BITBADGES_SUCCESS_ROUTE is on; read on every request."""
    if not service_base.success_route_enabled():
        return not_found(request)
    return claims_success(request, claim_id, address)


claims_success_route.sandbox_endpoint = claims_success.sandbox_endpoint


@endpoint("bitbadges.claim.get")
def claim_get(request, claim_id: str):
    """GET /api/v0/claim/{claimId}?fetchPrivateParams=&fetchAllClaimedUsers=: {"claim"}.

    Private params need a signed-in creator or manager (IDX-2024 collections.ts:792); the
    sandbox has API keys only, so fetchPrivateParams=true is refused (500), and without it
    privateParams are emptied (collections.ts:852-859).
    """
    claim = service_base.claim_get(claim_id)
    if query_true(request, "fetchPrivateParams"):
        raise BitBadgesError(500, service_base.PRIVATE_PARAMS_REFUSED)
    return JsonResponse(
        {
            "claim": service_claims.claim_json(
                claim,
                claimed=query_true(request, "fetchAllClaimedUsers"),
                image_base=_image_base(request),
            )
        }
    )


@endpoint("bitbadges.claims.fetch")
def claims_fetch(request):
    """POST /api/v1/claims/fetch {claimsToFetch: [...]}: {"claims": [...]}.

    The older {claimIds: [...]} body is accepted too. Unknown (or malformed) ids are left
    out (IDX-2024 claims.ts:369-372: a `$in` query). An item asking for private params refuses the whole request as
    GET claim/{id} does (unconfirmed: the choice between refusing and stripping).
    """
    data = json_object(request)
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
            claim = service_base.claim_get(item["claimId"])
        except BitBadgesError as exc:
            if exc.message in (service_base.NO_DOC, service_base.BAD_CLAIM_ID):
                continue  # the indexer's $in query simply does not find it
            raise
        if item.get("fetchPrivateParams") is True:
            raise BitBadgesError(500, service_base.PRIVATE_PARAMS_REFUSED)
        claims.append(
            service_claims.claim_json(
                claim,
                claimed=item.get("fetchAllClaimedUsers") is True,
                image_base=_image_base(request),
            )
        )
    return JsonResponse({"claims": claims})


def _image_base(request) -> str:
    return request.build_absolute_uri(reverse("sandbox:bitbadges:claim-image", args=["x"]))[
        : -len("images/x.png")
    ]


@csrf_exempt  # as every route of the emulated API (nothing to forge: GET only)
@login_not_required
@require_GET
def claim_image(request, claim_id: str):
    """GET images/<claimId>.png: the badge image a sandbox claim's metadata points at (a
    stand-in for where BitBadges hosts metadata images; no API key, like an image host)."""
    if not service_claims.BitBadgesClaim.objects.filter(claim_id=claim_id).exists():
        return error(404, service_base.NO_DOC)
    response = HttpResponse(service_claims.badge_png(claim_id), content_type="image/png")
    response["Cache-Control"] = "public, max-age=3600"
    return response


@csrf_exempt  # as every route under sandbox/bitbadges/ (GET only)
@login_not_required
@require_GET
def claim_page(request, claim_id: str):
    """GET claims/<claimId>: the sandbox's stand-in for the claim's page on bitbadges.io
    (https://bitbadges.io/claims/<claimId>), where the app's "View on BitBadges" goes in
    sandbox mode. Public, like BitBadges' page: the claim's name, picture and uses, never
    its password or store secret."""
    claim = service_claims.BitBadgesClaim.objects.filter(claim_id=claim_id).first()
    if claim is None:
        raise Http404("No such sandbox claim")
    metadata = service_claims.claim_json(claim, image_base=_image_base(request))["metadata"]
    own = metadata["image"].startswith(_image_base(request))
    return render(
        request,
        "sandbox/bitbadges_claim_page.html",
        {
            "claim": claim,
            "name": metadata["name"],
            "image": metadata["image"] if own else "",
            "real_url": f"https://bitbadges.io/claims/{claim.claim_id}",
        },
    )


# --- Dynamic stores ------------------------------------------------------------------


@endpoint("bitbadges.store.actions")
def store_action_single(request):
    """POST /api/v0/storeActions/single: {} (the action lands after the store lag)."""
    data = json_object(request)
    action = service_stores.parse_store_action(data.get("actionName"), data.get("payload"))
    service_stores.store_actions_record(
        data.get("dynamicDataId"),
        data.get("dataSecret"),
        [action],
        simulate=data.get("_isSimulation") is True,
    )
    return JsonResponse({})


@endpoint("bitbadges.store.actions")
def store_action_batch(request):
    """POST /api/v0/storeActions/batch: {} (all actions validated before any is queued)."""
    data = json_object(request)
    items = data.get("actions")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise BitBadgesError(400, "actions must be an array of {actionName, payload}.")
    actions = [
        service_stores.parse_store_action(i.get("actionName"), i.get("payload")) for i in items
    ]
    service_stores.store_actions_record(
        data.get("dynamicDataId"),
        data.get("dataSecret"),
        actions,
        simulate=data.get("_isSimulation") is True,
    )
    return JsonResponse({})


@endpoint("bitbadges.store.actions")
def store_action_legacy(request, action: str, store_id: str, secret: str):
    """POST /api/v0/storeActions/{action}/{id}/{secret} with {address}: the legacy form."""
    data = json_object(request)
    if "address" not in data:
        raise BitBadgesError(400, "address is required: stores hold addresses only.")
    parsed = service_stores.parse_store_action(action, {"address": data["address"]})
    service_stores.store_actions_record(store_id, secret, [parsed])
    return JsonResponse({})


@endpoint("bitbadges.store.value")
def store_value(request, store_id: str):
    """GET /api/v0/dynamicStore/{id}/value?key=&dataSecret=: {key, inStore}."""
    return JsonResponse(
        service_stores.store_value(store_id, request.GET.get("dataSecret"), request.GET.get("key"))
    )


@public_api
def not_found(request, *args, **kwargs):
    """Anything else under the API: a JSON 404."""
    return error(404, f"Route not found: {request.method} {request.path}")

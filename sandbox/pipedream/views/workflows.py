"""The emulated Pipedream's demo workflows: HTTP-triggered endpoints under workflows/."""

import json
import time

from django.http import HttpResponse, JsonResponse

from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import base as bb_base
from sandbox.bitbadges import demo as bb_demo
from sandbox.common.faults import injectable
from sandbox.credentials import SANDBOX_CREDENTIALS
from sandbox.pipedream import catalogue, services
from sandbox.pipedream.actions import ACTIONS
from sandbox.pipedream.models import Account, Environment
from sandbox.pipedream.views.base import ENVIRONMENTS, _bearer, error, public_api

# --- Workflows -----------------------------------------------------------------------


# Pipedream's default HTTP response, byte for byte as a real endpoint sent it (a 2020
# capture: helium/console assets/js/components/common/Debug.jsx@636b4b8, 179 bytes,
# Content-Type text/html; charset=UTF-8; the docs-v2 triggers page prints the same text
# with another anchor), and the JSON form a 2022 capture recorded (pretty-printed, with a
# trailing newline).
DEFAULT_RESPONSE_HTML = (
    "<p><b>Success!</b></p>\n<p>To customize this response, check out our docs "
    '<a href="https://docs.pipedream.com/workflows/steps/triggers/'
    '#customizing-the-http-response">here</a></p>\n'
)
DEFAULT_RESPONSE_JSON = {
    "success": True,
    "info": "To customize this response, check out our docs at "
    "https://pipedream.com/docs/workflows/steps/triggers/#customizing-the-http-response",
}
# docs-v2 triggers.mdx "Errors with HTTP Responses": a workflow that throws before
# $.respond. unconfirmed: the Content-Type (no source); text/plain here.
NO_RESPOND = "No $.respond called in workflow"
# The official action's one sentence for every failure (PipedreamHQ/pipedream
# components/bitbadges/actions/complete-claim.mjs@11e39611); it never reaches the caller.
ACTION_FAILED = "Failed to complete claim. Please try again later."


def _default_response(kind: str) -> HttpResponse:
    if kind == "default-json":
        response = HttpResponse(
            json.dumps(DEFAULT_RESPONSE_JSON, indent=2) + "\n",
            content_type="application/json; charset=utf-8",
        )
    else:
        response = HttpResponse(DEFAULT_RESPONSE_HTML, content_type="text/html; charset=UTF-8")
    response["x-pd-status"] = "sent to coordinator"  # as in the 2020 capture
    return response


def _no_respond() -> HttpResponse:
    return HttpResponse(NO_RESPOND, status=400, content_type="text/plain; charset=utf-8")


@public_api
@injectable("pipedream.workflows.invoke")
def workflow_invoke(request, endpoint_id: str):
    """Any method /workflows/{endpoint_id}/: an HTTP-triggered workflow run for a user.

    Stands in for https://{endpoint_id}.m.pipedream.net (docs §5): needs an OAuth access
    token and X-PD-External-User-ID; X-PD-Environment defaults to production.

    A workflow whose trigger is left on the default response ("default-html",
    "default-json") answers 200 with Pipedream's default body whatever its steps did.
    The real one answers before the steps run (docs-v2 faq.mdx: "sent to the caller
    immediately, before the rest of the workflow steps are executed"); the sandbox has
    no background runs, so it runs them first, then answers the same.
    """
    workflow = catalogue.WORKFLOWS.get(endpoint_id)
    if workflow is None:
        return error(404, f"Workflow endpoint {endpoint_id} not found.")
    raw = _bearer(request)
    if raw is None or raw.startswith("ctok_") or services.oauth_token_lookup(raw) is None:
        return error(401, "Unauthorized: send Authorization: Bearer <OAuth access token>.")
    response = _workflow_run(request, endpoint_id, workflow)
    kind = workflow.get("response", "custom")
    if kind in ("default-html", "default-json"):
        return _default_response(kind)
    return response


def _workflow_run(request, endpoint_id: str, workflow: dict) -> HttpResponse:
    """The workflow's steps after the trigger accepted the request; their answer."""
    external_user_id = request.headers.get("X-PD-External-User-ID", "").strip()
    if not external_user_id:
        return error(400, "Pipedream Connect Error: the X-PD-External-User-ID header is required.")
    environment = request.headers.get("X-PD-Environment") or Environment.PRODUCTION
    if environment not in ENVIRONMENTS:
        return error(400, f"Invalid X-PD-Environment {environment!r}.")
    app_slug = workflow["app"]
    account = (
        Account.objects.scoped(SANDBOX_CREDENTIALS["project_id"], environment)
        .filter(user__external_id=external_user_id, app_slug=app_slug, dead=False)
        .order_by("-created_at", "-account_id")  # the newest (users.mdx), healthy or not
        .first()
    )
    if account is None:
        return error(
            400,
            f"Pipedream Connect Error: Required account for {app_slug} not found for "
            f"external user ID {external_user_id} in {environment}",
        )
    try:
        body = json.loads(request.body) if request.body else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = request.body.decode(errors="replace")
    if workflow.get("claim"):
        return _workflow_claim(workflow, account, body)
    if app_slug == "discord":
        # The demo workflow's own code step: is the account in the demo guild?
        guild = ((account.profile or {}).get("guilds") or {}).get(catalogue.DEMO_GUILD_ID)
        result = {
            "guild_id": catalogue.DEMO_GUILD_ID,
            "member": guild is not None,
            "roles": (guild or {}).get("roles", []),
        }
    else:
        _, result = ACTIONS["github-get-current-user"].run(account.profile, {})
    return JsonResponse(
        {
            "success": True,
            "workflow": endpoint_id,
            "external_user_id": external_user_id,
            "environment": environment,
            "account": {"id": account.account_id, "name": account.name, "app": app_slug},
            "result": result,
            "body": body,
        }
    )


def _workflow_claim(workflow: dict, account: Account, body) -> HttpResponse:
    """The claim workflow's steps: a healthy account, an address, the criterion, then
    complete the demo claim through the emulated BitBadges (no HTTP, no API credit:
    unconfirmed whose key a real workflow would spend).

    With the official action as the BitBadges step ("response": "action"), any failure
    of that step (a malformed address, a BitBadges refusal) is thrown as ACTION_FAILED
    before $.respond runs: the caller gets 400 "No $.respond called in workflow".
    """
    action = workflow.get("response") == "action"
    if not account.healthy:
        return error(
            400, f"Account {account.account_id} is unhealthy: {account.error or 'reconnect it'}."
        )
    address = body.get("address") if isinstance(body, dict) else None
    if not isinstance(address, str) or not address.strip():
        return error(
            400, 'The body must be JSON with the member\'s address: {"address": "bb1..."}.'
        )
    try:
        bb_address = bb_base.bb_address(address.strip())
    except bb_base.BitBadgesError as exc:
        return _no_respond() if action else error(400, exc.message)
    repos = (account.profile or {}).get("public_repos") or 0
    wanted = workflow["min_public_repos"]
    if not isinstance(repos, int) or repos < wanted:
        return JsonResponse(
            {
                "success": False,
                "error": f"The GitHub account needs at least {wanted} public repo(s); "
                f"it has {repos}.",
            },
            status=400,
        )
    demo = bb_demo.demo_claims_ensure()[workflow["claim"]]
    try:
        attempt = bb_attempts.complete(  # it ticks first
            demo["claim_id"],
            bb_address,
            {
                "_expectedVersion": -1,
                demo["password_instance_id"]: {"password": demo["password"]},
            },
        )
    except bb_base.BitBadgesError as exc:
        if action:
            return _no_respond()  # the action threw ACTION_FAILED; nothing responded
        return JsonResponse({"success": False, "error": exc.message}, status=400)
    if action:
        # complete-claim.mjs@11e39611: {success, claimAttemptId, currentTimestamp: Date.now()}
        return JsonResponse(
            {
                "success": True,
                "claimAttemptId": attempt.attempt_id,
                "currentTimestamp": int(time.time() * 1000),
            }
        )
    return JsonResponse(
        {
            "success": True,
            "claimAttemptId": attempt.attempt_id,
            "claimId": demo["claim_id"],
            "bitbadgesAddress": bb_address,
            "account": {"id": account.account_id, "name": account.name, "app": account.app_slug},
            "currentTimestamp": int(attempt.created_at.timestamp() * 1000),
        }
    )

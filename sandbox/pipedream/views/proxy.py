"""The emulated Pipedream's proxy view (what it answers: sandbox/pipedream/proxy.py)."""

import json

from django.http import HttpResponse, JsonResponse

from sandbox.pipedream import proxy
from sandbox.pipedream.models import Account
from sandbox.pipedream.views.base import ACCOUNT_MISMATCH, ApiError, Caller, endpoint

# --- Proxy ---------------------------------------------------------------------------


@endpoint("pipedream.proxy")
def proxy_request(request, caller: Caller, url_64: str):
    """Any of GET|POST|PUT|PATCH|DELETE /v1/connect/{project_id}/proxy/{url_64}.

    The upstream's answer comes back as it is (status, JSON body); the sandbox's own
    refusals are Pipedream-style errors: 400 for a bad url_64, a missing parameter,
    someone else's account or a dead/unhealthy one; 403 for a host outside the app's
    allowed domains; 404 for an upstream endpoint the sandbox does not emulate.
    """
    try:
        url = proxy.decode_url(url_64)
    except proxy.ProxyError as exc:
        raise ApiError(exc.status, exc.message) from exc
    external_user_id = request.GET.get("external_user_id", "")
    account_id = request.GET.get("account_id", "")
    if not external_user_id or not account_id:
        raise ApiError(400, "external_user_id and account_id are required (query parameters).")
    account = (
        Account.objects.scoped(caller.project_id, caller.environment)
        .filter(account_id=account_id)
        .select_related("user")
        .first()
    )
    if (
        account is None
        or account.user.external_id != external_user_id
        or (caller.external_user_id is not None and caller.external_user_id != external_user_id)
    ):
        raise ApiError(400, ACCOUNT_MISMATCH)
    if account.dead or not account.healthy:
        state = "dead" if account.dead else "unhealthy"
        raise ApiError(
            400, f"Account {account.account_id} is {state}: {account.error or 'reconnect it'}."
        )
    body = None
    if request.body:
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            body = request.body.decode(errors="replace")
    forwarded = proxy.forwarded_headers(request.headers)
    try:
        status, answer = proxy.answer(account, request.method, url, body)
    except proxy.ProxyError as exc:
        raise ApiError(exc.status, exc.message) from exc
    if answer is None:
        response = HttpResponse(status=status)
    else:
        response = JsonResponse(answer, status=status, safe=False)
    if forwarded:
        # Names only, never values: what a test or a person can check reached "upstream".
        response["X-Sandbox-Proxy-Forwarded"] = ", ".join(sorted(forwarded))
    return response

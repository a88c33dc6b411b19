"""The emulated Pipedream's accounts and external users views."""

import json

from django.http import HttpResponse, JsonResponse

from sandbox.pipedream import catalogue, services, webhooks
from sandbox.pipedream.models import Account, ExternalUser
from sandbox.pipedream.views.base import (
    ACCOUNT_MISMATCH,
    APP_NOT_FOUND,
    CONNECT,
    OAUTH,
    RECORD_NOT_FOUND,
    ApiError,
    Caller,
    _bearer,
    base_url,
    endpoint,
    json_body,
    query_bool,
    query_cursors,
    query_limit,
)

# --- Accounts ------------------------------------------------------------------------


def _accounts(caller: Caller):
    accounts = Account.objects.scoped(caller.project_id, caller.environment).select_related("user")
    if caller.external_user_id is not None:
        accounts = accounts.filter(user__external_id=caller.external_user_id)
    return accounts


def _filter_app(accounts, app_param: str):
    if not app_param:
        return accounts
    app = catalogue.find_app(app_param)
    return accounts.filter(app_slug=app["name_slug"]) if app else accounts.none()


def _account_or_404(caller: Caller, account_id: str) -> Account:
    account = _accounts(caller).filter(account_id=account_id).first()
    if account is None:
        raise ApiError(404, RECORD_NOT_FOUND)
    return account


@endpoint("pipedream.accounts.list")
def accounts_list(request, caller: Caller):
    """GET /v1/connect/{project_id}/accounts: {data, page_info}, paged by account id."""
    accounts = _accounts(caller)
    if external_user_id := request.GET.get("external_user_id"):
        accounts = accounts.filter(user__external_id=external_user_id)
    if oauth_app_id := request.GET.get("oauth_app_id"):
        accounts = accounts.filter(oauth_app_id=oauth_app_id)
    accounts = _filter_app(accounts, request.GET.get("app", ""))
    include_credentials = query_bool(request, "include_credentials")
    after, before = query_cursors(request)
    page = services.paginate(
        accounts, key="account_id", limit=query_limit(request), after=after, before=before
    )
    base = base_url(request)
    return JsonResponse(
        {
            "data": [
                services.account_json(a, base_url=base, include_credentials=include_credentials)
                for a in page.items
            ],
            "page_info": services.page_info(page, lambda a: a.account_id),
        }
    )


@endpoint("pipedream.accounts.create", auth=(CONNECT,))
def accounts_create(request, caller: Caller):
    """POST /v1/connect/{project_id}/accounts: the hosted UI's call for key-based apps."""
    data = json_body(request)
    token = caller.connect_token
    body_token = data.get("connect_token")
    if body_token and services.connect_token_lookup(body_token) != token:
        raise ApiError(400, "connect_token does not match the bearer token.")
    external_user_id = request.GET.get("external_user_id")
    if external_user_id and external_user_id != token.external_user_id:
        raise ApiError(400, ACCOUNT_MISMATCH)
    app_slug = data.get("app_slug")
    if not isinstance(app_slug, str) or catalogue.find_app(app_slug) is None:
        raise ApiError(400, APP_NOT_FOUND)
    cfmap = data.get("cfmap_json") or "{}"
    try:
        custom_fields = json.loads(cfmap) if isinstance(cfmap, str) else None
    except ValueError:
        custom_fields = None
    if not isinstance(custom_fields, dict):
        raise ApiError(400, "cfmap_json must be a JSON object encoded as a string.")
    try:
        account = services.account_connect(
            token=token,
            app_slug=app_slug,
            name=str(data.get("name") or ""),
            oauth_app_id=request.GET.get("oauth_app_id", ""),
            account_id=str(data.get("account_id") or ""),
            custom_fields={str(k): str(v) for k, v in custom_fields.items()},
        )
    except services.ConnectError as exc:
        raise ApiError(400, str(exc)) from exc
    base = base_url(request)
    response = JsonResponse(services.account_json(account, base_url=base))
    delivery = webhooks.connection_success(
        raw_token=_bearer(request), token=token, account=account, base_url=base
    )
    return webhooks.send_after_response(response, [delivery] if delivery else [])


@endpoint("pipedream.accounts.get")
def account_get(request, caller: Caller, account_id: str):
    """GET /v1/connect/{project_id}/accounts/{account_id}: a bare Account."""
    account = _account_or_404(caller, account_id)
    return JsonResponse(
        services.account_json(
            account,
            base_url=base_url(request),
            include_credentials=query_bool(request, "include_credentials"),
        )
    )


@endpoint("pipedream.accounts.delete")
def account_delete(request, caller: Caller, account_id: str):
    """DELETE /v1/connect/{project_id}/accounts/{account_id}: 204."""
    _account_or_404(caller, account_id).delete()
    return HttpResponse(status=204)


@endpoint("pipedream.accounts.delete_by_app")
def accounts_delete_by_app(request, caller: Caller, app_id: str):
    """DELETE /v1/connect/{project_id}/apps/{app_id}/accounts: 204 (slug, app_ or oa_ id)."""
    accounts = _accounts(caller)
    if app_id.startswith("oa_"):
        accounts = accounts.filter(oauth_app_id=app_id)
    else:
        accounts = _filter_app(accounts, app_id)
    accounts.delete()
    return HttpResponse(status=204)


# --- External users ------------------------------------------------------------------


def _users(caller: Caller):
    users = ExternalUser.objects.filter(
        project_id=caller.project_id, environment=caller.environment
    )
    if caller.external_user_id is not None:
        users = users.filter(external_id=caller.external_user_id)
    return users


@endpoint("pipedream.users.list", auth=(OAUTH,))
def users_list(request, caller: Caller):
    """GET /v1/connect/{project_id}/users: {data: [ExternalUser], page_info}."""
    users = _users(caller)
    if q := request.GET.get("q"):
        users = users.filter(external_id__icontains=q)
    after, before = query_cursors(request)
    page = services.paginate(
        users, key="public_id", limit=query_limit(request), after=after, before=before
    )
    return JsonResponse(
        {
            "data": [services.external_user_json(user) for user in page.items],
            "page_info": services.page_info(page, lambda user: user.public_id),
        }
    )


@endpoint("pipedream.users.accounts")
def user_accounts(request, caller: Caller, external_user_id: str):
    """GET /v1/connect/{project_id}/users/{external_user_id}/accounts: a bare array."""
    accounts = _filter_app(
        _accounts(caller).filter(user__external_id=external_user_id), request.GET.get("app", "")
    )
    include_credentials = query_bool(request, "include_credentials")
    base = base_url(request)
    data = [
        services.account_json(a, base_url=base, include_credentials=include_credentials)
        for a in accounts.order_by("account_id")
    ]
    return JsonResponse(data, safe=False)


@endpoint("pipedream.users.delete")
def user_delete(request, caller: Caller, external_user_id: str):
    """DELETE /v1/connect/{project_id}/users/{external_user_id}: the user and their accounts."""
    user = _users(caller).filter(external_id=external_user_id).first()
    if user is None:
        raise ApiError(404, RECORD_NOT_FOUND)
    user.delete()  # cascades to the accounts
    return HttpResponse(status=204)

"""Calling the read API in tests, every answer checked against the OpenAPI description
the API itself serves (/api/v1/openapi.json), with openapi-core."""

import functools

from allauth.socialaccount.models import SocialAccount
from django.test import Client
from openapi_core import OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse

from api import keys
from api.models import ApiKey, Scope
from users.hostsso import PROVIDER_ID

DESCRIPTION_URL = "/api/v1/openapi.json"
ALL_SCOPES = [Scope.COMPLETIONS_READ.value, Scope.ACCOUNTS_READ.value]


@functools.cache
def served_description() -> dict:
    response = Client().get(DESCRIPTION_URL)
    assert response.status_code == 200
    return response.json()


@functools.cache
def _openapi() -> OpenAPI:
    return OpenAPI.from_dict(served_description())


def described(response):
    """`response` (from the test Client), after checking it fits the description: its
    status is one the operation lists, its body and headers fit that status's schema."""
    _openapi().validate_response(
        DjangoOpenAPIRequest(response.wsgi_request), DjangoOpenAPIResponse(response)
    )
    return response


def make_key(*, scopes=None, name="Host site", **fields) -> tuple[str, ApiKey]:
    """A key as the admin makes one: (the key, its row)."""
    key, prefix, digest = keys.new_key()
    row = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        digest=digest,
        scopes=ALL_SCOPES if scopes is None else scopes,
        **fields,
    )
    return key, row


def host_signed_on(member, host_id: str):
    """`member` as one who signed on from the host site, which knows them by `host_id`."""
    SocialAccount.objects.create(user=member, provider=PROVIDER_ID, uid=host_id)
    return member


class ApiClient:
    """The test Client, calling with a bearer key and checking each answer."""

    def __init__(self, client: Client, key: str = ""):
        self.client = client
        self.key = key

    def get(
        self,
        path: str,
        params: dict | None = None,
        *,
        key: str | None = None,
        headers: dict | None = None,
        **extra,
    ):
        """GET `path` with the key (or `key`); `headers` as sent, `extra` into META."""
        key = self.key if key is None else key
        headers = dict(headers or {})
        if key:
            headers.setdefault("authorization", f"Bearer {key}")
        response = self.client.get(path, params or {}, headers=headers, **extra)
        return described(response)

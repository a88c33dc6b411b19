"""The host site's OpenID Connect app: django-allauth's openid_connect provider, its app
provider_id "host" (users.hostsso.PROVIDER_ID), built from settings (never a database
row: users/siwbb/adapter.py lists it).

allauth finds the provider class here (`provider_classes`, this app being installed);
what it does differently from allauth's own:
- its URLs are ours (/auth/oidc/host/...), the redirect URI always on PUBLIC_URL;
- PKCE (S256) and a nonce on every sign-in; the scopes are fixed, never from the query;
- the discovery document, the token answer, the id_token (always its signature) and the
  userinfo answer are checked by client.py, discovery.py and tokens.py, and any failure
  is a HostFailure (the member's page: wording.py);
- no token is kept, and the account's extra_data is only what tokens.identity keeps.
"""

from __future__ import annotations

import secrets

from allauth.account.models import EmailAddress
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialToken
from allauth.socialaccount.providers.oauth2.utils import generate_code_challenge
from allauth.socialaccount.providers.openid_connect.provider import (
    OpenIDConnectProvider,
    OpenIDConnectProviderAccount,
)
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import urlencode

from users.hostsso import PROVIDER_ID, client, config, discovery, tokens

SCOPE = ["openid", "email", "profile"]


class HostOIDCAdapter(OpenIDConnectOAuth2Adapter):
    # The state of the sign-in coming back (views.HostCallbackView sets it): its nonce.
    state: dict

    def __init__(self, request: HttpRequest, provider_id: str = PROVIDER_ID) -> None:
        super().__init__(request, PROVIDER_ID)
        self.state = {}

    @property
    def openid_config(self) -> dict:
        return discovery.read(self.request)

    @property
    def basic_auth(self) -> bool:
        return self.openid_config["basic_auth"]

    def get_callback_url(self, request, app) -> str:
        return config.callback_url()

    def get_client(self, request, app) -> client.HostClient:
        def endpoints() -> tuple[str, bool]:
            return self.openid_config["token_endpoint"], self.basic_auth

        return client.HostClient(request, app.client_id, app.secret, endpoints)

    def parse_token(self, data) -> SocialToken:
        # The access token reads userinfo once, here; nothing of it is kept.
        return SocialToken(token=data["access_token"])

    def complete_login(self, request, app, token, **kwargs):
        document = self.openid_config
        claims = tokens.verify_id_token(
            kwargs["response"]["id_token"],
            document=document,
            client_id=app.client_id,
            nonce=self.state.get("nonce") or "",
        )
        info = tokens.userinfo(document, token.token, claims["sub"])
        token.token = ""
        return self.get_provider().sociallogin_from_response(request, tokens.identity(claims, info))


class HostAccount(OpenIDConnectProviderAccount):
    def to_str(self) -> str:
        data = self.account.extra_data or {}
        return data.get("email") or data.get("preferred_username") or self.account.uid


class HostProvider(OpenIDConnectProvider):
    """allauth's OpenID Connect provider, for the host site's app only."""

    account_class = HostAccount
    oauth2_adapter_class = HostOIDCAdapter

    def get_oauth2_adapter(self, request: HttpRequest) -> HostOIDCAdapter:
        return HostOIDCAdapter(request)

    def get_login_url(self, request: HttpRequest, **kwargs) -> str:
        url = reverse(f"{PROVIDER_ID}_login")
        return f"{url}?{urlencode(kwargs)}" if kwargs else url

    def get_callback_url(self) -> str:
        return reverse(f"{PROVIDER_ID}_callback")

    def get_scope(self) -> list[str]:
        return list(SCOPE)

    def get_scope_from_request(self, request: HttpRequest) -> list[str]:
        return list(SCOPE)  # never a scope from the query string

    def get_auth_params(self) -> dict:
        return {}

    def get_auth_params_from_request(self, request: HttpRequest, action) -> dict:
        return {}  # nor parameters for the host's page

    def get_pkce_params(self) -> dict:
        return generate_code_challenge()  # PKCE S256, always

    def redirect(self, request: HttpRequest, process, next_url=None, data=None, **kwargs):
        # A fresh nonce for each sign-in, kept in its state: the id_token must carry it.
        nonce = secrets.token_urlsafe(32)
        kwargs.pop("auth_params", None)
        kwargs.pop("scope", None)
        return super().redirect(
            request, process, next_url, data, auth_params={"nonce": nonce}, nonce=nonce, **kwargs
        )

    def verify_token(self, request: HttpRequest, token):
        # Logging in with a token the client brings (allauth's headless API) is not offered.
        raise get_adapter().validation_error("invalid_token")

    def extract_uid(self, data: dict) -> str:
        return data["sub"]

    def extract_extra_data(self, data: dict) -> dict:
        return dict(data)

    def extract_common_fields(self, data: dict) -> dict:
        return {"email": data["email"]} if data.get("email") else {}

    def extract_email_addresses(self, data: dict) -> list[EmailAddress]:
        if not data.get("email"):
            return []
        return [EmailAddress(email=data["email"], verified=data["email_verified"], primary=True)]


provider_classes = [HostProvider]

"""Connect tokens (what lets one member connect one account) and Connect Link URLs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from connections.pipedream.client import PipedreamBase, compact, segment
from core.client import body_or_text


@dataclass(frozen=True)
class ConnectToken:
    """A short-lived token that lets one external user connect one account."""

    token: str
    expires_at: datetime
    connect_link_url: str

    def as_json(self) -> dict[str, str]:
        return {
            "token": self.token,
            "expires_at": self.expires_at.isoformat(),
            "connect_link_url": self.connect_link_url,
        }


class ConnectTokens(PipedreamBase):
    def create_connect_token(
        self,
        *,
        external_user_id: str,
        allowed_origins: list[str] | None = None,
        success_redirect_uri: str | None = None,
        error_redirect_uri: str | None = None,
        webhook_uri: str | None = None,
        expires_in: int | None = None,
        scope: str | None = None,
        allow_progressive_scopes: bool | None = None,
    ) -> ConnectToken:
        operation = "create a Connect token"
        payload = compact(
            {
                "external_user_id": external_user_id,
                # The published description marks project_id required in the body too.
                "project_id": self.project_id,
                "allowed_origins": allowed_origins,
                "success_redirect_uri": success_redirect_uri,
                "error_redirect_uri": error_redirect_uri,
                "webhook_uri": webhook_uri,
                "expires_in": expires_in,
                "scope": scope,
                "allow_progressive_scopes": allow_progressive_scopes,
            }
        )
        body = self._request_json(
            "POST", self._project_path("tokens"), operation=operation, json_body=payload
        )
        fields = ("token", "expires_at", "connect_link_url")
        body = self._require(body, fields, operation)
        if not all(isinstance(body[name], str) and body[name] for name in fields):
            raise self._invalid(
                body, operation, "token, expires_at and connect_link_url must be text"
            )
        return ConnectToken(
            token=body["token"],
            expires_at=self._parse_datetime(body["expires_at"], body, operation),
            connect_link_url=body["connect_link_url"],
        )

    def validate_connect_token(
        self,
        token: str,
        *,
        app: str,
        account_id: str | None = None,
        oauth_app_id: str | None = None,
    ) -> dict[str, Any]:
        """Ask Pipedream whether a Connect token is usable for `app`.

        Returns the ValidateTokenResponse (`success`, `error`, `app`, ...); a token that
        is invalid or expired is `success: false`, not an exception. Whether Pipedream
        reports that with 200 or a 4xx is unconfirmed, so both are accepted.
        """
        operation = f"validate a Connect token for {app}"
        response = self._call(
            "GET",
            self.api_url + f"/v1/connect/tokens/{segment(token)}/validate",
            operation=operation,
            idempotent=True,
            auth=False,
            params=compact({"app_id": app, "account_id": account_id, "oauth_app_id": oauth_app_id}),
            raise_for_status=False,
        )
        status = response.status_code
        if status < 400:
            body = self._parse_json(response, operation)
            body = self._require(body, ("success",), operation)
            return body
        if 400 <= status < 500 and status != 429:
            body = body_or_text(response)
            if isinstance(body, dict) and body.get("success") is False:
                return body
        raise self.error_from_response(response, operation)


def connect_link_url(
    connect_link_url: str,
    *,
    app: str,
    oauth_app_id: str | None = None,
    account_id: str | None = None,
) -> str:
    """The Connect Link URL for `app` (Pipedream's page fails without `app`).

    `account_id` reconnects that account in place; `oauth_app_id` picks your own
    OAuth client for the app.
    """
    parts = urlsplit(connect_link_url)
    extra = compact({"app": app, "oauthAppId": oauth_app_id, "accountId": account_id})
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in extra]
    query += list(extra.items())
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))

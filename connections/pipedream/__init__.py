"""Client for the Pipedream Connect REST API: the only code that speaks HTTP to Pipedream.

What it guarantees, so that callers need not:
- one OAuth access token (client-credentials grant) shared through Django's cache by
  every thread and process, refreshed two minutes before it expires, fetched by one
  caller at a time, and fetched afresh once if Pipedream answers 401;
- a timeout on every call, and retries with backoff only where a retry is safe:
  idempotent calls on timeouts and 5xx, every call on 429 (nothing was processed);
- one error family (`PipedreamError`) whose text a person can act on, and never a
  client secret, OAuth token or Connect token in an error message or a log line.

The retry loop, Retry-After, redaction and logging are core.client.BaseApiClient's.
Here: `client` (settings, the OAuth token, Pipedream's hooks), `errors`, and one module
per resource (`connect`, `accounts`, `apps`, `components`, `actions`, `triggers`,
`proxy`), each a mixin that PipedreamClient below puts together.
"""

from connections.pipedream.accounts import Accounts
from connections.pipedream.actions import Actions
from connections.pipedream.apps import Apps
from connections.pipedream.client import BACKOFF_BASE, BACKOFF_CAP, MAX_RETRY_AFTER, PipedreamBase
from connections.pipedream.components import (
    Components,
    NoAppProp,
    app_prop,
    missing_props,
    missing_text,
    reloads_props,
)
from connections.pipedream.connect import ConnectToken, ConnectTokens, connect_link_url
from connections.pipedream.errors import (
    BadRequest,
    InvalidResponse,
    NotConfigured,
    NotFound,
    PipedreamError,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from connections.pipedream.proxy import Proxy, ProxyResponse
from connections.pipedream.triggers import Triggers


class PipedreamClient(
    ConnectTokens, Accounts, Apps, Components, Actions, Triggers, Proxy, PipedreamBase
):
    """Every endpoint this site uses, over one OAuth token and one pooled session."""


def get_client() -> PipedreamClient:
    """The client for the current settings; cheap enough to call once per request."""
    return PipedreamClient.from_settings()


# Drop the kept-alive connections (tests, and a worker about to fork).
close_shared_session = PipedreamBase.pool.close

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "MAX_RETRY_AFTER",
    "BadRequest",
    "ConnectToken",
    "InvalidResponse",
    "NotConfigured",
    "NoAppProp",
    "NotFound",
    "PipedreamClient",
    "PipedreamError",
    "ProxyResponse",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
    "app_prop",
    "close_shared_session",
    "connect_link_url",
    "get_client",
    "missing_props",
    "missing_text",
    "reloads_props",
]

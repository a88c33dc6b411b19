"""Client for the BitBadges API: the only code that speaks HTTP to BitBadges.

What it guarantees, so that callers need not:
- a timeout on every call, and retries with backoff only where a retry is safe:
  idempotent calls on timeouts, dropped connections and unrecognised 5xx; every call
  on 429 (nothing was processed); `complete` never once the request may have left;
- one error family (`BitBadgesError`) classified from BitBadges' own error text first
  and the status code second (IDX-2024 answered 500 for every claim failure), whose
  text a person can act on, and never the API key or a store's data secret in an
  error message or a log line;
- addresses checked before any request, path segments quoted so that an id cannot
  change the route, and the answers checked before they are believed.

The retry loop, Retry-After, redaction and logging are core.client.BaseApiClient's.
Here: `client` (settings, BitBadges' hooks and checks), `errors` (with
`classify_claim_error`), and one module per resource (`attempts`, `claims`, `stores`),
each a mixin that BitBadgesClient below puts together.
"""

from claims.bitbadges.attempts import (
    POLL_CAP,
    POLL_GROWTH,
    SIMULATED_ATTEMPT_ID,
    Attempts,
    AttemptStatus,
)
from claims.bitbadges.claims import AttemptsPage, ClaimAttempt, Claims
from claims.bitbadges.client import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    DEFAULT_SITE_URL,
    MAX_RETRY_AFTER,
    BitBadgesBase,
)
from claims.bitbadges.errors import (
    AlreadyClaimed,
    AttemptTimeout,
    BitBadgesError,
    CannotVerify,
    ClaimExhausted,
    ClaimHalted,
    ClaimMisconfigured,
    ClaimNotFound,
    ClaimRejected,
    InvalidAddress,
    InvalidResponse,
    NotConfigured,
    NotWhitelisted,
    OutsideWindow,
    PaymentRequired,
    RateLimited,
    SignInRequired,
    StoreRefused,
    Unauthorized,
    Unavailable,
    VersionMismatch,
    WrongPassword,
    classify_claim_error,
)
from claims.bitbadges.stores import Stores


class BitBadgesClient(Attempts, Claims, Stores, BitBadgesBase):
    """Every endpoint this site uses, over one API key and one pooled session."""


def get_client() -> BitBadgesClient:
    """The client for the current settings; cheap enough to call once per request."""
    return BitBadgesClient.from_settings()


# Drop the kept-alive connections (tests, and a worker about to fork).
close_shared_session = BitBadgesBase.pool.close

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "DEFAULT_SITE_URL",
    "MAX_RETRY_AFTER",
    "POLL_CAP",
    "POLL_GROWTH",
    "SIMULATED_ATTEMPT_ID",
    "AlreadyClaimed",
    "AttemptStatus",
    "AttemptTimeout",
    "AttemptsPage",
    "BitBadgesClient",
    "BitBadgesError",
    "CannotVerify",
    "ClaimAttempt",
    "ClaimExhausted",
    "ClaimHalted",
    "ClaimMisconfigured",
    "ClaimNotFound",
    "ClaimRejected",
    "InvalidAddress",
    "InvalidResponse",
    "NotConfigured",
    "NotWhitelisted",
    "OutsideWindow",
    "PaymentRequired",
    "RateLimited",
    "SignInRequired",
    "StoreRefused",
    "Unauthorized",
    "Unavailable",
    "VersionMismatch",
    "WrongPassword",
    "classify_claim_error",
    "close_shared_session",
    "get_client",
]

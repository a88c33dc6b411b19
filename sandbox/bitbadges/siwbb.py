"""Sign In with BitBadges (SIWBB), emulated: developer apps and the authorize page's
decisions. The token exchange, refresh and revoke are in siwbb_exchange.py; the page and
the API views in siwbb_views.py. docs/fidelity.md, "Sign in with BitBadges", names the
source of each behaviour.

- A developer app (`SiwbbApp`) has a client ID, the SHA-256 of its client secret (the
  indexer keeps the hash too: IDX-2024 src/routes/authCodes.ts compares
  sha256(client_secret) with the app's clientSecret) and the exact redirect URIs it may
  use. `register_app` makes or updates one; `manage.py sandbox_setup` registers this
  site's (`site_app_ensure`).
- GET siwbb/authorize?client_id=&redirect_uri=&state=&scope= is checked here
  (`authorize_request`): an unknown client, a redirect URI the app did not register, or a
  malformed request is an `AuthorizeProblem`, shown at the sandbox and never redirected.
- Approve makes a one-time code (32 random bytes as hex, stored hashed) bound to the app,
  the redirect URI, the address and the scopes; the user goes back to the redirect URI
  with `code` and `state`. Deny sends `error=access_denied` and `state` (RFC 6749
  4.1.2.1; unconfirmed: BitBadges documents no denial). Without a redirect URI the code
  is shown to the user instead (BitBadges' QR code and delayed flows).
"""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from django.utils import timezone

from core.addresses import parse_address, to_bitbadges_address
from sandbox.bitbadges.models import SiwbbApp, SiwbbCode
from sandbox.common.registration import register
from sandbox.credentials import SANDBOX_CREDENTIALS

# The scopes of the authorize URL: camelCase ids, "the camelCase form of the labels"
# (DOCS@1951c5c api/sign-in/authorization-url.md, "Scopes"); codes keep the labels, as
# the indexer's scopes do (scopeName, e.g. "Complete Claims").
SCOPES = {
    "fullAccess": "Full Access",
    "report": "Report",
    "readProfile": "Read Profile",
    "manageApplications": "Manage Applications",
    "manageUtilityPages": "Manage Utility Pages",
    "approveSignInWithBitBadgesRequests": "Approve Sign In With BitBadges Requests",
    "readAuthenticationCodes": "Read Authentication Codes",
    "deleteAuthenticationCodes": "Delete Authentication Codes",
    "manageClaims": "Manage Claims",
    "manageDeveloperApps": "Manage Developer Apps",
    "manageDynamicStores": "Manage Dynamic Stores",
    "readPrivateClaimData": "Read Private Claim Data",
    "completeClaims": "Complete Claims",
}
_SCOPE_BY_NAME = {
    **{scope_id.lower(): label for scope_id, label in SCOPES.items()},
    **{label.lower(): label for label in SCOPES.values()},
}
FULL_ACCESS = "Full Access"

# The indexer's texts (IDX-2024 src/routes/authCodes.ts createSIWBBRequest), shown on the
# sandbox's error page for the same requests.
UNKNOWN_CLIENT = (
    "Invalid client ID. All SIWBB requests must be associated with a valid client ID for an app."
)
INVALID_REDIRECT_URI = "Invalid redirect URI."
FULL_ACCESS_REFUSED = "Full Access scope is not allowed for API Authorization."
SCOPES_NEED_REDIRECT = "Redirect URI is required for API authorization with scopes."
ONLY_CODE = 'Invalid response type. Only "code" is supported.'

# A code made with scopes or a redirect URI expires 10 minutes after it is made; one made
# for the QR code flow (neither) does not (IDX-2024 authCodes.ts createSIWBBRequest).
CODE_LIFETIME = timedelta(minutes=10)

# What the sandbox accepts on its authorize URL (the real limits are unknown).
MAX_QUERY = 8192
MAX_PARAM = {"client_id": 200, "redirect_uri": 2000, "state": 2000, "scope": 1000}
MAX_REDIRECT_URIS = 20

# BitBadges users the authorize page offers (besides a fresh address and a typed one).
# alice's is the address the demo's member alice typed (members' seed_demo); bob's is
# bb1, the BitBadges spelling.
DEMO_USERS = (
    ("alice", "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"),
    ("bob", "bb1z3t55m0l9h0eupuz3dp5t5cypyv674jjl8mh5h"),
)
SITE_APP_NAME = "Connect & Claim"
SITE_CALLBACK_PATH = "/auth/bitbadges/login/callback/"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def chain_of(address: str) -> str:
    """SDK-HEAD getChainForAddress: "ETH" for 0x, "Cosmos" for bb (0.27.2 said "Ethereum")."""
    return "ETH" if address.startswith("0x") else "Cosmos"


def spelled_as_signed_in(value: str) -> str:
    """The address as BitBadges answers it: as the user signed in with it, a 0x one in
    lower case (as wallets report it and as the docs' example answers it), a bb1 one in
    lower case. ValidationError (a sentence) for anything that is not an address."""
    parse_address(value)
    return value.strip().lower()


# --- Developer apps --------------------------------------------------------------------


def _clean_redirect_uri(uri) -> str:
    """An absolute http(s) URI without a fragment (RFC 6749 3.1.2), or ValueError."""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_PARAM["redirect_uri"]:
        raise ValueError(f"A redirect URI is an absolute http(s) URL, not {uri!r}.")
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise ValueError(f"A redirect URI is an absolute http(s) URL without #, not {uri!r}.")
    if any(ord(ch) < 33 for ch in uri):
        raise ValueError("A redirect URI holds no spaces or control characters.")
    return uri


def register_app(
    *, client_id: str, client_secret: str, redirect_uris: list[str], name: str = ""
) -> SiwbbApp:
    """Make or update the developer app `client_id`: its secret (kept as SHA-256), its
    exact redirect URIs (replacing the old list) and its name. Idempotent: the same
    arguments change nothing. ValueError names a bad argument."""
    if not isinstance(client_id, str) or not client_id.strip() or len(client_id) > 200:
        raise ValueError("client_id is a non-empty string of at most 200 characters.")
    if not isinstance(client_secret, str) or not client_secret:
        raise ValueError("client_secret is a non-empty string.")
    if isinstance(redirect_uris, str) or len(redirect_uris) > MAX_REDIRECT_URIS:
        raise ValueError(f"redirect_uris is a list of at most {MAX_REDIRECT_URIS} URIs.")
    uris = list(dict.fromkeys(_clean_redirect_uri(uri) for uri in redirect_uris))
    name = (name or client_id)[:200]
    wanted = {"client_secret_hash": sha256_hex(client_secret), "redirect_uris": uris, "name": name}
    return register(SiwbbApp, client_id, wanted)


def site_callback_uri(public_url: str) -> str:
    return public_url.rstrip("/") + SITE_CALLBACK_PATH


def site_app_ensure(public_url: str) -> SiwbbApp:
    """This site's developer app, with the sandbox's credentials, allowed to redirect to
    PUBLIC_URL's callback (added to the URIs it had, so every port a developer ran the
    site on keeps working)."""
    client_id = SANDBOX_CREDENTIALS["siwbb_client_id"]
    app = SiwbbApp.objects.filter(client_id=client_id).first()
    uris = list(app.redirect_uris) if app else []
    callback = site_callback_uri(public_url)
    if callback not in uris:
        uris = [*uris, callback][-MAX_REDIRECT_URIS:]
    return register_app(
        client_id=client_id,
        client_secret=SANDBOX_CREDENTIALS["siwbb_client_secret"],
        redirect_uris=uris,
        name=app.name if app else SITE_APP_NAME,
    )


# --- The authorize page ----------------------------------------------------------------


class AuthorizeProblem(Exception):
    """An authorize request the sandbox will not act on: shown as a page, never redirected."""

    def __init__(self, title: str, message: str, status: int = 400):
        super().__init__(message)
        self.title = title
        self.message = message
        self.status = status


@dataclass
class AuthorizeRequest:
    app: SiwbbApp
    redirect_uri: str
    state: str
    scopes: list[str] = field(default_factory=list)


def _param(params, name: str) -> str:
    value = params.get(name, "")
    if len(value) > MAX_PARAM[name]:
        raise AuthorizeProblem(
            "This sign-in link is too long",
            f"The {name} parameter is over {MAX_PARAM[name]} characters.",
        )
    return value


def _scopes(text: str) -> list[str]:
    labels = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        label = _SCOPE_BY_NAME.get(item.lower())
        if label is None:
            raise AuthorizeProblem("Unknown scope", f"BitBadges has no scope named {item!r}.")
        if label == FULL_ACCESS:
            raise AuthorizeProblem("Scope not allowed", FULL_ACCESS_REFUSED)
        if label not in labels:
            labels.append(label)
    return labels


def authorize_request(params, query_string: str = "") -> AuthorizeRequest:
    """The checked request of an authorize URL, or AuthorizeProblem. The app and the
    redirect URI are checked first, so a problem past them is still shown at the sandbox
    (unconfirmed: what BitBadges does then; RFC 6749 4.1.2.1 would redirect an error)."""
    if len(query_string) > MAX_QUERY:
        raise AuthorizeProblem("This sign-in link is too long", "Its query is over 8 KB.")
    client_id = _param(params, "client_id")
    if not client_id:
        raise AuthorizeProblem(
            "No client ID", "The sign-in link names no app: its client_id parameter is missing."
        )
    app = SiwbbApp.objects.filter(client_id=client_id).first()
    if app is None:
        raise AuthorizeProblem("Unknown app", UNKNOWN_CLIENT)
    redirect_uri = _param(params, "redirect_uri")
    if redirect_uri and redirect_uri not in app.redirect_uris:
        raise AuthorizeProblem(
            "Redirect URI not registered",
            f"{INVALID_REDIRECT_URI} {app.name} has not registered the address this link "
            "would send you back to, so the sandbox does not send you there.",
        )
    state = _param(params, "state")
    if (params.get("response_type") or "code") != "code":
        raise AuthorizeProblem("Unsupported response type", ONLY_CODE)
    scopes = _scopes(_param(params, "scope"))
    if scopes and not redirect_uri:
        raise AuthorizeProblem("Redirect URI needed", SCOPES_NEED_REDIRECT)
    return AuthorizeRequest(app=app, redirect_uri=redirect_uri, state=state, scopes=scopes)


def with_query(uri: str, params: dict[str, str]) -> str:
    """`uri` with `params` added to its query (its own query kept, RFC 6749 3.1.2)."""
    parts = urlsplit(uri)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _answer(ask: AuthorizeRequest, params: dict[str, str]) -> str:
    if ask.state:
        params["state"] = ask.state
    return with_query(ask.redirect_uri, params)


def approve(ask: AuthorizeRequest, address: str) -> tuple[str, str]:
    """The user approves as `address`: (code, where to send them; "" without a redirect
    URI). The code is stored as its SHA-256 only."""
    parse_address(address)  # ValidationError for anything else
    code = secrets.token_hex(32)
    now = timezone.now()
    SiwbbCode.objects.create(
        code_hash=sha256_hex(code),
        app=ask.app,
        redirect_uri=ask.redirect_uri,
        address=spelled_as_signed_in(address),
        scopes=ask.scopes,
        created_at=now,
        expires_at=now + CODE_LIFETIME if ask.scopes or ask.redirect_uri else None,
    )
    return code, _answer(ask, {"code": code}) if ask.redirect_uri else ""


def deny(ask: AuthorizeRequest) -> str:
    """Where a denial sends the user ("" without a redirect URI)."""
    return _answer(ask, {"error": "access_denied"}) if ask.redirect_uri else ""


def fresh_address() -> str:
    """A new 0x address no one has used: "a new BitBadges user"."""
    return "0x" + secrets.token_hex(20)


def demo_users() -> list[dict]:
    return [
        {"name": name, "address": address, "bitbadges_address": to_bitbadges_address(address)}
        for name, address in DEMO_USERS
    ]


def chosen_address(choice: str, typed: str) -> str:
    """The address the user signs in as: the typed one when there is one, else the
    choice. ValidationError (a sentence to show) when it is not an address."""
    value = typed.strip() if typed and typed.strip() else (choice or "")
    if not value:
        raise ValidationError("Choose who signs in, or enter an address.")
    parse_address(value)
    return value.strip()

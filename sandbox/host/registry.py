"""The host site's members and its registered clients.

Members: alice (email verified) and bob (email NOT verified) are always there
(`members_ensure`); "a new member" makes a fresh one; a typed username signs on as that
member, made on first use. Choosing one on the authorize page stands in for logging in
to the host site itself.

Clients: `register_client` makes or updates one (its secret kept as SHA-256, its exact
redirect URIs, the token endpoint auth methods it may use); tests call it with a secret
they know. `site_client_ensure` registers this site (`manage.py sandbox_setup`).
"""

import re
import secrets
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from sandbox.common.registration import register
from sandbox.host.models import TOKEN_AUTH_METHODS, HostClient, HostMember, sha256_hex

SITE_NAME = "Sandbox Community"  # the host site's name, as its pages and the product say it
EMAIL_DOMAIN = "community.example"
DEMO_MEMBERS = (
    {
        "username": "alice",
        "sub": "host-alice-0001",
        "name": "Alice Adams",
        "email": "alice@community.example",
        "email_verified": True,
    },
    {
        "username": "bob",
        "sub": "host-bob-0002",
        "name": "Bob Brown",
        "email": "bob@community.example",
        "email_verified": False,
    },
)
USERNAME = re.compile(r"\A[a-z0-9][a-z0-9._-]{0,29}\Z")
USERNAME_RULE = (
    "A username is 1 to 30 letters, digits, dots, dashes or underscores, starting with a "
    "letter or digit."
)

SITE_CLIENT_ID = "sandbox-host-client"
SITE_CLIENT_NAME = "Connect & Claim"
SITE_CALLBACK_PATH = "/auth/oidc/host/login/callback/"
MAX_CLIENT_ID = 200
MAX_REDIRECT_URI = 2000
MAX_REDIRECT_URIS = 20


# --- Members ---------------------------------------------------------------------------


def members_ensure() -> list[HostMember]:
    """alice and bob, made where missing (a second call changes nothing)."""
    found = []
    for fields in DEMO_MEMBERS:
        member = HostMember.objects.filter(sub=fields["sub"]).first()
        if member is None:
            try:
                with transaction.atomic():
                    member = HostMember.objects.create(**fields)
            except IntegrityError:  # made at the same moment by another request
                member = HostMember.objects.get(sub=fields["sub"])
        found.append(member)
    return found


def new_member() -> HostMember:
    """A member who has never signed on anywhere: a fresh sub, username and email."""
    suffix = secrets.token_hex(3)
    username = f"member-{suffix}"
    return HostMember.objects.create(
        sub=f"host-{secrets.token_hex(8)}",
        username=username,
        name=f"New Member {suffix}",
        email=f"{username}@{EMAIL_DOMAIN}",
        email_verified=True,
    )


def member_named(typed: str) -> HostMember:
    """The member with this username (any case), made on first use with a verified email.
    ValidationError (a sentence to show) for a username the host would not have."""
    username = (typed or "").strip().lower()
    if not USERNAME.match(username):
        raise ValidationError(USERNAME_RULE)
    member = HostMember.objects.filter(username=username).first()
    if member is not None:
        return member
    try:
        with transaction.atomic():
            return HostMember.objects.create(
                sub=f"host-{secrets.token_hex(8)}",
                username=username,
                name=username.replace(".", " ").replace("_", " ").replace("-", " ").title(),
                email=f"{username}@{EMAIL_DOMAIN}",
                email_verified=True,
            )
    except IntegrityError:  # the same name typed twice at once
        return HostMember.objects.get(username=username)


def chosen_member(choice: str, typed: str) -> HostMember:
    """Who signs on: a typed username wins over the choice ("alice", "bob", "new").
    ValidationError (a sentence) when neither names a member."""
    if typed and typed.strip():
        return member_named(typed)
    if choice == "new":
        return new_member()
    members_ensure()
    member = HostMember.objects.filter(username=choice).first() if choice else None
    if member is None:
        raise ValidationError("Choose who signs on, or type a username.")
    return member


# --- Clients ---------------------------------------------------------------------------


def clean_redirect_uri(uri) -> str:
    """An absolute http(s) URI without a fragment (RFC 6749 3.1.2), or ValueError."""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_REDIRECT_URI:
        raise ValueError(f"A redirect URI is an absolute http(s) URL, not {uri!r}.")
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise ValueError(f"A redirect URI is an absolute http(s) URL without #, not {uri!r}.")
    if any(ord(ch) < 33 or ord(ch) > 126 for ch in uri):
        raise ValueError("A redirect URI holds only printable ASCII, no spaces.")
    return uri


def register_client(
    *,
    client_id: str,
    client_secret: str,
    redirect_uris: list[str],
    name: str = "",
    token_endpoint_auth_methods: tuple[str, ...] | list[str] = TOKEN_AUTH_METHODS,
) -> HostClient:
    """Make or update client `client_id`: its secret (kept as SHA-256), its exact redirect
    URIs (replacing the old list), its name and the token endpoint auth methods it may use
    (both by default). Idempotent. ValueError names a bad argument."""
    if not isinstance(client_id, str) or not client_id.strip() or len(client_id) > MAX_CLIENT_ID:
        raise ValueError(f"client_id is a non-empty string of at most {MAX_CLIENT_ID} characters.")
    if any(ord(ch) < 33 or ord(ch) > 126 or ch == ":" for ch in client_id):
        raise ValueError("client_id is printable ASCII without spaces or ':' (HTTP Basic).")
    if not isinstance(client_secret, str) or not client_secret:
        raise ValueError("client_secret is a non-empty string.")
    if isinstance(redirect_uris, str) or len(redirect_uris) > MAX_REDIRECT_URIS:
        raise ValueError(f"redirect_uris is a list of at most {MAX_REDIRECT_URIS} URIs.")
    methods = list(dict.fromkeys(token_endpoint_auth_methods))
    if not methods or any(method not in TOKEN_AUTH_METHODS for method in methods):
        raise ValueError(
            f"token_endpoint_auth_methods are some of {', '.join(TOKEN_AUTH_METHODS)}."
        )
    wanted = {
        "client_secret_hash": sha256_hex(client_secret),
        "redirect_uris": list(dict.fromkeys(clean_redirect_uri(uri) for uri in redirect_uris)),
        "name": (name or client_id)[:200],
        "token_endpoint_auth_methods": methods,
    }
    return register(HostClient, client_id, wanted)


def site_callback_uri(public_url: str) -> str:
    return public_url.rstrip("/") + SITE_CALLBACK_PATH


def site_client_ensure(public_url: str, client_secret: str) -> HostClient:
    """This site, registered as client `sandbox-host-client` with `client_secret`, allowed
    to come back to PUBLIC_URL's callback (added to the URIs it had, so every port a
    developer ran the site on keeps working)."""
    client = HostClient.objects.filter(client_id=SITE_CLIENT_ID).first()
    uris = list(client.redirect_uris) if client else []
    callback = site_callback_uri(public_url)
    if callback not in uris:
        uris = [*uris, callback][-MAX_REDIRECT_URIS:]
    return register_client(
        client_id=SITE_CLIENT_ID,
        client_secret=client_secret,
        redirect_uris=uris,
        name=client.name if client else SITE_CLIENT_NAME,
    )

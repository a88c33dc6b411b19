"""Where alert webhooks may go, their signing secrets, and their signatures.

A webhook URL is the operator's, but the site calls it from inside its own network, so
it must not be a way to reach that network (SSRF): only https (plain http, and only to
this machine, while DEBUG or SANDBOX is on), no user name or password in it, and a host
whose every address is a public one. The check runs when the URL is saved and again
before each call (the host's addresses may have changed since).

Messages are signed per the Standard Webhooks spec: headers webhook-id,
webhook-timestamp and webhook-signature ("v1,<base64 HMAC-SHA256 of
id.timestamp.body>"), with a secret "whsec_<base64>" shown to the operator once.
"""

import base64
import datetime
import ipaddress
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from standardwebhooks import Webhook

from core import netguard

MAX_URL = 500
SECRET_BYTES = 32
_UNSAFE = re.compile(r"[\s\\\x00-\x1f\x7f]")


class UrlRefused(ValueError):
    """A webhook URL the site will not call; `str(exc)` says why, for the operator."""


def _local_allowed() -> bool:
    return bool(getattr(settings, "DEBUG", False) or getattr(settings, "SANDBOX", False))


@dataclass(frozen=True)
class Target:
    """Where one call goes: the host's address, checked now, which the call connects to
    (so a name that resolves elsewhere a moment later cannot redirect it), and what the
    request names (Host header, TLS server name, path)."""

    scheme: str
    host: str
    netloc: str
    port: int
    address: str
    path: str


def _vet(url: object, *, resolve: bool) -> tuple[str, Target | None]:
    if not isinstance(url, str) or not url.strip():
        raise UrlRefused("Enter the webhook's URL, e.g. https://hooks.example.com/alerts.")
    url = url.strip()
    if len(url) > MAX_URL:
        raise UrlRefused(f"That URL is {len(url)} characters long; the limit is {MAX_URL}.")
    if _UNSAFE.search(url):
        raise UrlRefused("A webhook URL cannot hold spaces, backslashes or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused(
            "This is not a URL the site can call (its port is not a number)."
        ) from None
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in ("http", "https"):
        raise UrlRefused("Give the full URL, starting with https://.")
    local = _local_allowed()
    if parts.scheme == "http" and not local:
        raise UrlRefused(
            "Alerts are sent over https only: an http URL would carry them unencrypted."
        )
    if parts.username is not None or parts.password is not None:
        raise UrlRefused(
            "Leave the user name and password out of the URL: the signature on each message "
            "tells your receiver it comes from this site."
        )
    if not resolve:
        return url, None
    port = port or (443 if parts.scheme == "https" else 80)
    try:  # the lookup and the address checks are shared (core/netguard.py)
        addresses = netguard.resolve(host, port)
    except OSError:
        raise UrlRefused(f"No address was found for the host {host}: check its spelling.") from None
    for found in addresses:
        if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped:
            found = found.ipv4_mapped
        if found.is_loopback and local:
            continue  # a receiver on this machine, for development and tests
        if parts.scheme == "http":
            raise UrlRefused("Plain http is only for a receiver on this machine (localhost).")
        if not netguard.is_public(found):
            raise UrlRefused(
                f"{host} is at {found}, which is not a public address: alerts go only "
                "to hosts on the internet, never into the site's own network."
            )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    target = Target(parts.scheme, host, parts.netloc, port, str(addresses[0]), path)
    return url, target


def check_url(url: object, *, resolve: bool = True) -> str:
    """The URL, stripped, when alerts may be sent to it; else UrlRefused saying why."""
    return _vet(url, resolve=resolve)[0]


def target(url: str) -> Target:
    """Where to send to `url` now, every address of its host checked; else UrlRefused."""
    found = _vet(url, resolve=True)[1]
    assert found is not None  # resolve=True always answers one
    return found


def host_of(url: str) -> str:
    """The URL's host, which is what logs and error texts name (a path may hold a token)."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def masked(url: str) -> str:
    """The URL as staff who may only look see it: scheme, host and port, the rest hidden."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or "?"
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
    except ValueError:
        return "(hidden)"
    hidden = parts.path not in ("", "/") or parts.query or parts.fragment
    return f"{parts.scheme}://{netloc}/" + (
        "… (the rest is hidden: it may hold a token)" if hidden else ""
    )


def new_secret() -> str:
    """A fresh signing secret in the spec's form: whsec_ and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signed_headers(secret: str, message_id: str, body: str, at: datetime.datetime) -> dict:
    """The Standard Webhooks headers for `body`, sent at `at`."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at.astimezone(datetime.UTC), body),
    }

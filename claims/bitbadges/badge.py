"""The badge itself: its name and image as BitBadges gives them, kept on the claim, and
the image's bytes fetched once per change and served from the site's own origin.

A claim's iClaimDetails (GET /api/v0/claim/{id}) carries an optional `metadata`
(iMetadata: `name`, `description`, `image`) and, for a collection's claim, a
`collectionId` (docs/fidelity.md, "The badge's image and name"). `details_of()` reads
them; `keep()` writes them on the Claim when its life is read (claims/life.py refresh)
and fetches the image when its URL changed.

The image URL comes from outside, so the fetch is guarded: https only (in SANDBOX mode,
also the sandbox's own images on PUBLIC_URL's host and port, and nothing else local),
every address of the host public (core/netguard.py) and the connection made to the
address checked, redirects followed only to URLs that pass the same checks (at most
three), a hard time limit for the whole answer (a host sending a byte at a time is cut
off), at most BADGE_IMAGE_MAX_BYTES as sent (no compression asked for), and only PNG,
JPEG, GIF or WebP as the bytes themselves say (no SVG: it can carry script). A failure
keeps the last good image (the generated mark stands in when there is none), says why
on the claim, and is not tried again for a while (BACKOFF_FIRST, doubling). When
BitBadges gives no image any more, the kept one goes too.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import http.client
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin, urlsplit

import certifi
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core import netguard

if TYPE_CHECKING:
    from claims.models import Claim

logger = logging.getLogger(__name__)

MAX_BYTES = 1_000_000
TIMEOUT = 5.0  # seconds for the whole answer
MAX_REDIRECTS = 3
MAX_NAME = 200
MAX_URL = 1000
USER_AGENT = "connect-and-claim-badges"


class ImageRefused(Exception):
    """The image could not be fetched or is not one the site serves; says why, for staff."""


@dataclass(frozen=True)
class BadgeDetails:
    name: str
    image_url: str
    collection_id: str


def details_of(claim: Mapping[str, Any]) -> BadgeDetails:
    """The badge's name, image URL and collection from an iClaimDetails ("" when absent)."""
    metadata = claim.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    name = metadata.get("name")
    image = metadata.get("image")
    collection = claim.get("collectionId")
    if isinstance(collection, int) and not isinstance(collection, bool):
        collection = str(collection)
    collection = collection if isinstance(collection, str) and collection.isdecimal() else ""
    return BadgeDetails(
        name=" ".join(name.split())[:MAX_NAME] if isinstance(name, str) else "",
        image_url=image.strip() if isinstance(image, str) and len(image) <= MAX_URL else "",
        collection_id=collection if collection not in ("", "0") and len(collection) <= 40 else "",
    )


def site_url(claim: Claim) -> str:
    """The badge on bitbadges.io: its claim page (OLD-DOCS claim-links.md); "" if none.
    When the claims are the sandbox's (SANDBOX, and BITBADGES_API_URL is the sandbox), the
    sandbox's stand-in for that page: bitbadges.io knows no sandbox claim."""
    if not claim.bitbadges_claim_id:
        return ""
    api = (getattr(settings, "BITBADGES_API_URL", "") or "").rstrip("/")
    if getattr(settings, "SANDBOX", False) and api.endswith("/sandbox/bitbadges"):
        base = api
    else:
        base = (getattr(settings, "BITBADGES_SITE_URL", "") or "").rstrip("/")
    return f"{base}/claims/{quote(claim.bitbadges_claim_id, safe='')}" if base else ""


def badge_url(claim: Claim) -> str:
    """The kept image's URL on this site ("" when none is kept); its ETag in the query
    makes a new image a new URL, so the long cache never shows an old one."""
    if not claim.badge_image_etag:
        return ""
    return f"{reverse('claims:badge', args=[claim.slug])}?v={claim.badge_image_etag[:12]}"


# --- keeping ------------------------------------------------------------------------------


def keep(claim: Claim, details: BadgeDetails | None) -> None:
    """Keep what was read on the claim, then fetch the image if its URL changed. Never
    raises: a badge that cannot be kept must not fail the reading of the claim's life."""
    if details is None:
        return
    # claims.models imports this module's callers: read late
    from claims.models import BadgeImage
    from claims.models import Claim as Claims  # read late too

    try:
        claim.bitbadges_name = details.name
        claim.bitbadges_image_url = details.image_url
        claim.bitbadges_collection_id = details.collection_id
        claim.badge_read_at = timezone.now()
        fields = ["bitbadges_name", "bitbadges_image_url", "bitbadges_collection_id"]
        Claims.objects.filter(pk=claim.pk).update(
            **{field: getattr(claim, field) for field in fields}, badge_read_at=claim.badge_read_at
        )
        kept = BadgeImage.objects.filter(claim_id=claim.pk).values_list("source_url", flat=True)
        if not details.image_url:
            _removed(claim)  # BitBadges shows none now: neither do we
            return
        if details.image_url in kept:
            return  # fetched already: once per change
        if _backing_off(claim, details.image_url):
            return  # failed lately: the error written then stands
        try:
            data, content_type = fetch(details.image_url)
        except ImageRefused as exc:
            retry = _failed(claim, details.image_url)
            _error(
                claim,
                f"The badge image at {_host(details.image_url)} was not kept: {exc}. "
                f"It is tried again from {timezone.localtime(retry):%Y-%m-%d %H:%M}.",
            )
            return
        etag = hashlib.sha256(data).hexdigest()[:32]
        with transaction.atomic():
            BadgeImage.objects.update_or_create(
                claim_id=claim.pk,
                defaults={
                    "source_url": details.image_url,
                    "content_type": content_type,
                    "data": data,
                    "etag": etag,
                    "fetched_at": timezone.now(),
                },
            )
            claim.badge_image_etag = etag
            Claims.objects.filter(pk=claim.pk).update(badge_image_etag=etag)
            _error(claim, "")
    except Exception:  # the life reading goes on; staff read the log
        logger.exception("Claim %s: its badge could not be kept", claim.pk)


def _removed(claim: Claim) -> None:
    # claims.models imports this module's callers: read late
    from claims.models import BadgeImage
    from claims.models import Claim as Claims  # read late too

    with transaction.atomic():
        BadgeImage.objects.filter(claim_id=claim.pk).delete()
        claim.badge_image_etag = claim.badge_image_error = ""
        Claims.objects.filter(pk=claim.pk).update(badge_image_etag="", badge_image_error="")


# A URL whose fetch failed is not fetched again at every reading (the every-minute pass
# would wait on a slow host each time): after BACKOFF_FIRST seconds, then twice as long
# after each failure in a row, up to BACKOFF_MAX. Kept in the cache: losing it only means
# one more try.
BACKOFF_FIRST = 300
BACKOFF_MAX = 6 * 3600


def _backoff_key(claim: Claim, url: str) -> str:
    return f"badge-image-failed:{claim.pk}:{hashlib.sha256(url.encode()).hexdigest()[:24]}"


def _backing_off(claim: Claim, url: str) -> bool:
    try:
        failed = cache.get(_backoff_key(claim, url))
    except Exception:  # a cache that cannot be read: try the image
        logger.warning("Claim %s: the badge image's backoff could not be read", claim.pk)
        return False
    return bool(failed) and failed["retry_at"] > time.time()


def _failed(claim: Claim, url: str) -> datetime.datetime:
    """Remember the failure; when the URL is tried again."""
    key = _backoff_key(claim, url)
    try:
        count = (cache.get(key) or {}).get("count", 0) + 1
        delay = min(BACKOFF_FIRST * 2 ** min(count - 1, 20), BACKOFF_MAX)
        cache.set(key, {"count": count, "retry_at": time.time() + delay}, BACKOFF_MAX * 2)
    except Exception:
        logger.warning("Claim %s: the badge image's backoff could not be kept", claim.pk)
        delay = 0
    return timezone.now() + datetime.timedelta(seconds=delay)


def _error(claim: Claim, text: str) -> None:
    from claims.models import Claim as Claims  # read late, as in keep()

    claim.badge_image_error = text[:1000]
    Claims.objects.filter(pk=claim.pk).update(badge_image_error=claim.badge_image_error)


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def admin_rows(claim: Claim) -> list[tuple[str, str]]:
    """(label, text) rows for the admin's reading of the claim (claims/admin/claim_life.py)."""
    if claim.badge_read_at is None:
        return []
    kept = bool(claim.badge_image_etag)
    if not claim.bitbadges_image_url:
        image = "none given on BitBadges: members see the generated mark"
    elif kept and not claim.badge_image_error:
        image = f"kept from {_host(claim.bitbadges_image_url)}, served from this site"
    else:
        image = claim.badge_image_error + (
            " The last image kept stands." if kept else " Members see the generated mark."
        )
    return [
        ("Badge name", claim.bitbadges_name or "none given: members see the claim's name"),
        ("Badge image", image),
    ]


# --- fetching ---------------------------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """The image type the bytes themselves say, among those served; None otherwise."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


# The sandbox's generated images (sandbox/bitbadges/urls.py, images/<claimId>.png): in
# SANDBOX mode the only plain-http or local address fetched, and only on PUBLIC_URL's own
# scheme, host and port, so metadata cannot reach another port of this machine (Redis,
# PostgreSQL) or any other path of the site.
SANDBOX_IMAGE = re.compile(r"/sandbox/bitbadges/images/[A-Za-z0-9_-]{1,100}\.png")
REDIRECTS = (301, 302, 303, 307, 308)


def _own_sandbox_image(scheme: str, host: str, port: int, path: str, query: str) -> bool:
    if not getattr(settings, "SANDBOX", False) or query:
        return False
    own = urlsplit(settings.PUBLIC_URL)
    try:
        own_port = own.port or (443 if own.scheme == "https" else 80)
    except ValueError:
        return False
    prefix = re.escape(own.path.rstrip("/"))
    return (scheme, host, port) == (
        own.scheme,
        (own.hostname or "").lower(),
        own_port,
    ) and re.fullmatch(prefix + SANDBOX_IMAGE.pattern, path) is not None


def _target(url: str) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, address to connect to, path) for a URL the site may fetch."""
    if url.startswith("ipfs://"):
        raise ImageRefused("an ipfs: address (no gateway is settled; the mark is shown)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ImageRefused("the address is not a URL") from None
    host = (parts.hostname or "").lower()
    if parts.username is not None or parts.password is not None:
        raise ImageRefused("the address carries a user name or password")
    port = port or (443 if parts.scheme == "https" else 80)
    own = _own_sandbox_image(parts.scheme, host, port, parts.path, parts.query)
    if not host or (parts.scheme != "https" and not own):
        raise ImageRefused("only https addresses are fetched")
    try:
        addresses = netguard.resolve(host, port)
    except OSError:
        raise ImageRefused(f"no address was found for {host}") from None
    for found in addresses:
        if not own and not netguard.is_public(found):
            raise ImageRefused(f"{host} is at {found}, which is not a public address")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port, str(addresses[0]), path


def fetch(url: str) -> tuple[bytes, str]:
    """The image at `url` and its type, or ImageRefused saying why. The time limit covers
    the whole answer, redirects included: a host that sends a byte now and then is cut
    off when it runs out (_Cutoff), not after each slow read."""
    seconds = float(getattr(settings, "BADGE_IMAGE_TIMEOUT", TIMEOUT))
    limit = int(getattr(settings, "BADGE_IMAGE_MAX_BYTES", MAX_BYTES))
    deadline = time.monotonic() + seconds
    for _ in range(MAX_REDIRECTS + 1):
        scheme, host, port, address, path = _target(url)
        status, location, data = _get(scheme, host, port, address, path, limit, deadline)
        if status in REDIRECTS:
            if not location:
                raise ImageRefused("a redirect without a Location")
            url = urljoin(url, location)
            continue
        if status != 200:
            raise ImageRefused(f"{host} answered {status}")
        content_type = sniff(data)
        if content_type is None:
            raise ImageRefused("it is not a PNG, JPEG, GIF or WebP image")
        return data, content_type
    raise ImageRefused(f"more than {MAX_REDIRECTS} redirects")


class _Cutoff:
    """Shuts the connection's socket down when the time is up, whatever read is waiting
    (the TLS handshake, the status line, the headers or the body)."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._over = False
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock

    def _fire(self) -> None:
        with self._lock:
            if self._over:
                return
            self.fired = True
            if self._sock is not None:
                with contextlib.suppress(OSError):  # the plain socket's, under any TLS
                    socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._over = True
            if self._sock is not None:
                self._sock.close()


def _get(
    scheme: str, host: str, port: int, address: str, path: str, limit: int, deadline: float
) -> tuple[int, str, bytes]:
    """(status, Location, body) of one GET to `address`; the body only for a 200."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise ImageRefused("took too long")
    cutoff = _Cutoff(left)
    try:
        sock = socket.create_connection((address, port), timeout=left)
        cutoff.watch(sock)
        if scheme == "https":
            context = ssl.create_default_context(cafile=certifi.where())
            sock = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
            cutoff.watch(sock)
            sock.do_handshake()
        connection = http.client.HTTPConnection(host, port, timeout=left)
        connection.sock = sock
        name = f"[{host}]" if ":" in host else host  # an IPv6 address, as in a URL
        netloc = name if port in (80, 443) else f"{name}:{port}"
        connection.request(
            "GET",
            path,
            headers={
                "Host": netloc,
                "User-Agent": USER_AGENT,
                "Accept": "image/*",
                # Compressed answers are not asked for, so the size limit is the bytes sent.
                "Accept-Encoding": "identity",
            },
        )
        response = connection.getresponse()
        if response.status in REDIRECTS:
            return response.status, response.getheader("Location") or "", b""
        if response.status != 200:
            return response.status, "", b""
        try:
            data = _read(response, limit, deadline)
        finally:
            if cutoff.fired:  # what was read ended when the time did
                raise ImageRefused("took too long")  # noqa: B012
        return 200, "", data
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if cutoff.fired or isinstance(exc, TimeoutError) or time.monotonic() >= deadline:
            raise ImageRefused("took too long") from None
        if isinstance(exc, ssl.SSLCertVerificationError):
            raise ImageRefused(f"{host}'s certificate could not be verified") from None
        raise ImageRefused(f"{host} could not be reached ({type(exc).__name__})") from None
    finally:
        cutoff.close()


def _read(response: http.client.HTTPResponse, limit: int, deadline: float) -> bytes:
    declared = response.getheader("Content-Length") or ""
    if declared.isdecimal() and int(declared) > limit:
        raise ImageRefused(f"it is larger than {limit // 1000} kB")
    if (response.getheader("Content-Encoding") or "identity").strip().lower() != "identity":
        raise ImageRefused("it was sent compressed, which was not asked for")
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read1(16 * 1024):  # what has come, not a full buffer's worth
        size += len(chunk)
        if size > limit:
            raise ImageRefused(f"it is larger than {limit // 1000} kB")
        if time.monotonic() > deadline:
            raise ImageRefused("took too long")
        chunks.append(chunk)
    if response.length:  # the connection ended before the length it declared
        raise ImageRefused("the answer was cut short")
    return b"".join(chunks)

"""The badge itself: its name and image as BitBadges gives them, kept on the claim, and
the image's bytes fetched once per change and served from the site's own origin.

A claim's iClaimDetails (GET /api/v0/claim/{id}) carries an optional `metadata`
(iMetadata: `name`, `description`, `image`) and, for a collection's claim, a
`collectionId` (docs/fidelity.md, "The badge's image and name"). `details_of()` reads
them; `keep()` writes them on the Claim when its life is read (claims/life.py refresh)
and fetches the image when its URL changed.

The image URL comes from outside, so the fetch is guarded: https only (plain http only to
this machine in SANDBOX mode, for the sandbox), every address of the host public
(core/netguard.py) and the connection made to the address checked, redirects followed
only to URLs that pass the same checks (at most three), a time limit for the whole
answer, at most BADGE_IMAGE_MAX_BYTES, and only PNG, JPEG, GIF or WebP as the bytes
themselves say (no SVG: it can carry script). A failure keeps the last good image (the
generated mark stands in when there is none) and says why on the claim.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool

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
    """The badge on bitbadges.io: its claim page (OLD-DOCS claim-links.md); "" if none."""
    base = (getattr(settings, "BITBADGES_SITE_URL", "") or "").rstrip("/")
    if not base or not claim.bitbadges_claim_id:
        return ""
    return f"{base}/claims/{claim.bitbadges_claim_id}"


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
    from claims.models import BadgeImage
    from claims.models import Claim as Claims

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
            _error(claim, "")
            return
        if details.image_url in kept:
            return  # fetched already: once per change
        try:
            data, content_type = fetch(details.image_url)
        except ImageRefused as exc:
            _error(claim, f"The badge image at {_host(details.image_url)} was not kept: {exc}")
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


def _error(claim: Claim, text: str) -> None:
    from claims.models import Claim as Claims

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


def _local_allowed() -> bool:
    return bool(getattr(settings, "SANDBOX", False))


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
    local = _local_allowed()
    if not host or parts.scheme not in ("https", "http") or (parts.scheme == "http" and not local):
        raise ImageRefused("only https addresses are fetched")
    if parts.username is not None or parts.password is not None:
        raise ImageRefused("the address carries a user name or password")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = netguard.resolve(host, port)
    except OSError:
        raise ImageRefused(f"no address was found for {host}") from None
    for found in addresses:
        if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped:
            found = found.ipv4_mapped
        if local and found.is_loopback:
            continue  # the sandbox, on this machine
        if parts.scheme == "http" or not netguard.is_public(found):
            raise ImageRefused(f"{host} is at {found}, which is not a public address")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port, str(addresses[0]), path


def fetch(url: str) -> tuple[bytes, str]:
    """The image at `url` and its type, or ImageRefused saying why."""
    seconds = float(getattr(settings, "BADGE_IMAGE_TIMEOUT", TIMEOUT))
    limit = int(getattr(settings, "BADGE_IMAGE_MAX_BYTES", MAX_BYTES))
    deadline = time.monotonic() + seconds
    for _ in range(MAX_REDIRECTS + 1):
        scheme, host, port, address, path = _target(url)
        left = max(deadline - time.monotonic(), 0.1)
        timeout = urllib3.Timeout(connect=left, read=left)
        pool: HTTPConnectionPool
        if scheme == "https":
            pool = HTTPSConnectionPool(
                address,
                port,
                timeout=timeout,
                retries=False,
                server_hostname=host,
                assert_hostname=host,
                cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where(),
            )
        else:
            pool = HTTPConnectionPool(address, port, timeout=timeout, retries=False)
        netloc = host if port in (80, 443) else f"{host}:{port}"
        try:
            response = pool.urlopen(
                "GET",
                path,
                headers={"Host": netloc, "User-Agent": USER_AGENT, "Accept": "image/*"},
                redirect=False,
                retries=False,
                preload_content=False,
            )
            try:
                if response.status in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location", "")
                    if not location:
                        raise ImageRefused("a redirect without a Location")
                    url = urljoin(url, location)
                    continue
                if response.status != 200:
                    raise ImageRefused(f"{host} answered {response.status}")
                data = _read(response, limit, deadline)
            finally:
                response.release_conn()
        except urllib3.exceptions.HTTPError as exc:
            kind = "took too long" if isinstance(exc, urllib3.exceptions.TimeoutError) else ""
            raise ImageRefused(
                kind or f"{host} could not be reached ({type(exc).__name__})"
            ) from None
        finally:
            pool.close()
        content_type = sniff(data)
        if content_type is None:
            raise ImageRefused("it is not a PNG, JPEG, GIF or WebP image")
        return data, content_type
    raise ImageRefused(f"more than {MAX_REDIRECTS} redirects")


def _read(response: urllib3.BaseHTTPResponse, limit: int, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdecimal() and int(declared) > limit:
        raise ImageRefused(f"it is larger than {limit // 1000} kB")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.stream(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise ImageRefused(f"it is larger than {limit // 1000} kB")
        if time.monotonic() > deadline:
            raise ImageRefused("took too long")
        chunks.append(chunk)
    return b"".join(chunks)

"""The claim page a person set out from (User.start_path), kept across devices and detours.

Someone who opens /c/<slug>/ and signs up or logs in from there may confirm their email
on another device, or come back days later: a login with no `next` of its own then
lands on that claim page while the claim is still open to them (enabled, and neither
completed for them nor taken back). Only a local path that resolves to a claim's
landing page is ever kept or followed: never a full URL, never another page.
"""

from urllib.parse import unquote, urlsplit

from django.apps import apps
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme

from users.models import MAX_START_PATH_LENGTH

LANDING = "claims:landing"
# Completion states after which the claim is no place to send the member back to
# (claims.models.Completion.SETTLED, read by name: users sits below claims).
_SETTLED = ("completed", "revoked")


def claim_path(url) -> str:
    """`url` as a claim landing path ("/c/<slug>/"), or "" when it is anything else.

    Refused: anything not a string, too long, with a scheme or a host (https://evil.com,
    //evil.com, /\\evil.com, javascript:...), control characters, encoded slashes or
    backslashes, and local paths to other pages. Query and fragment are dropped.
    """
    if not isinstance(url, str) or not url or len(url) > MAX_START_PATH_LENGTH:
        return ""
    if not url.startswith("/") or url.startswith("//") or "\\" in url:
        return ""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return ""
    if not url_has_allowed_host_and_scheme(url, allowed_hosts=set(), require_https=True):
        return ""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return ""
    path = parts.path
    # An encoded slash, backslash or dot could read as another path once decoded.
    if unquote(path) != path:
        return ""
    try:
        match = resolve(path)
    except Resolver404:
        return ""
    return path if match.view_name == LANDING else ""


def _slug(path: str) -> str:
    return resolve(path).kwargs.get("slug", "")


def claim_open_for(member, path: str) -> bool:
    """Whether the claim at `path` is enabled and not settled (completed, revoked) for
    `member`: the only claims worth sending them back to."""
    if not claim_path(path):
        return False
    slug = _slug(path)
    claim_model = apps.get_model("claims", "Claim")
    if not claim_model.objects.filter(slug=slug, enabled=True).exists():
        return False
    return not member.completions.filter(claim__slug=slug, state__in=_SETTLED).exists()


def start_path_remember(member, url) -> None:
    """Keep `url` as the member's start path when it is a claim landing path."""
    path = claim_path(url)
    if not path or path == member.start_path or member.pk is None:
        return
    member.start_path = path
    type(member).objects.filter(pk=member.pk).update(start_path=path)


def start_path_for(member) -> str:
    """Where a login with no `next` should land: the start path while its claim is open
    to the member, else "" (and a start path that is no longer open is forgotten)."""
    path = getattr(member, "start_path", "") or ""
    if not path:
        return ""
    if claim_open_for(member, path):
        return path
    member.start_path = ""
    type(member).objects.filter(pk=member.pk).update(start_path="")
    return ""

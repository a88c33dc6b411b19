"""The claim page a person set out from (User.start_path), kept across devices and detours.

Someone who opens /c/<slug>/ and signs up or logs in from there may confirm their email
on another device, or come back days later: a login with no `next` of its own then
lands on that claim page while the claim is still open to them. Only a local path that
resolves to a claim's landing page is ever kept or followed: never a full URL, never
another page.

A guide, not a trap: it is used once. Until the member is confirmed (a confirmed email
or an address proven by Sign in with BitBadges: users.selectors.member_identity_confirmed)
every login lands there (the claim page asks for the confirmation first, so it is the
next step wherever they are); the first time a login or the confirmation itself takes a
confirmed member there, it is forgotten. From then on a login ends on the home page,
whose "What needs you" lists that claim with every other one that needs them. Once and
not "N logins or N days" because that is the one journey it exists for (sign up,
confirm, perhaps on another device, arrive), and it needs nothing more kept than the
path. A claim the member cannot move by acting (users sits below claims, so the claims
app decides it: see register_open_check) is forgotten at the next login.

A sign-up with BitBadges from a claim page (`start_path_signed_up`, on allauth's
user_signed_up with a social login) confirms the member at once, so it is remembered the
same way but not used by the sign-up's own arrival there: the next login with no `next`
of its own (back after a detour, or on another device) lands on that claim once more,
then forgets it, as the confirmation does for a password sign-up.
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from django.apps import apps
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme

from users.models import MAX_START_PATH_LENGTH, User
from users.selectors import member_identity_confirmed

LANDING = "claims:landing"

# Whether the claim with this slug is still open to the member (enabled, taking
# deliveries, not settled, nothing only an administrator can change): the claims app
# registers it at start-up (claims.start_claim). Until it has, no claim is.
OpenCheck = Callable[[Any, str], bool]
_open_check: list[OpenCheck] = []


def register_open_check(check: OpenCheck) -> None:
    _open_check[:] = [check]


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


def claim_page_live(path: str) -> bool:
    """Whether `path` is the landing page of an enabled claim (the page answers)."""
    if not claim_path(path):
        return False
    claim_model = apps.get_model("claims", "Claim")
    return claim_model.objects.filter(slug=_slug(path), enabled=True).exists()


def claim_open_for(member, path: str) -> bool:
    """Whether the claim at `path` is still worth sending `member` back to (as the
    claims app decides: register_open_check)."""
    if not claim_path(path) or not _open_check:
        return False
    return _open_check[0](member, _slug(path))


# Set on the member's instance by a social sign-up, for the rest of that request: the
# sign-up's own arrival on the claim page does not use up the start path it kept.
_KEPT_AT_SIGNUP = "_start_path_kept_at_signup"


def start_path_remember(member, url) -> None:
    """Keep `url` as the member's start path when it is a claim landing path and they are
    not confirmed yet (a confirmed member landing there has used it already)."""
    path = claim_path(url)
    if not path or path == member.start_path or member.pk is None:
        return
    if member_identity_confirmed(member=member):
        return
    _keep(member, path)


def start_path_signed_up(member, url) -> None:
    """A sign-up with BitBadges (or another social login) whose `next` is `url`: keep it as
    the member's start path when it is a claim landing path, confirmed or not, and let
    the sign-up's own arrival there leave it (see the module's docstring)."""
    path = claim_path(url)
    if not path or member.pk is None:
        return
    setattr(member, _KEPT_AT_SIGNUP, path)
    if path != member.start_path:
        _keep(member, path)


def _keep(member, path: str) -> None:
    member.start_path = path
    User.objects.filter(pk=member.pk).update(start_path=path)


def start_path_for(member) -> str:
    """Where a login with no `next` should land: the start path while its claim is open
    to the member, else "" (and a start path that is no longer open is forgotten)."""
    path = getattr(member, "start_path", "") or ""
    if not path:
        return ""
    if claim_open_for(member, path):
        return path
    _forget(member)
    return ""


def start_path_arrived(member, url) -> None:
    """A login or an email confirmation ends on `url`: when that is the start path and
    the member is confirmed, it has done its work and is forgotten (not by the arrival
    of the sign-up that kept it: start_path_signed_up)."""
    path = getattr(member, "start_path", "") or ""
    if not path or not isinstance(url, str) or urlsplit(url).path != path:
        return
    if getattr(member, _KEPT_AT_SIGNUP, "") == path:
        return
    if member_identity_confirmed(member=member):
        _forget(member)


def _forget(member) -> None:
    member.start_path = ""
    User.objects.filter(pk=member.pk).update(start_path="")


def on_user_signed_up(sender, request, user, sociallogin=None, **kwargs) -> None:
    """allauth's user_signed_up: a social sign-up (Sign in with BitBadges) keeps the claim
    page it set out from (its `next`, carried through BitBadges in the login's state).
    A password sign-up needs nothing here: its login's pre_login keeps it."""
    if sociallogin is None:
        return
    start_path_signed_up(user, sociallogin.get_redirect_url(request))

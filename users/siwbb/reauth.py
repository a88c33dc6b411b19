"""Confirm with BitBadges: the re-authentication of members who log in with BitBadges only.

Every "confirm it is you" check on the site (allauth's @reauthentication_required, its
e-mail and two-factor flows, the BitBadges connect and disconnect, /password/set/) asks
allauth's `did_recently_reauthenticate`. allauth answers True for a member with neither a
usable password nor an authenticator, whatever the age of the session: for them nothing
was ever asked. `install()` (SiwbbConfig.ready) wraps it: for such a member it is True
only with a re-authentication recorded in the last ACCOUNT_REAUTHENTICATION_TIMEOUT
seconds, which they give by confirming with BitBadges:

- /reauthenticate/ (allauth) and its middleware send them to /auth/bitbadges/reauthenticate/
  (AccountAdapter.get_reauthentication_methods lists it), a page with a button;
- its POST starts the flow marked "reauthenticate" with the member's id in the state;
- back from BitBadges, `confirm` accepts it only when the login BitBadges proved is that
  member's own: then it records the re-authentication and resumes what was held (the
  POST kept by allauth, or a callback such as a held connect). Another address confirms
  nothing and logs nobody in; nothing is written.

The wrap relies on allauth's module layout (pinned in pyproject; tests/siwbb/
test_reauth.py checks the wrap is in place and every guarded route goes through it).
"""

from __future__ import annotations

import logging
import time

from allauth.account import app_settings as account_settings
from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.internal.flows import reauthentication
from allauth.account.internal.flows.login import (
    get_authentication_records,
    record_authentication,
)
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.core.internal.httpkit import deserialize_request
from allauth.core.internal.urlkit import script_aware_resolve
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from users.siwbb import wording
from users.siwbb.config import PROVIDER_ID, siwbb_enabled

log = logging.getLogger(__name__)

PROCESS = "reauthenticate"  # the `process` of a Confirm with BitBadges flow
METHOD_ID = "bitbadges_reauthenticate"

_allauths = reauthentication.did_recently_reauthenticate


def did_recently_reauthenticate(request: HttpRequest) -> bool:
    """allauth's answer, except for members with no password and no authenticator: for
    them, a re-authentication (Confirm with BitBadges) recorded within the timeout."""
    user = request.user
    if user.is_anonymous:
        return False
    if reauthentication.get_reauthentication_flows(user):
        return _allauths(request)
    records = [r for r in get_authentication_records(request, user) if r.get("reauthenticated")]
    if not records:
        return False
    return time.time() - records[-1]["at"] < account_settings.REAUTHENTICATION_TIMEOUT


def install() -> None:
    """Put the wrap where allauth looks it up (its own module, at call time)."""
    reauthentication.did_recently_reauthenticate = did_recently_reauthenticate


def methods(user) -> list[dict]:
    """Confirm with BitBadges, for AccountAdapter.get_reauthentication_methods: offered to
    a member with a BitBadges login while the feature is on."""
    # Imported here: the wrap is installed while apps load, before the models are.
    from users.siwbb.selectors import bitbadges_uid

    if not user.is_authenticated or not siwbb_enabled() or not bitbadges_uid(user):
        return []
    return [
        {
            "id": METHOD_ID,
            "description": _("Confirm with BitBadges"),
            "url": reverse(f"{PROVIDER_ID}_reauthenticate"),
        }
    ]


def confirm(request: HttpRequest, sociallogin) -> None:
    """BitBadges came back for a Confirm with BitBadges flow. Always raises
    ImmediateHttpResponse, so allauth never goes on to log anyone in."""
    member = request.user
    state = sociallogin.state
    next_url = state.get("next") or ""
    own = (
        member.is_authenticated
        and state.get("member") == member.pk
        and sociallogin.is_existing
        and sociallogin.user.pk == member.pk
    )
    if not own:
        log.warning("Confirm with BitBadges: BitBadges proved another address; nothing confirmed")
        raise ImmediateHttpResponse(
            wording.error_response(
                request, wording.REAUTH_OTHER, process=PROCESS, next_url=next_url
            )
        )
    record_authentication(
        request,
        member,
        "socialaccount",
        reauthenticated=True,
        provider=PROVIDER_ID,
        uid=sociallogin.account.uid,
    )
    raise ImmediateHttpResponse(resume(request, next_url))


def resume(request: HttpRequest, next_url: str) -> HttpResponse:
    """What the confirmation was for: a held callback (allauth's), the POST allauth kept
    for `next_url`, or `next_url` itself (else where a login lands)."""
    stash = request.session.get(reauthentication.STATE_SESSION_KEY)
    if stash and "callback" in stash:
        response = reauthentication.resume_request(request)
        if response is not None:
            return response
    request.session.pop(reauthentication.STATE_SESSION_KEY, None)
    if next_url and stash and "request" in stash:
        held = deserialize_request(stash["request"], request)
        if held.path == next_url:
            resolved = script_aware_resolve(held.path)
            return resolved.func(held, *resolved.args, **resolved.kwargs)
    return HttpResponseRedirect(
        next_url or get_account_adapter(request).get_login_redirect_url(request)
    )

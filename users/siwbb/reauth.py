"""Confirm with BitBadges (or with the host site): the re-authentication of members who
log in only with a social login (BitBadges, the host site's sign-on), no password.

Every "confirm it is you" check on the site (allauth's @reauthentication_required, its
e-mail and two-factor flows, the BitBadges connect and disconnect, /password/set/) asks
allauth's `did_recently_reauthenticate`. allauth answers True for a member with neither a
usable password nor an authenticator, whatever the age of the session: for them nothing
was ever asked. `install()` (SiwbbConfig.ready) wraps it: for such a member it is True
only with a re-authentication recorded in the last ACCOUNT_REAUTHENTICATION_TIMEOUT
seconds, which they give by confirming with BitBadges or with the host site:

- /reauthenticate/ (allauth) and its middleware send them to /auth/bitbadges/reauthenticate/
  or /auth/oidc/host/reauthenticate/ (AccountAdapter.get_reauthentication_methods lists
  the ones the member has: `methods`), a page with a button;
- its POST starts the flow marked "reauthenticate" with the member's id in the state;
- back from the provider, `confirm` accepts it only when the login it proved is that
  member's own (the same provider, the same uid): then it records the re-authentication
  and resumes what was held (the POST kept by allauth, or a callback such as a held
  connect). Another account confirms nothing and logs nobody in; nothing is written.

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

from users.hostsso import PROVIDER_ID as HOST_PROVIDER_ID
from users.hostsso import REAUTHENTICATE
from users.hostsso import config as host_config
from users.hostsso import wording as host_wording
from users.siwbb import wording
from users.siwbb.config import PROVIDER_ID, siwbb_enabled

log = logging.getLogger(__name__)

PROCESS = REAUTHENTICATE  # the `process` of a Confirm with ... flow
METHOD_ID = "bitbadges_reauthenticate"
HOST_METHOD_ID = "host_reauthenticate"

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
    """Confirm with BitBadges and Confirm with <host>, for AccountAdapter.
    get_reauthentication_methods: each offered to a member with that login while its
    feature is on."""
    # Imported here: the wrap is installed while apps load, before the models are.
    from users.hostsso.selectors import host_login
    from users.siwbb.selectors import bitbadges_uid  # (models: see above)

    if not user.is_authenticated:
        return []
    found = []
    if siwbb_enabled() and bitbadges_uid(user):
        found.append(
            {
                "id": METHOD_ID,
                "description": _("Confirm with BitBadges"),
                "url": reverse(f"{PROVIDER_ID}_reauthenticate"),
            }
        )
    if host_config.hostsso_enabled() and host_login(user) is not None:
        found.append(
            {
                "id": HOST_METHOD_ID,
                "description": _("Confirm with %(host)s") % {"host": host_config.site_name()},
                "url": reverse(f"{HOST_PROVIDER_ID}_reauthenticate"),
            }
        )
    return found


def confirm(request: HttpRequest, sociallogin) -> None:
    """The provider came back for a Confirm with ... flow. Always raises
    ImmediateHttpResponse, so allauth never goes on to log anyone in. Only the member's
    own login of that provider counts (a login is one provider and uid)."""
    member = request.user
    state = sociallogin.state
    next_url = state.get("next") or ""
    own = (
        member.is_authenticated
        and state.get("member") == member.pk
        and sociallogin.is_existing
        and sociallogin.user.pk == member.pk
    )
    provider = sociallogin.account.provider
    words = host_wording if provider == HOST_PROVIDER_ID else wording
    if not own:
        log.warning("Confirm with %s: another account came back; nothing confirmed", provider)
        raise ImmediateHttpResponse(
            words.error_response(request, words.REAUTH_OTHER, process=PROCESS, next_url=next_url)
        )
    record_authentication(
        request,
        member,
        "socialaccount",
        reauthenticated=True,
        provider=provider,
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

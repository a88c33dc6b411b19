"""How staff get into the Django admin: through allauth's login, and with MFA when required.

`secure_admin_site(admin.site)` (config/urls.py calls it before the admin's URLs are
built) changes three doors of the admin:

- Its login page never checks a password. Anyone not logged in is sent to allauth's
  /login/?next=..., where the login rate limits and the second factor apply; a GET or a
  POST alike (a password POSTed to /admin/login/ is dropped, never tried). A logged-in
  member who is not staff is refused (403), so /login/ and /admin/ never send them back
  and forth; staff already logged in go on to the admin.
- Its password change is allauth's /password/change/ (its own rate limit).
- With settings.STAFF_MFA_REQUIRED, every admin page but the logout sends staff without
  an authenticator to the page that activates one, and back to the admin once done; and
  staff with one whose session never used it (a session opened before it was set up, or
  before the setting was on) to enter a code first. Activating an app counts as using it
  (`record_activation`): the person just typed one of its codes.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from allauth.account.decorators import secure_admin_login
from allauth.account.internal.flows.login import (
    get_authentication_records,
    record_authentication,
)
from allauth.account.utils import get_next_redirect_url
from allauth.core.internal.httpkit import add_query_params
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse

View = Callable[..., HttpResponse]

MFA_CODE_MESSAGE = (
    "Staff accounts need two-factor authentication to use the admin: enter a code from "
    "your authenticator app (or a recovery code) to go on."
)
MFA_REQUIRED_MESSAGE = (
    "Staff accounts need two-factor authentication to use the admin. Set up an "
    "authenticator app (after confirming your password); the admin opens once it is active."
)


def secure_admin_site(site: admin.AdminSite) -> None:
    """Route the site's login, password change and pages as the module docstring says."""
    site.login = _admin_login(site)  # type: ignore[method-assign]
    site.password_change = _password_change  # type: ignore[method-assign,assignment]
    original_admin_view = site.admin_view

    def admin_view(view: View, cacheable: bool = False) -> View:
        return _mfa_gate(site, original_admin_view(view, cacheable))

    site.admin_view = admin_view  # type: ignore[method-assign,assignment]


def _admin_login(site: admin.AdminSite) -> View:
    @wraps(site.login)
    def login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # Only ever reached by an active staff member (secure_admin_login sends everyone
        # else away): go on, and never run the admin's own login form, which would
        # check a password (perhaps someone else's) without allauth's limits.
        return HttpResponseRedirect(
            get_next_redirect_url(request) or reverse("admin:index", current_app=site.name)
        )

    guarded = secure_admin_login(login)

    @wraps(login)
    def view(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not (user.is_staff and user.is_active):
            return render(request, "account/admin_refused.html", status=403)
        return guarded(request, extra_context)

    return view


def _password_change(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    return redirect("account_change_password")


def _mfa_gate(site: admin.AdminSite, view: View) -> View:
    @wraps(view)
    def gated(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if (
            settings.STAFF_MFA_REQUIRED
            and user.is_authenticated
            and user.is_staff
            and request.path != reverse("admin:logout", current_app=site.name)
        ):
            if not is_mfa_enabled(user):
                step, message = "mfa_activate_totp", MFA_REQUIRED_MESSAGE
            elif not _session_used_mfa(request):
                step, message = "mfa_reauthenticate", MFA_CODE_MESSAGE
            else:
                return view(request, *args, **kwargs)
            messages.warning(request, message)
            url = add_query_params(reverse(step), {REDIRECT_FIELD_NAME: request.get_full_path()})
            return HttpResponseRedirect(url)
        return view(request, *args, **kwargs)

    return gated


def _session_used_mfa(request: HttpRequest) -> bool:
    """Whether this session's sign-in (or a later re-authentication) used a second factor."""
    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "mfa" for record in records)


def record_activation(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """allauth.mfa's authenticator_added: the code typed to activate an authenticator app
    proves the session holds it, as a code at login would."""
    authenticator = kwargs.get("authenticator")
    if request is None or authenticator is None or authenticator.type != "totp":
        return
    record_authentication(request, user, "mfa", id=authenticator.pk, type=authenticator.type)

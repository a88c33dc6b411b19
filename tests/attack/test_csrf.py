"""CSRF on every POST: every route the resolver knows, POSTed by a logged-in member (staff
for the admin and the sandbox's control page) with the CSRF cookie but without the token,
is refused with 403 and changes nothing. The views exempt from CSRF are exactly the ones
listed here, each with its reason."""

import pytest
from django.apps import apps as django_apps
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from claims.models import Claim
from connections.models import App, ConnectedAccount
from tests.attack.urls_support import reaches, routes, sample_path

pytestmark = pytest.mark.django_db

WEBHOOK = "Pipedream POSTs it; authenticated by our signed reference and the session's token"
SANDBOX_API = "the sandbox's emulated API: authenticated by its own credentials (OAuth, tokens)"
HOSTED = "the sandbox's hosted Connect page: the single-use Connect token is its anti-forgery"
READ_API = "the read API: a bearer API key is its only credential, never a cookie (GET only)"
HOST_IDP = (
    "the sandbox's host-site OpenID Connect provider, called server to server: the client "
    "authenticates with its secret (token) or its access token (userinfo), never a cookie"
)

# Every route outside the admin, and who is logged in when it is POSTed, or why it is
# exempt from CSRF. A route added to the site fails test_every_route_is_listed until it is
# listed here.
MEMBER, STAFF = "member", "staff"
ROUTES = {
    "": MEMBER,
    "healthz": MEMBER,
    r"^confirm-email/(?P<key>[-:\w]+)/$": MEMBER,
    "email/": MEMBER,
    "login/": MEMBER,
    "login/code/confirm/": MEMBER,
    "logout/": MEMBER,
    "inactive/": MEMBER,
    "signup/": MEMBER,
    "reauthenticate/": MEMBER,
    "confirm-email/": MEMBER,
    "password/change/": MEMBER,
    "password/set/": MEMBER,
    "password/reset/": MEMBER,
    "password/reset/done/": MEMBER,
    r"^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": MEMBER,
    "password/reset/key/done/": MEMBER,
    "2fa/": MEMBER,
    "2fa/authenticate/": MEMBER,
    "2fa/reauthenticate/": MEMBER,
    "2fa/totp/activate/": MEMBER,
    "2fa/totp/deactivate/": MEMBER,
    "2fa/recovery-codes/": MEMBER,
    "2fa/recovery-codes/generate/": MEMBER,
    "2fa/recovery-codes/download/": MEMBER,
    "profile/": MEMBER,
    "profile/address/": MEMBER,
    "profile/delete/": MEMBER,
    "profile/data/": MEMBER,
    "profile/notifications/": MEMBER,
    "profile/bitbadges/disconnect/": MEMBER,
    # Sign in with BitBadges (allauth's social views at /auth/).
    "auth/bitbadges/login/": MEMBER,
    "auth/bitbadges/login/callback/": MEMBER,
    "auth/bitbadges/reauthenticate/": MEMBER,
    "auth/social/login/cancelled/": MEMBER,
    "auth/social/login/error/": MEMBER,
    "auth/social/signup/": MEMBER,
    "auth/social/": MEMBER,
    "notifications/unsubscribe/<str:token>/": (
        "exempt: RFC 8058's one-click POST comes from the mail provider, with no cookie; "
        "the signed token is its authority. The page's own button is CSRF-checked by the "
        "view itself (tests/notifications/test_unsubscribe.py)"
    ),
    "accounts/": MEMBER,
    "accounts/<int:account_id>/disconnect/": MEMBER,
    "connect/token/": MEMBER,
    "connect/callback/": MEMBER,
    "connect/done/": MEMBER,
    "connect/webhook/": f"exempt: {WEBHOOK}",
    "connect/l/<str:signed>/": MEMBER,
    "connect/<slug:app>/": MEMBER,
    "claims/": MEMBER,
    "claims/address/": MEMBER,
    "claims/<slug:slug>/check/": MEMBER,
    "claims/trigger-webhook/": (
        "exempt: a deployed trigger's events; authenticated by the signed deployment "
        "reference and the HMAC signature made with the deployment's key"
    ),
    "c/": MEMBER,
    "c/<slug:slug>/": MEMBER,
    "c/<slug:slug>/address/": MEMBER,
    "c/<slug:slug>/check/": MEMBER,
    "c/<slug:slug>/badge": MEMBER,
    "brand.css": MEMBER,
    "brand/logo": MEMBER,
    "sandbox/": STAFF,
    "sandbox/accounts/<int:pk>/health": STAFF,
    "sandbox/accounts/<int:pk>/profile": STAFF,
    "sandbox/accounts/<int:pk>/delete": STAFF,
    "sandbox/faults/add": STAFF,
    "sandbox/faults/<int:pk>/delete": STAFF,
    "sandbox/faults/<int:pk>/toggle": STAFF,
    "sandbox/webhooks/run": STAFF,
    "sandbox/bitbadges/demo": STAFF,
    "sandbox/bitbadges/credits": STAFF,
    # BitBadges' own authorize page, played by the sandbox: a form, CSRF-checked.
    "sandbox/bitbadges/siwbb/authorize": MEMBER,
    "sandbox/webhooks/<int:pk>/retry": STAFF,
    "sandbox/triggers/<int:pk>/emit": STAFF,
    "sandbox/triggers/<int:pk>/toggle": STAFF,
    "sandbox/triggers/<int:pk>/delete": STAFF,
    "sandbox/pipedream/_static/connect.html": f"exempt: {HOSTED}",
    # The sandbox's host-site OpenID Connect provider (sandbox/host/): its discovery and
    # keys are GET only, its authorize page's form is CSRF-checked.
    "sandbox/host/.well-known/openid-configuration": MEMBER,
    "sandbox/host/jwks": MEMBER,
    "sandbox/host/authorize": MEMBER,
    "sandbox/host/token": f"exempt: {HOST_IDP}",
    "sandbox/host/userinfo": f"exempt: {HOST_IDP}",
    "sandbox/host/faults/id-token": STAFF,
    # Sign-on from the host site (users/hostsso/: allauth's OpenID Connect at /auth/oidc/):
    # every POST is a form of ours with the token; the callback is the host's GET redirect.
    "auth/oidc/host/login/": MEMBER,
    "auth/oidc/host/login/callback/": MEMBER,
    "auth/oidc/host/login/cancelled/": MEMBER,
    "auth/oidc/host/reauthenticate/": MEMBER,
    "auth/oidc/host/disconnect/": MEMBER,
    # The read API (api/): GET only. Its operations are CSRF-exempt (django-ninja marks
    # them): they authenticate by a bearer API key alone and never read a cookie, so a
    # logged-in session is no key (tests/api/test_auth.py).
    "api/v1/members/completions": f"exempt: {READ_API}",
    "api/v1/members/accounts": f"exempt: {READ_API}",
    "api/v1/claims/<slug>/completions": f"exempt: {READ_API}",
    r"api/^(?P<rest>.*)$": "exempt: the read API's JSON 404 for any other path under /api/",
    # Its description and docs page, and ninja's root (a 404): plain views, not exempt.
    "api/v1/openapi.json": MEMBER,
    "api/v1/docs": MEMBER,
    "api/v1/": MEMBER,
    r"sandbox/pipedream/^_static/connect-(?P<result>success|error)\.html$": MEMBER,
}
# The sandbox's emulated APIs: every route under these prefixes is exempt, for one reason.
EXEMPT_PREFIXES = {
    "sandbox/pipedream/v1/": SANDBOX_API,
    "sandbox/pipedream/^workflows/": SANDBOX_API,
    "sandbox/pipedream/^.*$": "the emulated API's JSON 404 for any other path",
    "sandbox/bitbadges/": SANDBOX_API,
}


# Routes an earlier route serves in their place (the site's own view around allauth's).
SHADOWED = [
    "email/",
    "password/set/",  # users.views.password_set: a password-less member confirms first
    r"^confirm-email/(?P<key>[-:\w]+)/$",
    "2fa/totp/activate/",
    "2fa/recovery-codes/",
]


def expectation(route) -> str | None:
    if route.admin:
        return STAFF
    if route.route in ROUTES:
        return ROUTES[route.route]
    for prefix, reason in EXEMPT_PREFIXES.items():
        if route.route.startswith(prefix):
            return f"exempt: {reason}"
    return None


def test_every_route_is_listed():
    walked = routes()
    assert len(walked) > 100  # the admin's, allauth's, ours and the sandbox's
    unlisted = [route.route for route in walked if expectation(route) is None]
    assert not unlisted, f"Routes with no CSRF expectation here: {unlisted}"
    stale = set(ROUTES) - {route.route for route in walked}
    assert not stale, f"Listed routes the site no longer has: {stale}"


def test_exempt_views_are_exactly_the_listed_ones():
    for route in routes():
        listed = expectation(route).startswith("exempt:")
        assert route.csrf_exempt == listed, (
            f"{route.route} is {'' if route.csrf_exempt else 'not '}CSRF-exempt, "
            f"but the list says {expectation(route)!r}"
        )


@pytest.fixture
def objects(member, staff):
    app = App.objects.create(slug="github", name="GitHub", enabled=True)
    account = ConnectedAccount.objects.create(
        member=member, app=app, pipedream_id="apn_alice1", name="octo"
    )
    claim = Claim(slug="demo", name="Demo", enabled=True, delivery="dynamic_store", store_id="s")
    claim.set_store_secret("store-secret-for-csrf")
    claim.save()
    return {
        "account_id": account.pk,
        "app": "github",
        "slug": "demo",
        "pk": 1,
        "object_id": "1",
        "int": 1,
        "path": "1",
    }


def counts() -> dict:
    skip = {"sessions.Session"}
    return {
        model._meta.label: model._default_manager.count()
        for model in django_apps.get_models()
        if model._meta.label not in skip
    }


def forged_post(client: Client, path: str):
    """A cross-site form: the browser sends the CSRF cookie, the attacker has no token."""
    client.cookies["csrftoken"] = _get_new_csrf_string()
    return client.post(path, {"app": "github", "address": "0x0", "confirm": "alice"})


def test_every_post_without_the_token_is_refused_and_changes_nothing(member, staff, objects):
    as_member = Client(enforce_csrf_checks=True)
    as_member.force_login(member)
    as_staff = Client(enforce_csrf_checks=True)
    as_staff.force_login(staff)
    before = counts()
    tried, shadowed = [], []
    for route in routes():
        who = expectation(route)
        if who.startswith("exempt:"):
            continue
        path = sample_path(route, objects)
        if not reaches(path, route):
            shadowed.append(route.route)  # an earlier route serves this path (POSTed anyway)
        response = forged_post(as_staff if who == STAFF else as_member, path)
        assert response.status_code == 403, f"POST {path} without a token: {response.status_code}"
        assert b"CSRF" in response.content or b"403" in response.content
        tried.append(path)
    assert counts() == before
    assert len(tried) > 80
    assert shadowed == SHADOWED
    # Both are still logged in: nothing above logged anyone out.
    assert as_member.get("/accounts/").status_code == 200
    assert as_staff.get("/admin/").status_code == 200


def test_the_same_post_with_the_token_is_accepted(member, objects):
    """The control: the refusal above is for the missing token, not for the POST."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    client.get("/claims/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/claims/address/",
        {"address": "0x8ba1f109551bD432803012645Ac136ddd64DBA72"},
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.address == "0x8ba1f109551bD432803012645Ac136ddd64DBA72"


def test_the_exempt_webhooks_answer_posts_without_a_token_by_their_own_rules(db):
    client = Client(enforce_csrf_checks=True)
    assert client.post("/connect/webhook/", {}, content_type="application/json").status_code == 400
    assert (
        client.post("/claims/trigger-webhook/", {}, content_type="application/json").status_code
        == 400
    )

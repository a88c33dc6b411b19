"""Open redirects: every return/next parameter the site reads (allauth's login, signup,
logout and email pages, the admin's login and logout, the Connect hand-offs and their
return, the landing page's steps, the member pages' POSTs) is given hostile targets, and
no answer ever sends the browser off-site: no Location, HX-Redirect, HX-Location or
Refresh header, and no meta refresh, naming another host or a non-http scheme."""

import datetime
import re
from urllib.parse import quote, urljoin, urlsplit

import pytest
from django.test import Client

from claims.models import Claim
from connections import references
from connections.models import App, ConnectedAccount

pytestmark = pytest.mark.django_db

HOSTILE = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    "https:evil.example",
    "http:/evil.example",
    "https://testserver@evil.example",
    "https://evil.example#@testserver",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\r\nLocation: https://evil.example",
    "/%0d%0aLocation:%20https://evil.example",
    "%2F%2Fevil.example",
    "https%3A%2F%2Fevil.example",
    "/%2F/evil.example",
    "/%5Cevil.example",
    "\x00//evil.example",
    " //evil.example",
    "ｈｔｔｐｓ://evil.example",
]
PARAMS = ("next", "return", "return_to", "redirect", "redirect_to", "redirect_uri", "continue")
HEADERS = ("Location", "HX-Redirect", "HX-Location", "Refresh")


def off_site(target: str, base: str = "http://testserver/somewhere/page/") -> str | None:
    """Why `target` (a redirect target) leaves the site as a browser resolves it, or None.

    As browsers do (WHATWG URL): leading and trailing spaces and control characters
    dropped, tabs and line breaks removed, backslashes read as slashes. Percent-escapes
    stay escapes: "/%2F/evil.example" is a path on this site."""
    if "\r" in target or "\n" in target:
        return "carries a raw line break (header injection)"
    cleaned = target.strip("".join(map(chr, range(0x21))))
    cleaned = re.sub(r"[\t\r\n]", "", cleaned).replace("\\", "/")
    # Special schemes: any run of slashes after "http(s):" or at the start is authority.
    scheme = re.match(r"^(https?):/*", cleaned, re.I)
    if scheme and (
        cleaned[len(scheme.group(1)) + 1 :].startswith("/") or scheme.group(1).lower() != "http"
    ):
        cleaned = f"{scheme.group(1)}://" + cleaned[scheme.end() :]
    elif cleaned.startswith("//"):
        cleaned = "//" + cleaned.lstrip("/")
    resolved = urlsplit(urljoin(base, cleaned))
    if resolved.scheme not in ("http", "https"):
        return f"scheme {resolved.scheme}"
    if resolved.hostname != "testserver":
        return f"host {resolved.hostname}"
    return None


def assert_on_site(response, what: str):
    for header in HEADERS:
        value = response.headers.get(header)
        if value is None:
            continue
        target = value.split("url=", 1)[-1] if header == "Refresh" else value
        assert off_site(target) is None, f"{what}: {header} {value!r} ({off_site(target)})"
    if response.get("Content-Type", "").startswith("text/html") and not response.streaming:
        for match in re.finditer(
            rb'http-equiv="?refresh"?[^>]*content="[^"]*url=([^"]+)"', response.content, re.I
        ):
            target = match.group(1).decode()
            assert off_site(target) is None, f"{what}: meta refresh to {target!r}"


def test_the_checker_catches_every_hostile_target():
    """The control: each hostile value, used as a Location as is, counts as off-site,
    except the percent-encoded ones, which a browser reads as paths on this site."""
    encoded = {value for value in HOSTILE if "%" in value or value.startswith("ｈ")}
    for value in HOSTILE:
        assert (off_site(value) is None) == (value in encoded), value
    for value in ("/", "/claims/", "/c/demo/?x=1", "http://testserver/accounts/", "%2F%2Fx"):
        assert off_site(value) is None, value


@pytest.fixture
def world(member, staff):
    app = App.objects.create(slug="github", name="GitHub", enabled=True)
    account = ConnectedAccount.objects.create(
        member=member, app=app, pipedream_id="apn_r1", name="octo"
    )
    claim = Claim(slug="demo", name="Demo", enabled=True, delivery="dynamic_store", store_id="s")
    claim.set_store_secret("store-secret-redirects")
    claim.save()
    return {"app": app, "account": account, "claim": claim}


def query(value: str) -> str:
    return "&".join(f"{name}={quote(value, safe='')}" for name in PARAMS)


def form(value: str, **fields) -> dict:
    return {**{name: value for name in PARAMS}, **fields}


@pytest.mark.parametrize("value", HOSTILE)
def test_logging_in_and_out_never_redirects_off_site(member, staff, world, value):
    anonymous = Client()
    q = query(value)
    pages = ("/login/", "/signup/", "/password/reset/", "/admin/login/", "/logout/")
    for path in pages if value in SAMPLE else pages[:1]:
        assert_on_site(anonymous.get(f"{path}?{q}"), f"GET {path}")
    response = anonymous.post(f"/login/?{q}", form(value, login="alice", password="connect-demo"))
    assert response.status_code == 302, response.content[:300]
    assert_on_site(response, "POST /login/")
    # Logged in: the login page itself sends the member on, not off-site.
    assert_on_site(anonymous.get(f"/login/?{q}"), "GET /login/ when logged in")
    assert_on_site(anonymous.post(f"/logout/?{q}", form(value)), "POST /logout/")

    if value not in SAMPLE:
        return  # the admin's login and logout: a sample of each kind
    admin = Client()
    # The admin's login checks no password: it sends to /login/, keeping a safe next only.
    response = admin.post(
        f"/admin/login/?{q}", form(value, username="root-admin", password="connect-demo")
    )
    assert response.status_code == 302
    assert_on_site(response, "POST /admin/login/")
    response = admin.post(f"/login/?{q}", form(value, login="root-admin", password="connect-demo"))
    assert response.status_code == 302
    assert_on_site(response, "POST /login/ (staff)")
    # Logged in as staff: the admin's login page sends on, never off-site.
    assert_on_site(admin.get(f"/admin/login/?{q}"), "GET /admin/login/ as staff")
    assert_on_site(admin.post(f"/admin/logout/?{q}", form(value)), "POST /admin/logout/")


@pytest.mark.parametrize("value", HOSTILE[:8] + HOSTILE[15:18])
def test_signing_up_never_redirects_off_site(db, value):
    client = Client()
    q = query(value)
    response = client.post(
        f"/signup/?{q}",
        form(
            value,
            username="newcomer",
            email="newcomer@example.com",
            password1="a-long-password-41",
            password2="a-long-password-41",
        ),
    )
    assert response.status_code == 302, response.content[:500]
    assert_on_site(response, "POST /signup/")
    # A sign-up logs nobody in: "check your inbox", whose "Log in" keeps only a safe next.
    assert urlsplit(response["Location"]).path == "/confirm-email/"
    assert_on_site(client.get(f"/confirm-email/?{q}"), "GET /confirm-email/")
    response = client.post(
        f"/login/?{q}", form(value, login="newcomer", password="a-long-password-41")
    )
    assert response.status_code == 302
    assert_on_site(response, "POST /login/ after sign-up")


# The pages below read no return parameter at all: a sample of each kind is enough.
SAMPLE = [
    "https://evil.example/",
    "//evil.example",
    "/\\evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "/\r\nLocation: https://evil.example",
    "%2F%2Fevil.example",
]


@pytest.mark.parametrize("value", SAMPLE)
def test_member_pages_and_connect_hand_offs_never_redirect_off_site(member, world, value):
    client = Client()
    client.force_login(member)
    q = query(value)
    account, claim = world["account"], world["claim"]
    gets = [
        "/",
        "/accounts/",
        "/claims/",
        "/profile/",
        "/email/",
        "/password/change/",
        f"/c/{claim.slug}/",
        f"/accounts/{account.pk}/disconnect/",
        "/connect/done/",
        "/connect/done/?s=not-a-reference",
        "/connect/nonexistent-app/",
        f"/connect/l/{value}/" if "/" not in value and "\\" not in value else "/connect/l/x/",
    ]
    for path in gets:
        joiner = "&" if "?" in path else "?"
        assert_on_site(client.get(f"{path}{joiner}{q}"), f"GET {path}")
        assert_on_site(client.get(f"{path}{joiner}{q}", HTTP_HX_REQUEST="true"), f"htmx GET {path}")
    posts = [
        ("/claims/address/", {"address": "not-an-address"}),
        (f"/claims/{claim.slug}/check/", {}),
        (f"/c/{claim.slug}/address/", {"address": "not-an-address"}),
        (f"/c/{claim.slug}/check/", {}),
        ("/profile/address/", {"address": "not-an-address"}),
        ("/profile/delete/", {"confirm": "wrong"}),
        ("/email/", {"email": "x@example.com", "action_add": ""}),
    ]
    for path, data in posts:
        assert_on_site(client.post(f"{path}?{q}", form(value, **data)), f"POST {path}")
        assert_on_site(
            client.post(f"{path}?{q}", form(value, **data), HTTP_HX_REQUEST="true"),
            f"htmx POST {path}",
        )


@pytest.mark.parametrize("value", HOSTILE[:6])
def test_connect_returns_to_login_on_site(member, world, value):
    """Anonymous at the Connect return and an emailed link: sent to log in, on this site,
    with a next that is this site's path."""
    from connections.models import ConnectSession

    session = ConnectSession.objects.create(
        member=member,
        app=world["app"],
        mode=ConnectSession.Mode.LINK,
        token_digest="0" * 64,
        expires_at="2100-01-01T00:00:00Z",
    )
    reference = references.session_reference_make(session.public_id)
    link = references.emailed_link_sign(
        member_pk=member.pk,
        external_id=str(member.external_id),
        app_slug="github",
        expires_at=datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC),
    )
    client = Client()
    q = query(value)
    for path in (f"/connect/done/?s={reference}&{q}", f"/connect/l/{link}/?{q}"):
        response = client.get(path)
        assert response.status_code == 302
        assert_on_site(response, f"GET {path}")
        assert response["Location"].startswith("/login/?next=")
        # Then logging in goes where `next` says: back to this site's path.
        login = client.post(response["Location"], {"login": "alice", "password": "connect-demo"})
        assert_on_site(login, f"login after {path}")
        assert login["Location"].startswith(path.split("?")[0])
        client.post("/logout/")

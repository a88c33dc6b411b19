"""Sign-on from the host site against the sandbox's OpenID Connect provider, over real
HTTP (live_server).

Our side is Django's test client (in this process); the host's side is the sandbox's
authorize page and its token, keys and userinfo endpoints, served by live_server and
reached with `requests`, as a browser and as our server would. A sign-on: POST
/auth/oidc/host/login/ (302 to the sandbox's page), the page's Approve or Deny (302 back
to our callback with `code` and `state`, or `error`), then our callback with the test
client.
"""

import functools
import html
import re
from urllib.parse import parse_qs, urlsplit

import requests
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib.auth import get_user_model
from joserfc.jwk import RSAKey

from sandbox.host.models import HostSigningKey
from sandbox.host.registry import register_client

CLIENT_ID = "connect-claim-host-test"
CLIENT_SECRET = "host-test-client-secret-0123456789"  # noqa: S105 (the sandbox's, for tests)
START_PATH = "/auth/oidc/host/login/"
CALLBACK_PATH = "/auth/oidc/host/login/callback/"
CONFIRM_PATH = "/auth/oidc/host/reauthenticate/"
HOST = "Sandbox Community"
ALICE_SUB = "host-alice-0001"
ALICE_EMAIL = "alice@community.example"
BOB_SUB = "host-bob-0002"
BOB_EMAIL = "bob@community.example"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@functools.cache
def _signing_jwk() -> dict:
    """One RSA key for the whole run: the sandbox would make one per test (each test
    empties the database), 50 ms or more each."""
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, private=True)
    return {"kid": key.thumbprint(), "private_jwk": key.as_dict(private=True)}


def host_on(settings, live_server, **client) -> None:
    """Register this site at the sandbox's provider and point the settings at it (the
    sandbox's issuer and site name are the defaults with SANDBOX on)."""
    if not HostSigningKey.objects.exists():
        jwk = _signing_jwk()
        HostSigningKey.objects.create(kid=jwk["kid"], private_jwk={**jwk["private_jwk"]})
    register_client(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=[live_server.url + CALLBACK_PATH],
        name="Connect & Claim (tests)",
        **client,
    )
    settings.SANDBOX = True
    settings.PUBLIC_URL = live_server.url
    settings.HOST_SITE_NAME = ""
    settings.HOST_OIDC_ISSUER = ""
    settings.HOST_OIDC_CLIENT_ID = CLIENT_ID
    settings.HOST_OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.HOST_OIDC_TIMEOUT = 5
    settings.SANDBOX_FAULTS = {}


def start(client, *, process: str = "login", next_url: str = "") -> str:
    """POST the host button; the sandbox authorize URL it sends the browser to."""
    data = {"process": process}
    if next_url:
        data["next"] = next_url
    response = client.post(START_PATH, data)
    assert response.status_code == 302, response.content[:800]
    return response["Location"]


def at_host(
    authorize_url: str, *, member: str = "alice", decision: str = "approve", username: str = ""
) -> str:
    """Open the sandbox's page as a browser, pick a member and Approve or Deny: where it
    sends us back."""
    with requests.Session() as web:
        page = web.get(authorize_url, timeout=10)
        assert page.status_code == 200, page.text[:800]
        token = CSRF.search(page.text).group(1)
        answer = web.post(
            authorize_url,
            data={
                "csrfmiddlewaretoken": token,
                "decision": decision,
                "member": member,
                "username": username,
            },
            allow_redirects=False,
            timeout=10,
        )
    assert answer.status_code == 302, answer.text[:800]
    return answer.headers["Location"]


def back(client, location: str):
    """Bring the host's redirect to our callback (only its path and query)."""
    parts = urlsplit(location)
    assert parts.path == CALLBACK_PATH, location
    return client.get(f"{parts.path}?{parts.query}")


def sign_on(
    client,
    *,
    member: str = "alice",
    decision: str = "approve",
    process: str = "login",
    next_url: str = "",
    username: str = "",
):
    """The whole round: our button, the sandbox's page, our callback's response."""
    authorize_url = start(client, process=process, next_url=next_url)
    return back(client, at_host(authorize_url, member=member, decision=decision, username=username))


def confirm_with_host(client, location: str, *, member: str = "alice"):
    """A member without a password was sent to `location` (Confirm with <host>): press its
    button, approve at the host as `member`; our callback's response."""
    assert urlsplit(location).path == CONFIRM_PATH, location
    held = query(location)
    started = client.post(CONFIRM_PATH, {"next": held["next"]} if "next" in held else {})
    assert started.status_code == 302, started.content[:800]
    return back(client, at_host(started["Location"], member=member))


def query(location: str) -> dict:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def nothing_written(users_before: int = 0, logins_before: int = 0) -> None:
    assert get_user_model().objects.count() == users_before
    assert SocialAccount.objects.count() == logins_before
    assert not SocialToken.objects.exists()


def page_text(response) -> str:
    """The page's HTML with its entities read and its white space squeezed."""
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def messages_of(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]

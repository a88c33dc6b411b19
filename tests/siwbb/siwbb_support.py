"""Sign in with BitBadges against the sandbox over real HTTP (live_server).

Our side is Django's test client (in this process); BitBadges' side is the sandbox's
authorize page and token endpoint, served by live_server and reached with `requests`,
as a browser and as our server would. A sign-in: POST /auth/bitbadges/login/ (302 to
the sandbox's page), the page's Approve or Deny (302 back to our callback with `code`
and `state`, or `error`), then our callback with the test client.
"""

import contextlib
import html
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib.auth import get_user_model

from sandbox.bitbadges.siwbb import register_app

CLIENT_ID = "connect-claim-test"
CLIENT_SECRET = "test-client-secret-0123456789abcdef"
CALLBACK_PATH = "/auth/bitbadges/login/callback/"
# Addresses as BitBadges users sign in with them (the sandbox answers 0x in lower case).
ALICE_0X = "0x742d35cc6634c0532925a3b844bc9e7595f0beb1"
ALICE_EIP55 = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"
ALICE_BB = "bb1wskntnrxxnq9x2f95wuyf0y7wk2lp043p2tca7"
BOB_BB = "bb1z3t55m0l9h0eupuz3dp5t5cypyv674jjl8mh5h"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def siwbb_on(settings, live_server) -> None:
    """Register this site's app at the sandbox and point the settings at it."""
    register_app(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=[live_server.url + CALLBACK_PATH],
        name="Connect & Claim (tests)",
    )
    settings.PUBLIC_URL = live_server.url
    settings.BITBADGES_API_URL = f"{live_server.url}/sandbox/bitbadges"
    settings.BITBADGES_SIWBB_AUTHORIZE_URL = ""
    settings.BITBADGES_CLIENT_ID = CLIENT_ID
    settings.BITBADGES_CLIENT_SECRET = CLIENT_SECRET
    settings.BITBADGES_TIMEOUT = 5
    settings.SANDBOX_FAULTS = {}


def start(client, *, process: str = "login", next_url: str = "") -> str:
    """POST the BitBadges button; the sandbox authorize URL it sends the browser to."""
    data = {"process": process}
    if next_url:
        data["next"] = next_url
    response = client.post("/auth/bitbadges/login/", data)
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def at_bitbadges(authorize_url: str, *, address: str = ALICE_0X, decision: str = "approve") -> str:
    """Open the sandbox's page as a browser and Approve or Deny: where it sends us back."""
    with requests.Session() as web:
        page = web.get(authorize_url, timeout=10)
        assert page.status_code == 200, page.text[:500]
        token = CSRF.search(page.text).group(1)
        answer = web.post(
            authorize_url,
            data={"csrfmiddlewaretoken": token, "decision": decision, "account": address},
            allow_redirects=False,
            timeout=10,
        )
    assert answer.status_code == 302, answer.text[:500]
    return answer.headers["Location"]


def back(client, location: str):
    """Bring BitBadges' redirect to our callback (only its path and query)."""
    parts = urlsplit(location)
    assert parts.path == CALLBACK_PATH, location
    return client.get(f"{parts.path}?{parts.query}")


def sign_in(
    client,
    *,
    address: str = ALICE_0X,
    decision: str = "approve",
    process: str = "login",
    next_url: str = "",
):
    """The whole round: our button, the sandbox's page, our callback's response."""
    return back(
        client,
        at_bitbadges(
            start(client, process=process, next_url=next_url), address=address, decision=decision
        ),
    )


CONFIRM_PATH = "/auth/bitbadges/reauthenticate/"


def confirm_with_bitbadges(client, location: str, *, address: str = ALICE_0X):
    """A member without a password was sent to `location` (Confirm with BitBadges):
    press its button, approve at BitBadges as `address`; our callback's response (what
    was held goes on)."""
    assert urlsplit(location).path == CONFIRM_PATH, location
    held = query(location)
    started = client.post(CONFIRM_PATH, {"next": held["next"]} if "next" in held else {})
    assert started.status_code == 302, started.content[:500]
    return back(client, at_bitbadges(started["Location"], address=address))


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


@contextlib.contextmanager
def fake_token_endpoint(*, status: int = 200, body: object = None, hang: float = 0.0):
    """A BitBadges that answers the token exchange as told (shapes the sandbox never
    gives: a 200 without a valid address, a failed verification, no answer at all),
    over real HTTP on 127.0.0.1. Yields (its base URL, the bodies it received)."""
    received: list = []
    answer = json.dumps(body).encode() if not isinstance(body, bytes) else body

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            received.append(self.rfile.read(length))
            if hang:
                time.sleep(hang)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            with contextlib.suppress(ConnectionError):  # we stop reading a huge answer
                self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        server.server_close()

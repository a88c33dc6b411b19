"""The attack suite's watch: every response the site gives, every log record of the
project's loggers (at DEBUG) and every exception a request raised during a test are
collected, and after the test they are searched for secrets.

Secrets are the configured ones (Pipedream client secret, BitBadges API key, the claim
secrets keys, SECRET_KEY), the ones the sandbox issued during the test (OAuth access
tokens, Connect tokens and trigger signing keys, read from its answers as they pass),
and whatever a test registers with
`watch.secret(name, value)` (claim passwords, store secrets).

What is not searched, and why:
- answers under /sandbox/: the sandbox is the emulated upstream; handing out tokens
  is its job. Likewise its models' pages in the admin, /admin/sandbox/ (sandbox mode
  only), which show the upstream's own records.
- Connect tokens in the answer of POST /connect/token/ and in a redirect to Pipedream's
  hosted page (PIPEDREAM_CONNECT_URL): the member's own token, by design (DESIGN.md);
  every other secret is still searched there.
- records of the `sandbox` loggers: the upstream's own logs.

A response of the site with status 500 also fails the test: no attack may cause one.
"""

import json
import logging
import traceback

import pytest
from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.signals import got_request_exception

from tests.members_support import verify_email

PROJECT_LOGGERS = (
    "config",
    "connections",
    "claims",
    "users",
    "django.request",
    "django.security",
    "django.server",
    "django_tasks_db",
    "django.tasks",
    "allauth",
)
# Keys of the sandbox's JSON answers that hold a secret it issued.
HARVESTED = {
    "access_token": "OAuth access token",
    "token": "Connect token",
    "webhook_signing_key": "trigger signing key",
    "signing_key": "trigger signing key",
}
# Paths whose answers may carry the member's own Connect token (see the docstring).
CONNECT_TOKEN_PATHS = ("/connect/token/",)


class _Capture(logging.Handler):
    def __init__(self, watch):
        super().__init__(level=logging.DEBUG)
        self.watch = watch
        self.formatter_ = logging.Formatter()

    def emit(self, record):
        if record.name == "sandbox" or record.name.startswith("sandbox."):
            return
        try:
            text = record.getMessage()
        except Exception:  # a record that cannot format is itself worth seeing
            text = f"{record.msg!r} % {record.args!r}"
        if record.exc_info:
            text += "\n" + self.formatter_.formatException(record.exc_info)
        self.watch.logs.append((record.name, record.levelname, text))


class Watch:
    def __init__(self):
        self.responses = []  # (method, path, status, text)
        self.logs = []  # (logger, level, text)
        self.exceptions = []  # (path, text)
        self.handoffs = []  # redirects to Pipedream's hosted page (they carry a token)
        self.issued = {}  # name -> value: tokens the sandbox handed out
        self.registered = {}  # name -> value: set by the tests

    def secret(self, name: str, value: str) -> str:
        self.registered[name] = value
        return value

    # --- collecting ---------------------------------------------------------------

    def record_response(self, request, response):
        path = request.path
        if getattr(response, "streaming", False):
            text = ""
        else:
            text = response.content.decode("utf-8", errors="replace")
        if path.startswith("/sandbox/"):
            self._harvest(text)
            return
        if path.startswith("/admin/sandbox/"):
            return  # the emulated upstream's own records (sandbox mode only)
        headers = "\n".join(f"{k}: {v}" for k, v in response.items() if k != "Location")
        location = response.get("Location", "")
        if location.startswith(settings.PIPEDREAM_CONNECT_URL + "/"):
            # The Connect Link hand-off: the member's own token, to Pipedream's page.
            self.handoffs.append(location)
        else:
            headers += f"\nLocation: {location}"
        self.responses.append((request.method, path, response.status_code, headers + "\n" + text))

    def _harvest(self, text: str):
        """Secrets in the sandbox's answers: OAuth access tokens, Connect tokens, trigger
        signing keys (anywhere in the JSON)."""
        try:
            data = json.loads(text)
        except ValueError:
            return
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                for key, value in item.items():
                    if isinstance(value, dict | list):
                        stack.append(value)
                    elif isinstance(value, str) and key in HARVESTED and len(value) >= 8:
                        self.issued[f"{HARVESTED[key]} {value[:6]}…"] = value

    # --- checking -----------------------------------------------------------------

    def configured(self) -> dict:
        found = {
            "PIPEDREAM_CLIENT_SECRET": settings.PIPEDREAM_CLIENT_SECRET,
            "BITBADGES_API_KEY": settings.BITBADGES_API_KEY,
            "SECRET_KEY": settings.SECRET_KEY,
        }
        for number, key in enumerate(settings.CLAIM_SECRETS_KEYS):
            found[f"CLAIM_SECRETS_KEYS[{number}]"] = key
        return found

    def leaks(self) -> list[str]:
        secrets = {**self.configured(), **self.issued}
        secrets.update(self.registered)
        secrets = {name: value for name, value in secrets.items() if value and len(value) >= 8}
        found = []
        for method, path, status, text in self.responses:
            for name, value in secrets.items():
                if name.startswith("Connect token") and path in CONNECT_TOKEN_PATHS:
                    continue
                if value in text:
                    found.append(f"{name} in the answer to {method} {path} ({status})")
        for location in self.handoffs:
            for name, value in secrets.items():
                if value in location and not name.startswith("Connect token"):
                    found.append(f"{name} in a hand-off to {location[:80]}")
        for logger_name, level, text in self.logs:
            for name, value in secrets.items():
                if value in text:
                    found.append(f"{name} in a {level} record of {logger_name}: {text[:300]!r}")
        for path, text in self.exceptions:
            for name, value in secrets.items():
                if value in text:
                    found.append(f"{name} in an exception raised by {path}")
        return found

    def server_errors(self) -> list[str]:
        return [
            f"{method} {path} answered {status}"
            for method, path, status, _ in self.responses
            if status >= 500 and status not in (502, 503, 504)
        ]


@pytest.fixture(autouse=True)
def watch(monkeypatch):
    """The collector; after the test, no secret anywhere and no 500."""
    state = Watch()
    original = BaseHandler.get_response

    def get_response(self, request):
        response = original(self, request)
        try:
            state.record_response(request, response)
        except Exception:  # noqa: BLE001 - never let the watch break a request
            state.exceptions.append((request.path, traceback.format_exc()))
        return response

    monkeypatch.setattr(BaseHandler, "get_response", get_response)

    def on_exception(sender, request=None, **kwargs):
        text = traceback.format_exc()
        state.exceptions.append((getattr(request, "path", "?"), text))

    got_request_exception.connect(on_exception, weak=False)
    handler = _Capture(state)
    levels = {}
    for name in PROJECT_LOGGERS:
        logger = logging.getLogger(name)
        levels[name] = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    try:
        yield state
    finally:
        got_request_exception.disconnect(on_exception)
        for name in PROJECT_LOGGERS:
            logger = logging.getLogger(name)
            logger.removeHandler(handler)
            logger.setLevel(levels[name])
    leaks = state.leaks()
    errors = state.server_errors()
    assert not leaks, "Secrets leaked:\n" + "\n".join(leaks)
    assert not errors, "Server errors:\n" + "\n".join(errors)


# --- members ---------------------------------------------------------------------------


@pytest.fixture
def bob(django_user_model):
    return verify_email(
        django_user_model.objects.create_user(
            username="bob",
            email="bob@example.com",
            password="connect-demo",
            address="0x8ba1f109551bD432803012645Ac136ddd64DBA72",
        )
    )


@pytest.fixture
def staff(django_user_model):
    return verify_email(
        django_user_model.objects.create_superuser(
            username="root-admin", email="root@example.com", password="connect-demo"
        )
    )

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
  hosted page (PIPEDREAM_CONNECT_URL): the member's own token, by design (docs/architecture.md);
  every other secret is still searched there.
- records of the `sandbox` loggers: the upstream's own logs.

A response of the site with status 500 also fails the test: no attack may cause one.
"""

import logging
import traceback

import pytest
from django.core.handlers.base import BaseHandler
from django.core.signals import got_request_exception

from tests.attack.watch_support import Watch
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

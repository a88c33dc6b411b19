"""The watch itself (watch_support.py) can fail: a secret in an answer, a log record or an
exception is reported, and so is a 500; the sandbox's own answers are not."""

import logging

from django.conf import settings
from django.http import HttpResponse
from django.test import RequestFactory

from tests.attack.watch_support import Watch


def answer(path: str, body: str, status: int = 200, **headers):
    request = RequestFactory().get(path)
    response = HttpResponse(body, status=status)
    for name, value in headers.items():
        response[name] = value
    return request, response


def test_a_secret_in_an_answer_a_header_a_log_or_an_exception_is_reported():
    watch = Watch()
    watch.record_response(*answer("/claims/", f"key={settings.SECRET_KEY}"))
    watch.record_response(*answer("/accounts/", "", 302, Location=f"/x?k={settings.SECRET_KEY}"))
    watch.logs.append(("claims", "DEBUG", f"using {settings.BITBADGES_API_KEY}"))
    watch.exceptions.append(("/connect/token/", f"Error: {settings.PIPEDREAM_CLIENT_SECRET}"))
    leaks = watch.leaks()
    assert len(leaks) == 4, leaks
    assert any("SECRET_KEY in the answer to GET /claims/" in leak for leak in leaks)
    assert any("BITBADGES_API_KEY in a DEBUG record of claims" in leak for leak in leaks)


def test_tokens_the_sandbox_issues_are_learnt_and_searched():
    watch = Watch()
    watch.record_response(
        *answer("/sandbox/pipedream/v1/oauth/token", '{"access_token": "oat_0123456789abcdef"}')
    )
    watch.record_response(
        *answer("/sandbox/pipedream/v1/connect/p/tokens", '{"token": "ctok_0123456789abcdef"}')
    )
    assert not watch.leaks()  # the sandbox handing them out is not a leak
    watch.record_response(*answer("/accounts/", "oat_0123456789abcdef ctok_0123456789abcdef"))
    assert len(watch.leaks()) == 2
    # The member's own Connect token, in the token answer and the hand-off: allowed.
    watch = Watch()
    watch.record_response(
        *answer("/sandbox/pipedream/v1/connect/p/tokens", '{"token": "ctok_0123456789abcdef"}')
    )
    watch.record_response(*answer("/connect/token/", '{"token": "ctok_0123456789abcdef"}'))
    hand_off = f"{settings.PIPEDREAM_CONNECT_URL}/_static/connect.html?token=ctok_0123456789abcdef"
    watch.record_response(*answer("/connect/github/", "", 302, Location=hand_off))
    assert not watch.leaks()


def test_registered_secrets_and_server_errors_are_reported():
    watch = Watch()
    watch.secret("claim password", "pw-0123456789")
    watch.record_response(*answer("/c/demo/", "your password is pw-0123456789"))
    watch.record_response(*answer("/claims/", "oops", 500))
    watch.record_response(*answer("/accounts/", "upstream down", 502))
    assert watch.leaks() == ["claim password in the answer to GET /c/demo/ (200)"]
    assert watch.server_errors() == ["GET /claims/ answered 500"]


def test_project_loggers_are_captured_at_debug(watch):
    logging.getLogger("connections.services").debug("a debug line")
    logging.getLogger("sandbox.common.faults").warning("the upstream's own line")
    assert ("connections.services", "DEBUG", "a debug line") in watch.logs
    assert not [entry for entry in watch.logs if entry[0].startswith("sandbox")]

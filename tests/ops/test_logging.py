"""Operations: request ids on every response and log line, JSON logs, one line per
upstream failure with its context and without secrets."""

import io
import json
import logging

import pytest
import responses
from django.conf import settings
from django.test import Client
from django.utils.module_loading import import_string

from claims import bitbadges
from config.observability import RequestIdFilter
from connections import pipedream
from tests.claims import bitbadges_support as bb
from tests.connections.pipedream_support import (
    ACCOUNTS_URL,
    SECRET,
    make_client,
    mock_api,
)
from tests.health_support import answering_upstreams

pytestmark = pytest.mark.django_db


@pytest.fixture
def upstreams_answer(settings):
    """/healthz, the page these tests ask, finds both upstreams there."""
    with answering_upstreams(settings):
        yield


def _json_formatter() -> logging.Formatter:
    """The formatter production uses, built from settings.LOGGING as dictConfig would."""
    spec = dict(settings.LOGGING["formatters"]["json"])
    factory = import_string(spec.pop("()"))
    spec["fmt"] = spec.pop("format")  # dictConfig renames it too for a "()" factory
    return factory(**spec)


@pytest.fixture
def json_log():
    """Lines the production JSON handler would write, for the project's loggers."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_json_formatter())
    handler.addFilter(RequestIdFilter())
    names = ["config.access", "claims", "connections"]
    for name in names:
        logging.getLogger(name).addHandler(handler)
    previous = logging.getLogger("config.access").level
    logging.getLogger("config.access").setLevel(logging.INFO)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    for name in names:
        logging.getLogger(name).removeHandler(handler)
    logging.getLogger("config.access").setLevel(previous)


@pytest.mark.usefixtures("upstreams_answer")
def test_every_response_carries_a_request_id(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/login/")["X-Request-ID"]
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != second


@pytest.mark.usefixtures("upstreams_answer")
def test_a_clients_request_id_is_ignored_unless_a_proxy_header_is_configured(client):
    response = client.get("/healthz", headers={"X-Request-ID": "chosen-by-the-client"})
    assert response["X-Request-ID"] != "chosen-by-the-client"


@pytest.mark.usefixtures("upstreams_answer")
@pytest.mark.parametrize(
    "incoming, kept",
    [
        ("lb-7f3a9c2e", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("x\nFAKE LOG LINE", False),
        ('"},{"level":"CRITICAL', False),
        ("", False),
    ],
)
def test_a_proxys_request_id_is_used_only_when_it_looks_like_one(settings, incoming, kept):
    settings.LOG_REQUEST_ID_HEADER = "HTTP_X_REQUEST_ID"
    response = Client().get("/healthz", headers={"X-Request-ID": incoming})
    assert (response["X-Request-ID"] == incoming) is kept
    assert "\n" not in response["X-Request-ID"]


@pytest.mark.usefixtures("upstreams_answer")
def test_the_access_log_is_json_with_the_request_id_and_context(client, json_log, settings):
    settings.ACCESS_LOG = True
    response = client.get("/healthz")

    [line] = [line for line in json_log() if line["logger"] == "config.access"]
    assert line["request_id"] == response["X-Request-ID"]
    assert line["level"] == "INFO"
    assert line["route"] == "/healthz"
    assert line["view"] == "healthz"
    assert line["status"] == 200
    assert line["method"] == "GET"
    assert line["member"] is None
    assert isinstance(line["duration_ms"], float)
    assert "time" in line


def test_the_access_log_names_the_url_pattern_not_the_path(client, json_log, settings):
    # The path holds the email confirmation key, which must not reach a log.
    settings.ACCESS_LOG = True
    client.get("/confirm-email/secret-confirmation-key-123/")
    text = json.dumps(json_log())
    assert "secret-confirmation-key-123" not in text
    [line] = [line for line in json_log() if line["logger"] == "config.access"]
    assert line["view"] == "account_confirm_email"
    assert "confirm-email" in line["route"]


def test_a_pipedream_failure_is_logged_once_with_context_and_no_secret(caplog):
    client = make_client()
    caplog.set_level(logging.INFO, logger="connections")
    with mock_api() as rsps:
        url = f"{ACCOUNTS_URL}/apn_abc123"
        rsps.add(responses.GET, url, status=503, json={"error": f"down, {SECRET} leaked"})
        with pytest.raises(pipedream.Unavailable):
            client.get_account("apn_abc123")

    failures = [r for r in caplog.records if getattr(r, "upstream", None) == "Pipedream"]
    assert len(failures) == 1, [r.getMessage() for r in failures]
    [failure] = failures
    assert failure.levelno == logging.WARNING
    assert failure.status == 503
    assert failure.error == "Unavailable"
    assert failure.operation
    assert all(SECRET not in r.getMessage() for r in caplog.records)


def test_a_malformed_bitbadges_answer_is_logged_once(caplog):
    client = bb.make_client()
    caplog.set_level(logging.INFO, logger="claims")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, bb.CLAIM_URL, body="<html>oops " + bb.KEY, status=200)
        with pytest.raises(bitbadges.InvalidResponse):
            client.get_claim(bb.CLAIM)

    failures = [r for r in caplog.records if getattr(r, "upstream", None) == "BitBadges"]
    assert len(failures) == 1
    assert failures[0].error == "InvalidResponse"
    assert failures[0].levelno == logging.WARNING
    assert all(bb.KEY not in r.getMessage() for r in caplog.records)


def test_a_rejected_claim_is_logged_once_at_info(caplog):
    client = bb.make_client()
    caplog.set_level(logging.INFO, logger="claims")
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST,
            bb.COMPLETE_URL,
            status=500,
            json={"errorMessage": "User not in whitelist"},
        )
        with pytest.raises(bitbadges.ClaimRejected):
            client.complete(bb.CLAIM, bb.ETH)

    failures = [r for r in caplog.records if getattr(r, "upstream", None) == "BitBadges"]
    assert len(failures) == 1
    assert failures[0].levelno == logging.INFO
    assert failures[0].status == 500


@pytest.mark.parametrize(
    "text", ["Authentication required with the Complete Claims scope", "Incorrect password"]
)
def test_a_claim_set_up_wrong_is_logged_once_as_a_warning(caplog, text):
    # Refusals come as 500s whatever they mean: one an admin must fix is a warning.
    client = bb.make_client()
    caplog.set_level(logging.INFO, logger="claims")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, bb.COMPLETE_URL, status=500, json={"errorMessage": text})
        with pytest.raises(bitbadges.ClaimRejected):
            client.complete(bb.CLAIM, bb.ETH)
    failures = [r for r in caplog.records if getattr(r, "upstream", None) == "BitBadges"]
    assert [r.levelno for r in failures] == [logging.WARNING]


def test_djangos_own_error_lines_name_the_route_not_the_path(client):
    """Django logs every 4xx/5xx with its path ("Not Found: /...") and the request: the
    production handler's filter swaps both for the URL pattern (paths may carry keys)."""
    from config.observability import RequestPathFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_json_formatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RequestPathFilter())
    django_request = logging.getLogger("django.request")
    django_request.addHandler(handler)
    try:
        response = client.get("/c/secret-key-in-the-path-123/")
    finally:
        django_request.removeHandler(handler)

    assert response.status_code == 404
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert "secret-key-in-the-path-123" not in json.dumps(line)
    assert line["message"] == "Not Found: /c/<slug:slug>/"
    assert line["request"] == "GET /c/<slug:slug>/"
    assert line["request_id"] == response["X-Request-ID"]


def test_the_production_handler_has_the_path_filter(settings):
    assert "request_path" in settings.LOGGING["handlers"]["console"]["filters"]

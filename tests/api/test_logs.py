"""API keys never reach a log line: not the access log, not Django's 4xx warnings, not
with DEBUG on (django-ninja's own bearer class logs an unexpected Authorization header
then; ours does not), and an error report shows the Authorization header masked."""

import logging
import re

import pytest
from django.test import RequestFactory
from django.utils import timezone
from django.views.debug import ExceptionReporter
from pythonjsonlogger.json import JsonFormatter

from api.models import ApiKey
from config.logging_config import logging_dict
from config.observability import PlainFormatter, RequestIdFilter, RequestPathFilter
from tests.api.api_support import ApiClient, make_key

pytestmark = pytest.mark.django_db

URL = "/api/v1/members/completions"


def _formatted(record: logging.LogRecord) -> str:
    """The record as the console handler would write it, in both formats, and raw."""
    RequestIdFilter().filter(record)
    RequestPathFilter().filter(record)
    formats = logging_dict("json", "INFO")["formatters"]
    json_format = JsonFormatter(formats["json"]["format"])
    plain = PlainFormatter(formats["plain"]["format"])
    return json_format.format(record) + plain.format(record) + repr(vars(record))


@pytest.mark.parametrize("debug", [False, True])
def test_no_log_line_carries_a_key(client, settings, caplog, alice, debug):
    settings.DEBUG = debug
    settings.ACCESS_LOG = True
    settings.API_RATE_LIMIT = (2, 60)
    settings.API_AUTH_FAILURE_RATE_LIMIT = (2, 600)
    caplog.set_level(logging.DEBUG)
    key, row = make_key()
    revoked, revoked_row = make_key(revoked_at=timezone.now())
    unknown = key[:-4] + "AAAA"
    api = ApiClient(client)
    params = {"host_id": "host-alice-0001"}
    statuses = [
        api.get(URL, params, key=key).status_code,  # 200
        api.get(URL, params, key=revoked).status_code,  # 403
        api.get(URL, params, headers={"authorization": f"Token {key}"}).status_code,  # 401
        api.get(URL, params, headers={"authorization": key}).status_code,  # 401
        api.get(URL, params, key=key).status_code,  # 200
        api.get(URL, params, key=key).status_code,  # 429 (per key)
        api.get(URL, params, key=unknown).status_code,  # 429 (per address)
    ]
    assert statuses == [200, 403, 401, 401, 200, 429, 429]
    lines = [_formatted(record) for record in caplog.records]
    assert any("api-v1:member_completions 401" in line for line in lines)  # logged, but:
    for secret in (key, revoked, unknown):
        for part in (secret, secret.removeprefix(row.prefix + "_")):
            assert not any(part in line for line in lines)
    assert ApiKey.objects.get(pk=revoked_row.pk).digest not in "".join(lines)


def _report(request) -> str:
    """An error report (as emailed to admins, or the DEBUG page) of a failure while
    serving `request`; this frame holds no key of its own."""
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        report = ExceptionReporter(request, type(exc), exc, exc.__traceback__)
        return report.get_traceback_text() + report.get_traceback_html()


def test_an_error_report_masks_the_authorization_header():
    key, _ = make_key()
    text = _report(RequestFactory().get(URL, headers={"authorization": f"Bearer {key}"}))
    assert "HTTP_AUTHORIZATION" in text
    assert key not in text


def test_a_flood_is_logged_once_per_window_by_the_keys_prefix(client, settings, caplog, alice):
    settings.API_RATE_LIMIT = (2, 60)
    settings.API_AUTH_FAILURE_RATE_LIMIT = (2, 600)
    caplog.set_level(logging.INFO)
    key, row = make_key(name="Community site")
    api = ApiClient(client, key)
    params = {"host_id": "host-alice-0001"}
    statuses = [api.get(URL, params).status_code for _ in range(6)]
    assert statuses == [200, 200, 429, 429, 429, 429]
    bad = key[:-4] + "AAAA"
    statuses = [api.get(URL, params, key=bad).status_code for _ in range(6)]
    assert statuses == [401, 401, 429, 429, 429, 429]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2
    assert re.fullmatch(
        rf"API key {row.prefix}_… \(Community site\) made over 2 requests in 60 s; "
        r"it gets 429 for \d+ s",
        warnings[0],
    )
    assert re.fullmatch(
        r"API: 2 invalid keys from 127\.0\.0\.1 in 600 s; it gets 429 for \d+ s", warnings[1]
    )
    access = [r for r in caplog.records if r.name == "config.access"]
    assert len(access) == 12  # yet every request has its access line

"""A Python client generated from the description the API serves drives the API.

openapi-python-client (in a subprocess, into tmp_path, no formatting hooks) reads the
description /api/v1/openapi.json served; the generated package, imported from tmp_path,
then reads a member's completions and apps, pages through a claim's completions, and
parses the 401, 403 and 429 answers as the description's Error. Its HTTP goes through
httpx into this site's WSGI application in this process (no live server: the client's
code and the site's answers are what is tested, not sockets).
"""

import importlib
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone

from claims.models import Completion
from tests.api.api_support import make_key, served_description

pytestmark = [pytest.mark.one_database, pytest.mark.django_db]

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "cc_api_client"
BASE_URL = "http://testserver"


@pytest.fixture
def generated(tmp_path):
    """The client package generated from the served description, imported."""
    description = tmp_path / "openapi.json"
    description.write_text(json.dumps(served_description()), encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text("post_hooks: []\n", encoding="utf-8")
    subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(description),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / PACKAGE),
            "--fail-on-warning",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    sys.path.insert(0, str(tmp_path))
    try:
        package = importlib.import_module(PACKAGE)
        assert Path(package.__file__).is_relative_to(tmp_path)  # this code, just made
        yield package
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _api(name):
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def _site(environ, start_response):
    """This site's WSGI application, called as Django's test Client calls it: the
    request's start and end do not close the test's database connection (its
    transaction holds the rows the request reads)."""
    signals = (request_started, request_finished)
    for signal in signals:
        signal.disconnect(close_old_connections)
    try:
        response = WSGIHandler()(environ, start_response)
        body = b"".join(response)
        response.close()
        return [body]
    finally:
        for signal in signals:
            signal.connect(close_old_connections)


def _client(package, key=None):
    """A generated client whose requests reach this site's WSGI application."""
    transport = {"transport": httpx.WSGITransport(app=_site)}
    if key is None:
        return package.Client(base_url=BASE_URL, httpx_args=transport)
    return package.AuthenticatedClient(base_url=BASE_URL, token=key, httpx_args=transport)


def test_a_client_generated_from_the_description_drives_the_api(
    generated, settings, alice, claim, make_members
):
    key, row = make_key()
    client = _client(generated, key)
    members = _api("members.member_completions")
    accounts = _api("members.member_accounts")
    pages = _api("claims.claim_completions")
    Completion.objects.create(
        claim=claim, member=alice, state="completed", completed_at=timezone.now()
    )
    for member in make_members(4):
        Completion.objects.create(claim=claim, member=member, state="waiting")

    answer = members.sync_detailed(client=client, host_id="host-alice-0001")
    assert answer.status_code == 200
    body = answer.parsed
    assert type(body).__module__.startswith(PACKAGE)  # parsed by the generated models
    assert body.member.host_id == "host-alice-0001"
    assert str(body.member.external_id) == str(alice.external_id)
    assert body.results[0].claim == "github-starter"
    assert isinstance(body.results[0].completed_at, datetime)
    assert accounts.sync(client=client, external_id=alice.external_id).results == []

    seen, cursor = [], None
    while True:
        page = pages.sync(client=client, slug="github-starter", limit=2, cursor=cursor)
        seen += [completion.id for completion in page.results]
        cursor = page.next_cursor
        assert len(seen) <= 10, "the cursor does not move on"
        if not cursor:
            break
    assert seen == list(Completion.objects.order_by("pk").values_list("pk", flat=True))

    missing = members.sync_detailed(client=_client(generated), host_id="host-alice-0001")
    assert missing.status_code == 401 and missing.parsed.error == "missing_key"
    assert members.sync(client=client, host_id="host-nobody").error == "member_not_found"
    assert members.sync(client=client).error == "bad_request"

    row.revoked_at = timezone.now()
    row.save(update_fields=["revoked_at"])
    revoked = members.sync_detailed(client=client, host_id="host-alice-0001")
    assert revoked.status_code == 403 and revoked.parsed.error == "revoked_key"

    settings.API_RATE_LIMIT = (1, 60)
    fresh, _ = make_key()
    limited = _client(generated, fresh)
    assert members.sync_detailed(client=limited, host_id="host-alice-0001").status_code == 200
    past = members.sync_detailed(client=limited, host_id="host-alice-0001")
    assert past.status_code == 429 and past.parsed.error == "rate_limited"
    assert int(past.headers["Retry-After"]) >= 1

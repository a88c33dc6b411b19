"""A Python client generated from the description the API serves drives the API.

openapi-python-client (in a subprocess, into tmp_path, no formatting hooks) reads
/api/v1/openapi.json from a live server; the generated package then reads a member's
completions and apps, pages through a claim's completions, and parses the 401, 403 and
429 answers as the description's Error, over real HTTP.
"""

import importlib
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from django.utils import timezone

from claims.models import Completion
from tests.api.api_support import make_key

pytestmark = [pytest.mark.one_database, pytest.mark.django_db(transaction=True)]

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "cc_api_client"


@pytest.fixture
def generated(live_server, tmp_path):
    """The client package generated from the served description, imported."""
    config = tmp_path / "config.yaml"
    config.write_text("post_hooks: []\n", encoding="utf-8")
    subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--url",
            f"{live_server.url}/api/v1/openapi.json",
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
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _api(package, name):
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def test_a_client_generated_from_the_description_drives_the_api(
    generated, live_server, settings, alice, claim, make_members
):
    key, row = make_key()
    client = generated.AuthenticatedClient(base_url=live_server.url, token=key)
    members = _api(generated, "members.member_completions")
    accounts = _api(generated, "members.member_accounts")
    pages = _api(generated, "claims.claim_completions")
    Completion.objects.create(
        claim=claim, member=alice, state="completed", completed_at=timezone.now()
    )
    for member in make_members(4):
        Completion.objects.create(claim=claim, member=member, state="waiting")

    answer = members.sync_detailed(client=client, host_id="host-alice-0001")
    assert answer.status_code == 200
    body = answer.parsed
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

    missing = members.sync_detailed(
        client=generated.Client(base_url=live_server.url), host_id="host-alice-0001"
    )
    assert missing.status_code == 401 and missing.parsed.error == "missing_key"
    assert members.sync(client=client, host_id="host-nobody").error == "member_not_found"
    assert members.sync(client=client).error == "bad_request"

    settings.API_RATE_LIMIT = (1, 60)
    fresh, _ = make_key()
    limited = generated.AuthenticatedClient(base_url=live_server.url, token=fresh)
    assert members.sync_detailed(client=limited, host_id="host-alice-0001").status_code == 200
    past = members.sync_detailed(client=limited, host_id="host-alice-0001")
    assert past.status_code == 429 and past.parsed.error == "rate_limited"
    assert int(past.headers["Retry-After"]) >= 1

    row.revoked_at = timezone.now()
    row.save(update_fields=["revoked_at"])
    revoked = members.sync_detailed(client=client, host_id="host-alice-0001")
    assert revoked.status_code == 403 and revoked.parsed.error == "revoked_key"

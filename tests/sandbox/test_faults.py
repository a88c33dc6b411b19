"""Fault injection, from settings and from the database, on the emulated endpoints."""

import time

import pytest
import requests
from django.urls import get_resolver

from sandbox.common import faults
from sandbox.common.models import Fault
from tests.live_support import wait_until_served
from tests.sandbox.contract_support import CREDENTIALS, LivePipedream

pytestmark = pytest.mark.django_db


def test_throttling_from_settings(api, settings):
    settings.SANDBOX_FAULTS = {"pipedream.accounts.list": {"status": 429, "retry_after": 7}}
    now = int(time.time())

    response = api.get("/v1/connect/{pid}/accounts")
    other = api.get("/v1/connect/apps")

    assert response.status_code == 429
    assert response.json() == {"error": "Throttled"}
    assert response["Retry-After"] == "7"
    assert response["X-RateLimit-Limit"] == "100"
    assert response["X-RateLimit-Remaining"] == "0"
    assert now + 7 <= int(response["X-RateLimit-Reset"]) <= now + 9
    assert other.status_code == 200  # only the named endpoint


def test_server_errors_from_a_pattern(api, settings):
    settings.SANDBOX_FAULTS = {"pipedream.tokens.*": {"status": 503}}

    response = api.post("/v1/connect/{pid}/tokens", json_body={"external_user_id": "u"})

    assert response.status_code == 503
    assert response.json() == {"error": "Service Unavailable (injected by the sandbox)"}


def test_a_fault_on_the_token_endpoint_itself(anonymous_api, settings):
    settings.SANDBOX_FAULTS = {"pipedream.oauth.token": {"status": 500}}
    assert anonymous_api.post("/v1/oauth/token", json_body=CREDENTIALS).status_code == 500


def test_malformed_json(api, settings):
    settings.SANDBOX_FAULTS = {"pipedream.apps.get": {"malformed": True}}

    response = api.get("/v1/connect/apps/github", broken=True)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        response.json()


def test_latency(api, settings):
    settings.SANDBOX_FAULTS = {"pipedream.apps.list": {"latency_ms": 300}}
    started = time.monotonic()

    response = api.get("/v1/connect/apps")

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_rate_zero_never_fires_and_rate_one_always(api, settings):
    settings.SANDBOX_FAULTS = {"pipedream.apps.list": {"status": 500, "rate": 0}}
    assert all(api.get("/v1/connect/apps").status_code == 200 for _ in range(5))

    settings.SANDBOX_FAULTS = {"pipedream.apps.list": {"status": 500, "rate": 1}}
    assert all(api.get("/v1/connect/apps").status_code == 500 for _ in range(5))


def test_a_partial_rate_fires_sometimes(api, settings, monkeypatch):
    settings.SANDBOX_FAULTS = {"pipedream.apps.list": {"status": 500, "rate": 0.5}}
    rolls = iter([0.2, 0.7])
    monkeypatch.setattr(faults.random, "random", lambda: next(rolls))

    assert api.get("/v1/connect/apps").status_code == 500
    assert api.get("/v1/connect/apps").status_code == 200


def test_faults_from_the_database(api):
    fault = Fault.objects.create(endpoint="pipedream.accounts.*", status=429, retry_after=3)

    listed = api.get("/v1/connect/{pid}/accounts")
    fault.enabled = False
    fault.save()
    after = api.get("/v1/connect/{pid}/accounts")

    assert listed.status_code == 429 and listed["Retry-After"] == "3"
    assert after.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_on_a_shared_cache_each_change_of_a_row_is_on_the_next_request(api, shared_cache):
    # The rows are kept per process there (sandbox/common/models.enabled_faults): every
    # save or deletion, committed, replaces the version every process reads.
    assert api.get("/v1/connect/{pid}/accounts").status_code == 200  # "none" is kept
    fault = Fault.objects.create(endpoint="pipedream.accounts.*", status=429, retry_after=3)
    assert api.get("/v1/connect/{pid}/accounts").status_code == 429
    fault.status = 503
    fault.save()
    assert api.get("/v1/connect/{pid}/accounts").status_code == 503
    fault.delete()
    assert api.get("/v1/connect/{pid}/accounts").status_code == 200
    # Another process's row (no signal here), then its commit's new version.
    Fault.objects.bulk_create([Fault(endpoint="pipedream.accounts.*", status=502)])
    assert api.get("/v1/connect/{pid}/accounts").status_code == 200  # still kept
    from sandbox.common.models import _enabled

    _enabled.committed()  # what the other process's save does at its commit
    assert api.get("/v1/connect/{pid}/accounts").status_code == 502


def test_settings_come_before_rows(api, settings):
    settings.SANDBOX_FAULTS = {"pipedream.apps.list": {"status": 502}}
    Fault.objects.create(endpoint="pipedream.apps.list", status=429)
    assert api.get("/v1/connect/apps").status_code == 502


def test_faults_reach_the_hosted_page_and_workflows(client, api, settings, mint):
    settings.SANDBOX_FAULTS = {
        "pipedream.connect.page": {"status": 503},
        "pipedream.workflows.invoke": {"status": 429},
    }
    ctok = mint("user-1")["token"]
    page = client.get(f"/sandbox/pipedream/_static/connect.html?token={ctok}&app=github")
    workflow = api.post(
        "/workflows/en-sandbox-github/", json_body={}, headers={"X-PD-External-User-ID": "u"}
    )

    assert page.status_code == 503
    assert workflow.status_code == 429


def test_a_bad_spec_in_settings_is_ignored(api, settings):
    settings.SANDBOX_FAULTS = {"pipedream.apps.list": {"stauts": 500}}
    assert api.get("/v1/connect/apps").status_code == 200


@pytest.mark.parametrize(
    "spec",
    [{"rate": 2}, {"status": 200}, {"latency_ms": -1}, {"bogus": 1}, "500"],
)
def test_clean_spec_rejects_nonsense(spec):
    with pytest.raises(faults.FaultSpecError):
        faults.clean_spec(spec)


def test_every_api_view_is_fault_injectable():
    """Each emulated endpoint goes through @injectable, and each name is used."""
    names = set()
    pipedream = next(p for p in get_resolver().url_patterns if str(p.pattern) == "sandbox/")

    def walk(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns)
                continue
            callback = pattern.callback
            for view in getattr(callback, "views", {}).values():
                names.add(view.sandbox_endpoint)
            if hasattr(callback, "sandbox_endpoint"):
                names.add(callback.sandbox_endpoint)

    walk(pipedream.url_patterns)
    assert names == set(faults.ENDPOINTS)


@pytest.mark.django_db(transaction=True)
def test_a_hang_outlasts_the_clients_timeout(live_server, settings):
    settings.SANDBOX_FAULTS = {"pipedream.apps.list": {"hang_seconds": 1, "status": 504}}
    live = LivePipedream(live_server.url)
    live.token = live.request("POST", "/v1/oauth/token", json=CREDENTIALS).json()["access_token"]
    started = time.monotonic()

    with pytest.raises(requests.Timeout):
        live.request("GET", "/v1/connect/apps", timeout=0.3)

    # The server thread answers after the hang; let it finish before the server stops.
    wait_until_served(max(0.0, started + 2.5 - time.monotonic()))

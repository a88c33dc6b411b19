"""Deployed triggers: deploy, list, get, update (pause/resume), delete, events, webhooks.

Every test answers through `responses`; nothing reaches the network. The payload
builders are in pipedream_triggers_support.py, shared with
tests/contract/test_pipedream_triggers_contract.py, which checks them against Pipedream's
published description.
"""

import logging

import pytest
import requests
import responses
from responses import matchers

from connections.pipedream import (
    BadRequest,
    InvalidResponse,
    NotFound,
    PipedreamClient,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from tests.connections.pipedream_support import (
    OAUTH_URL,
    PROJECT,
    calls_to,
    make_client,
    mock_api,
    oauth_body,
    page_body,
    sent_json,
)
from tests.connections.pipedream_triggers_support import (
    DEPLOY_URL,
    DEPLOYED_URL,
    HOOK,
    SIGNING_KEY,
    TRIGGER,
    TRIGGER_URL,
    USER,
    deployed_trigger_body,
    event_body,
    webhooks_body,
)

# --- Fixtures ------------------------------------------------------------------------


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps) -> PipedreamClient:
    return make_client(sleep=sleeps.append)


@pytest.fixture
def mocked():
    with mock_api() as rsps:
        yield rsps


def user_query(**extra) -> list:
    return [matchers.query_param_matcher({"external_user_id": USER, **extra})]


# --- Deploy --------------------------------------------------------------------------


def test_deploy_trigger_sends_every_option_and_returns_the_data(client, mocked):
    answer = {"data": deployed_trigger_body(signing_key=SIGNING_KEY)}
    mocked.add(responses.POST, DEPLOY_URL, json=answer)
    props = {"github": {"authProvisionId": "apn_abc123"}, "repo": "octo/cat"}
    deployed = client.deploy_trigger(
        trigger_id="github-new-star",
        external_user_id=USER,
        configured_props=props,
        webhook_url=HOOK,
        workflow_id="p_abc123",
        dynamic_props_id="dyp_abc",
        emit_on_deploy=False,
    )
    assert deployed == deployed_trigger_body(signing_key=SIGNING_KEY)
    assert deployed["webhook_signing_key"] == SIGNING_KEY  # kept for the caller to store
    (call,) = calls_to(mocked, DEPLOY_URL)
    assert sent_json(call) == {
        "id": "github-new-star",
        "external_user_id": USER,
        "configured_props": props,
        "webhook_url": HOOK,
        "workflow_id": "p_abc123",
        "dynamic_props_id": "dyp_abc",
        "emit_on_deploy": False,
    }
    headers = call.request.headers
    assert headers["Authorization"].startswith("Bearer ")
    assert headers["x-pd-environment"] == "development"
    assert headers["Content-Type"] == "application/json"
    assert "?" not in call.request.url


def test_deploy_trigger_omits_options_left_unset(client, mocked):
    mocked.add(responses.POST, DEPLOY_URL, json={"data": deployed_trigger_body()})
    client.deploy_trigger(trigger_id="github-new-star", external_user_id=USER)
    (call,) = calls_to(mocked, DEPLOY_URL)
    assert sent_json(call) == {"id": "github-new-star", "external_user_id": USER}


def test_deploy_trigger_is_not_retried_after_a_500(client, mocked, sleeps):
    mocked.add(responses.POST, DEPLOY_URL, status=500, json={"error": "boom"})
    mocked.add(responses.POST, DEPLOY_URL, json={"data": deployed_trigger_body()})
    with pytest.raises(Unavailable) as caught:
        client.deploy_trigger(trigger_id="github-new-star", external_user_id=USER)
    assert caught.value.status == 500
    assert caught.value.operation == "deploy trigger github-new-star"
    assert len(calls_to(mocked, DEPLOY_URL)) == 1
    assert sleeps == []


def test_deploy_trigger_is_not_retried_after_a_read_timeout(client, mocked, sleeps):
    mocked.add(responses.POST, DEPLOY_URL, body=requests.ReadTimeout("slow"))
    mocked.add(responses.POST, DEPLOY_URL, json={"data": deployed_trigger_body()})
    with pytest.raises(Unavailable, match="did not answer within 5 s"):
        client.deploy_trigger(trigger_id="github-new-star", external_user_id=USER)
    assert len(calls_to(mocked, DEPLOY_URL)) == 1
    assert sleeps == []


def test_deploy_trigger_is_retried_after_a_429(client, mocked, sleeps):
    # A throttled request was not processed: sending it again deploys one trigger.
    mocked.add(
        responses.POST,
        DEPLOY_URL,
        status=429,
        json={"error": "Throttled"},
        headers={"Retry-After": "3"},
    )
    mocked.add(responses.POST, DEPLOY_URL, json={"data": deployed_trigger_body()})
    assert client.deploy_trigger(trigger_id="t", external_user_id=USER)["id"] == TRIGGER
    assert sleeps == [3.0]


def test_deploy_trigger_without_data_is_an_invalid_response(client, mocked):
    mocked.add(responses.POST, DEPLOY_URL, json=deployed_trigger_body(signing_key=SIGNING_KEY))
    with pytest.raises(InvalidResponse, match="object `data`") as caught:
        client.deploy_trigger(trigger_id="t", external_user_id=USER)
    assert SIGNING_KEY not in str(caught.value)
    assert SIGNING_KEY not in repr(caught.value.body)
    assert caught.value.body["webhook_signing_key"] == "[redacted]"


def test_deploy_trigger_data_without_an_id_is_an_invalid_response(client, mocked):
    body = deployed_trigger_body(signing_key=SIGNING_KEY)
    del body["id"]
    mocked.add(responses.POST, DEPLOY_URL, json={"data": body})
    with pytest.raises(InvalidResponse, match="data.id") as caught:
        client.deploy_trigger(trigger_id="t", external_user_id=USER)
    assert SIGNING_KEY not in str(caught.value)
    assert SIGNING_KEY not in repr(caught.value.body)


def test_a_truncated_deploy_answer_is_not_quoted(client, mocked):
    # A body cut short is not JSON, yet may hold the signing key in clear.
    text = '{"data": {"id": "dc_abc123", "webhook_signing_key": "' + SIGNING_KEY
    mocked.add(responses.POST, DEPLOY_URL, body=text, content_type="application/json")
    with pytest.raises(InvalidResponse, match="not shown") as caught:
        client.deploy_trigger(trigger_id="t", external_user_id=USER)
    assert SIGNING_KEY not in str(caught.value)
    assert caught.value.body is None


def test_a_signing_key_echoed_in_an_error_is_redacted(client, mocked):
    mocked.add(
        responses.POST,
        DEPLOY_URL,
        status=400,
        json={"error": "bad props", "details": {"webhook_signing_key": SIGNING_KEY}},
    )
    with pytest.raises(BadRequest) as caught:
        client.deploy_trigger(trigger_id="t", external_user_id=USER)
    assert caught.value.message == "bad props"
    assert SIGNING_KEY not in str(caught.value)
    assert SIGNING_KEY not in repr(caught.value.body)


def test_the_signing_key_never_reaches_the_logs(client, mocked, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="connections.pipedream")
    mocked.add(
        responses.POST, DEPLOY_URL, json={"data": deployed_trigger_body(signing_key=SIGNING_KEY)}
    )
    mocked.add(
        responses.GET,
        TRIGGER_URL,
        json={"data": deployed_trigger_body(signing_key=SIGNING_KEY)},
    )
    client.deploy_trigger(trigger_id="t", external_user_id=USER, webhook_url=HOOK)
    client.get_deployed_trigger(TRIGGER, external_user_id=USER)
    assert f"POST api.pipedream.com/v1/connect/{PROJECT}/triggers/deploy -> 200" in caplog.text
    assert SIGNING_KEY not in caplog.text


# --- List and get --------------------------------------------------------------------


def test_list_deployed_triggers_follows_every_page(client, mocked):
    pages = [
        (
            {},
            page_body([deployed_trigger_body("dc_a1"), deployed_trigger_body("dc_a2")], "ZGNfYTI"),
        ),
        ({"after": "ZGNfYTI"}, page_body([deployed_trigger_body("dc_a3")], "ZGNfYTM")),
        ({"after": "ZGNfYTM"}, page_body([], None)),
    ]
    for extra, body in pages:
        mocked.add(responses.GET, DEPLOYED_URL, json=body, match=user_query(limit="2", **extra))
    triggers = client.list_deployed_triggers(external_user_id=USER, limit=2)
    assert [t["id"] for t in triggers] == ["dc_a1", "dc_a2", "dc_a3"]
    assert len(calls_to(mocked, DEPLOYED_URL)) == 3


def test_list_deployed_triggers_stops_at_an_empty_cursor(client, mocked):
    mocked.add(
        responses.GET,
        DEPLOYED_URL,
        json=page_body([deployed_trigger_body()], ""),
        match=user_query(),
    )
    assert [t["id"] for t in client.list_deployed_triggers(external_user_id=USER)] == [TRIGGER]


def test_list_deployed_triggers_refuses_a_body_without_data(client, mocked):
    mocked.add(responses.GET, DEPLOYED_URL, json={"triggers": []})
    with pytest.raises(InvalidResponse, match="list `data`"):
        client.list_deployed_triggers(external_user_id=USER)


def test_get_deployed_trigger_unwraps_data(client, mocked):
    mocked.add(
        responses.GET, TRIGGER_URL, json={"data": deployed_trigger_body()}, match=user_query()
    )
    assert client.get_deployed_trigger(TRIGGER, external_user_id=USER) == deployed_trigger_body()


def test_get_deployed_trigger_refuses_a_bare_trigger(client, mocked):
    # The description wraps it in {"data": ...}; a bare object is not what we expect.
    mocked.add(responses.GET, TRIGGER_URL, json=deployed_trigger_body())
    with pytest.raises(InvalidResponse, match="object `data`"):
        client.get_deployed_trigger(TRIGGER, external_user_id=USER)


def test_trigger_ids_are_quoted_in_the_path(client, mocked):
    url = f"{DEPLOYED_URL}/dc%2F..%2Fx"
    mocked.add(responses.GET, url, json={"data": deployed_trigger_body()})
    client.get_deployed_trigger("dc/../x", external_user_id=USER)
    assert len(calls_to(mocked, url)) == 1


# --- Update, pause, resume -------------------------------------------------------------


def test_update_deployed_trigger_sends_only_the_fields_given(client, mocked):
    mocked.add(
        responses.PUT, TRIGGER_URL, json={"data": deployed_trigger_body()}, match=user_query()
    )
    updated = client.update_deployed_trigger(
        TRIGGER,
        external_user_id=USER,
        configured_props={"repo": "octo/dog"},
        name="Stars",
        emit_on_deploy=False,
    )
    assert updated["id"] == TRIGGER
    (call,) = calls_to(mocked, TRIGGER_URL)
    assert sent_json(call) == {
        "configured_props": {"repo": "octo/dog"},
        "name": "Stars",
        "emit_on_deploy": False,
    }


@pytest.mark.parametrize(("pause", "active"), [(True, False), (False, True)])
def test_pause_and_resume_set_active(client, mocked, pause, active):
    mocked.add(
        responses.PUT,
        TRIGGER_URL,
        json={"data": deployed_trigger_body(active=active)},
        match=user_query(),
    )
    action = client.pause_deployed_trigger if pause else client.resume_deployed_trigger
    assert action(TRIGGER, external_user_id=USER)["active"] is active
    (call,) = calls_to(mocked, TRIGGER_URL)
    assert sent_json(call) == {"active": active}


def test_update_is_retried_after_a_500(client, mocked, sleeps):
    # A PUT of absolute values: sending it twice leaves the same state.
    mocked.add(responses.PUT, TRIGGER_URL, status=500, json={"error": "boom"})
    mocked.add(responses.PUT, TRIGGER_URL, json={"data": deployed_trigger_body(active=False)})
    assert client.pause_deployed_trigger(TRIGGER, external_user_id=USER)["active"] is False
    assert len(calls_to(mocked, TRIGGER_URL)) == 2
    assert len(sleeps) == 1


# --- Delete --------------------------------------------------------------------------


def test_delete_deployed_trigger(client, mocked):
    mocked.add(
        responses.DELETE,
        TRIGGER_URL,
        status=204,
        match=user_query(ignore_hook_errors="true"),
    )
    assert (
        client.delete_deployed_trigger(TRIGGER, external_user_id=USER, ignore_hook_errors=True)
        is None
    )


def test_delete_deployed_trigger_leaves_ignore_hook_errors_unset(client, mocked):
    mocked.add(responses.DELETE, TRIGGER_URL, status=204, match=user_query())
    client.delete_deployed_trigger(TRIGGER, external_user_id=USER)


def test_delete_a_trigger_that_is_gone_raises_not_found(client, mocked):
    mocked.add(responses.DELETE, TRIGGER_URL, status=404, json={"error": "record not found"})
    with pytest.raises(NotFound) as caught:
        client.delete_deployed_trigger(TRIGGER, external_user_id=USER)
    assert str(caught.value) == (
        "Pipedream found nothing there (404 Not Found) while trying to delete deployed "
        f"trigger {TRIGGER}: record not found"
    )


# --- Events and webhooks ---------------------------------------------------------------


def test_list_trigger_events(client, mocked):
    url = f"{TRIGGER_URL}/events"
    events = [event_body("e2"), event_body("e1")]
    mocked.add(responses.GET, url, json={"data": events}, match=user_query(n="2"))
    assert client.list_trigger_events(TRIGGER, external_user_id=USER, n=2) == events


@pytest.mark.parametrize("body", [{"events": []}, {"data": ["x"]}, [event_body()]])
def test_list_trigger_events_refuses_other_shapes(client, mocked, body):
    mocked.add(responses.GET, f"{TRIGGER_URL}/events", json=body)
    with pytest.raises(InvalidResponse, match="list of objects `data`"):
        client.list_trigger_events(TRIGGER, external_user_id=USER)


def test_list_trigger_webhooks_returns_the_urls(client, mocked):
    url = f"{TRIGGER_URL}/webhooks"
    mocked.add(
        responses.GET,
        url,
        json=webhooks_body([HOOK], signing_key=SIGNING_KEY),
        match=user_query(),
    )
    assert client.list_trigger_webhooks(TRIGGER, external_user_id=USER) == [HOOK]


def test_update_trigger_webhooks_replaces_the_urls(client, mocked):
    url = f"{TRIGGER_URL}/webhooks"
    urls = [HOOK, "https://claims.example.com/other/"]
    mocked.add(responses.PUT, url, json=webhooks_body(urls), match=user_query())
    assert client.update_trigger_webhooks(TRIGGER, external_user_id=USER, webhook_urls=urls) == urls
    (call,) = calls_to(mocked, url)
    assert sent_json(call) == {"webhook_urls": urls}


def test_update_trigger_webhooks_refuses_a_bare_string(client):
    # RequestsMock refuses any request: nothing may be sent.
    with responses.RequestsMock(), pytest.raises(ValueError, match="list of URLs"):
        client.update_trigger_webhooks(TRIGGER, external_user_id=USER, webhook_urls=HOOK)


def test_a_webhooks_answer_without_urls_is_invalid_and_hides_signing_keys(client, mocked):
    body = webhooks_body([HOOK], signing_key=SIGNING_KEY)
    del body["webhook_urls"]
    mocked.add(responses.GET, f"{TRIGGER_URL}/webhooks", json=body)
    with pytest.raises(InvalidResponse, match="webhook_urls") as caught:
        client.list_trigger_webhooks(TRIGGER, external_user_id=USER)
    assert SIGNING_KEY not in str(caught.value)
    assert SIGNING_KEY not in repr(caught.value.body)


def test_a_webhooks_answer_wrapped_in_data_is_invalid(client, mocked):
    # The description (and the SDK) have webhook_urls at the top level, unlike the rest.
    mocked.add(responses.GET, f"{TRIGGER_URL}/webhooks", json={"data": webhooks_body([HOOK])})
    with pytest.raises(InvalidResponse):
        client.list_trigger_webhooks(TRIGGER, external_user_id=USER)


# --- Errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(400, BadRequest), (404, NotFound), (500, Unavailable), (503, Unavailable)],
)
def test_errors_map_to_the_error_family(client, mocked, status, error_class):
    mocked.add(responses.GET, TRIGGER_URL, status=status, json={"error": "nope"})
    with pytest.raises(error_class) as caught:
        client.get_deployed_trigger(TRIGGER, external_user_id=USER)
    assert type(caught.value) is error_class
    assert caught.value.status == status
    assert caught.value.operation == f"get deployed trigger {TRIGGER}"


def test_a_500_on_a_read_is_retried_then_reported(client, mocked, sleeps):
    mocked.add(responses.GET, TRIGGER_URL, status=500, json={"error": "boom"})
    with pytest.raises(Unavailable):
        client.get_deployed_trigger(TRIGGER, external_user_id=USER)
    assert len(calls_to(mocked, TRIGGER_URL)) == 4  # max_retries=3
    assert len(sleeps) == 3


def test_a_401_fetches_a_new_token_once_then_reports(client):
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, OAUTH_URL, json=oauth_body("first"))
        rsps.add(responses.POST, OAUTH_URL, json=oauth_body("second"))
        rsps.add(responses.GET, f"{TRIGGER_URL}/events", status=401, json={"error": "expired"})
        with pytest.raises(Unauthorized):
            client.list_trigger_events(TRIGGER, external_user_id=USER)
        sent = [c.request.headers["Authorization"] for c in calls_to(rsps, f"{TRIGGER_URL}/events")]
    assert sent == ["Bearer first", "Bearer second"]


def test_a_429_with_a_long_retry_after_is_reported_not_slept(client, mocked, sleeps):
    mocked.add(
        responses.GET,
        DEPLOYED_URL,
        status=429,
        json={"error": "Throttled"},
        headers={"Retry-After": "120"},
    )
    with pytest.raises(RateLimited) as caught:
        client.list_deployed_triggers(external_user_id=USER)
    assert caught.value.retry_after == 120.0
    assert "Try again in 120 s" in str(caught.value)
    assert sleeps == []


def test_a_timeout_on_a_read_is_retried_then_unavailable(client, mocked, sleeps):
    url = f"{TRIGGER_URL}/webhooks"
    mocked.add(responses.GET, url, body=requests.ReadTimeout("slow"))
    with pytest.raises(Unavailable, match="after 4 attempts"):
        client.list_trigger_webhooks(TRIGGER, external_user_id=USER)
    assert len(calls_to(mocked, url)) == 4


def test_malformed_json_is_an_invalid_response_and_not_quoted(client, mocked):
    mocked.add(
        responses.GET,
        f"{TRIGGER_URL}/events",
        body='{"data": [{"e": {"email": "alice@example.com"',
        content_type="application/json",
    )
    with pytest.raises(InvalidResponse, match="expected JSON") as caught:
        client.list_trigger_events(TRIGGER, external_user_id=USER)
    assert "alice@example.com" not in str(caught.value)

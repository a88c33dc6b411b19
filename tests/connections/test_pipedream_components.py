"""Component definitions: list, retrieve (and its cache), remote options, props reload,
and the props a run or deploy is given: the account under the definition's own app prop
name, the dynamic props id where a prop reloads props.

Every test answers through `responses`; nothing reaches the network. The definitions are
shaped as Pipedream's published Component (GetComponentResponse: `{"data": Component}`).
"""

import pytest
import responses
from responses import matchers

from connections.pipedream import (
    BadRequest,
    InvalidResponse,
    NoAppProp,
    NotFound,
    PipedreamClient,
    missing_props,
)
from tests.connections.pipedream_support import (
    API,
    PROJECT,
    calls_to,
    make_client,
    mock_api,
    page_body,
    sent_json,
)

COMPONENTS_URL = f"{API}/v1/connect/{PROJECT}/components"
CONFIGURE_URL = f"{COMPONENTS_URL}/configure"
PROPS_URL = f"{COMPONENTS_URL}/props"
USER = "user-1"
ACCOUNT = "apn_abc123"


def component_body(key="google_sheets-get-current-user", props=None, **fields) -> dict:
    return {
        "key": key,
        "name": "Get Current User",
        "version": "0.0.1",
        "component_type": "action",
        "configurable_props": (
            props
            if props is not None
            else [{"name": "googleSheets", "type": "app", "app": "google_sheets"}]
        ),
        **fields,
    }


NEW_STAR = component_body(
    "github-new-star",
    [
        {"name": "github", "type": "app", "app": "github"},
        {
            "name": "repoFullname",
            "type": "string",
            "label": "Repository",
            "remoteOptions": True,
            "reloadProps": True,
        },
        {"name": "db", "type": "$.service.db"},
    ],
    component_type="trigger",
    version="1.0.7",
)


@pytest.fixture
def client() -> PipedreamClient:
    return make_client()


def test_a_component_is_retrieved_from_its_data(client):
    with mock_api() as rsps:
        rsps.add(
            responses.GET,
            f"{COMPONENTS_URL}/github-new-star",
            json={"data": NEW_STAR},
            match=[matchers.query_param_matcher({"version": "1.0.7"})],
        )
        found = client.get_component("github-new-star", version="1.0.7")
    assert found == NEW_STAR


def test_actions_and_triggers_have_their_own_routes(client):
    with mock_api() as rsps:
        rsps.add(responses.GET, f"{API}/v1/connect/{PROJECT}/triggers/x", json={"data": NEW_STAR})
        assert client.get_component("x", kind="triggers")["key"] == "github-new-star"


def test_an_unknown_component_raises_not_found_with_pipedreams_words(client):
    with mock_api() as rsps:
        rsps.add(
            responses.GET,
            f"{COMPONENTS_URL}/github-check-star",
            json={"error": "component not found"},
            status=404,
        )
        with pytest.raises(NotFound) as caught:
            client.get_component("github-check-star")
    assert caught.value.message == "component not found"
    assert "get component github-check-star" in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        {"key": "k"},  # not wrapped in data
        {"data": {"key": "k", "version": "1.0.0", "configurable_props": {"a": 1}}},
        {"data": {"version": "1.0.0", "configurable_props": []}},
    ],
)
def test_a_definition_in_another_shape_is_an_invalid_response(client, body):
    with mock_api() as rsps:
        rsps.add(responses.GET, f"{COMPONENTS_URL}/k", json=body)
        with pytest.raises(InvalidResponse):
            client.get_component("k")


def test_components_are_listed_across_pages_with_their_filters(client):
    with mock_api() as rsps:
        rsps.add(
            responses.GET,
            COMPONENTS_URL,
            json=page_body([NEW_STAR], end_cursor="c1"),
            match=[matchers.query_param_matcher({"app": "github", "q": "star"})],
        )
        rsps.add(
            responses.GET,
            COMPONENTS_URL,
            json=page_body([component_body()]),
            match=[matchers.query_param_matcher({"app": "github", "q": "star", "after": "c1"})],
        )
        found = client.list_components(app="github", q="star")
    assert [c["key"] for c in found] == ["github-new-star", "google_sheets-get-current-user"]


def test_a_definition_is_asked_for_once_then_read_from_the_cache(client):
    with mock_api() as rsps:
        rsps.add(responses.GET, f"{COMPONENTS_URL}/github-new-star", json={"data": NEW_STAR})
        first = client.definition("github-new-star")
        again = make_client().definition("github-new-star")  # another client, same project
        assert first == again == NEW_STAR
        assert len(calls_to(rsps, f"{COMPONENTS_URL}/github-new-star")) == 1


def test_a_failed_lookup_is_not_cached(client):
    with mock_api() as rsps:
        rsps.add(responses.GET, f"{COMPONENTS_URL}/k", json={"error": "nope"}, status=404)
        with pytest.raises(NotFound):
            client.definition("k")
        rsps.replace(responses.GET, f"{COMPONENTS_URL}/k", json={"data": component_body("k")})
        assert client.definition("k")["key"] == "k"


def test_remote_options_are_loaded_with_the_account(client):
    answer = {"options": None, "stringOptions": ["octo/cat"], "errors": [], "context": None}
    with mock_api() as rsps:
        rsps.add(responses.POST, CONFIGURE_URL, json=answer)
        found = client.configure_prop(
            component_id="github-new-star",
            external_user_id=USER,
            prop_name="repoFullname",
            configured_props={"github": {"authProvisionId": ACCOUNT}},
        )
        sent = sent_json(calls_to(rsps, CONFIGURE_URL)[0])
    assert found == answer
    assert sent == {
        "id": "github-new-star",
        "external_user_id": USER,
        "prop_name": "repoFullname",
        "configured_props": {"github": {"authProvisionId": ACCOUNT}},
        "blocking": True,
    }


def test_the_account_goes_under_the_definitions_app_prop_name(client):
    with mock_api() as rsps:
        rsps.add(
            responses.GET,
            f"{COMPONENTS_URL}/google_sheets-get-current-user",
            json={"data": component_body()},
        )
        props, dynamic = client.props_for_account(
            "google_sheets-get-current-user",
            app_slug="google_sheets",
            account_id=ACCOUNT,
            external_user_id=USER,
        )
        assert not calls_to(rsps, PROPS_URL)  # nothing reloads props here
    assert props == {"googleSheets": {"authProvisionId": ACCOUNT}}
    assert dynamic is None


def test_a_prop_that_reloads_props_gets_a_dynamic_props_id(client):
    reloaded = {
        "dynamicProps": {
            "id": "dyp_123",
            "configurableProps": [
                *NEW_STAR["configurable_props"],
                {"name": "timer", "type": "$.interface.timer", "default": {"intervalSeconds": 900}},
            ],
        },
        "errors": [],
        "observations": [],
    }
    with mock_api() as rsps:
        rsps.add(responses.GET, f"{COMPONENTS_URL}/github-new-star", json={"data": NEW_STAR})
        rsps.add(responses.POST, PROPS_URL, json=reloaded)
        props, dynamic = client.props_for_account(
            "github-new-star",
            app_slug="github",
            account_id=ACCOUNT,
            external_user_id=USER,
            props={"repoFullname": "octo/cat"},
        )
        sent = sent_json(calls_to(rsps, PROPS_URL)[0])
    assert dynamic == "dyp_123"
    assert props == {"repoFullname": "octo/cat", "github": {"authProvisionId": ACCOUNT}}
    assert sent["id"] == "github-new-star" and sent["external_user_id"] == USER
    assert sent["configured_props"] == props


def test_reload_errors_and_missing_dynamic_props_are_refused(client):
    with mock_api() as rsps:
        rsps.add(responses.GET, f"{COMPONENTS_URL}/github-new-star", json={"data": NEW_STAR})
        rsps.add(responses.POST, PROPS_URL, json={"errors": ["Not Found"], "dynamicProps": None})
        with pytest.raises(BadRequest, match="Not Found"):
            client.props_for_account(
                "github-new-star", app_slug="github", account_id=ACCOUNT, external_user_id=USER
            )
        needs = {"name": "branch", "type": "string", "label": "Branch"}
        rsps.replace(
            responses.POST,
            PROPS_URL,
            json={"errors": [], "dynamicProps": {"id": "dyp_1", "configurableProps": [needs]}},
        )
        with pytest.raises(BadRequest, match=r"github-new-star needs the prop branch \(Branch\)"):
            client.props_for_account(
                "github-new-star", app_slug="github", account_id=ACCOUNT, external_user_id=USER
            )


def test_a_component_without_a_prop_for_the_app_is_refused(client):
    with mock_api() as rsps:
        rsps.add(
            responses.GET,
            f"{COMPONENTS_URL}/slack-x",
            json={
                "data": component_body(
                    "slack-x", [{"name": "slack", "type": "app", "app": "slack"}]
                )
            },
        )
        with pytest.raises(NoAppProp, match="no prop of type app for github"):
            client.props_for_account(
                "slack-x", app_slug="github", account_id=ACCOUNT, external_user_id=USER
            )


def test_missing_props_leaves_out_what_pipedream_fills_in():
    props = [
        {"name": "github", "type": "app", "app": "github"},
        {"name": "repoFullname", "type": "string"},
        {"name": "channel", "type": "$.discord.channel"},  # a choice the claim makes
        {"name": "labels", "type": "string[]", "optional": True},
        {"name": "db", "type": "$.service.db"},
        {"name": "http", "type": "$.interface.http"},
        {"name": "hook", "type": "$.interface.apphook"},
        {"name": "timer", "type": "$.interface.timer", "default": {"intervalSeconds": 900}},
        {"name": "note", "type": "alert"},
        {"name": "limit", "type": "integer", "default": 10},
        {"name": "internal", "type": "string", "hidden": True},
    ]
    assert [p["name"] for p in missing_props(props, {})] == ["repoFullname", "channel"]
    assert missing_props(props, {"repoFullname": "o/r", "channel": "123"}) == []
    assert [p["name"] for p in missing_props(props, {"repoFullname": ""})] == [
        "repoFullname",
        "channel",
    ]

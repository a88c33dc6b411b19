"""Deployed triggers in the sandbox: deploy, list, get, pause, delete, events, webhooks, emit.

Every answer is contract-checked (tests/sandbox/contract_support.py) against the published
description with ONE correction: `ConfiguredPropValue` is a `oneOf` whose first
branch (`ConfiguredPropValueAny`) matches every value, so no configured prop can ever
be valid under it and every DeployedComponent would fail. `checked_api` validates
against a copy where that `oneOf` is an `anyOf`; the defect itself is pinned by a
strict xfail in tests/contract/test_pipedream_sandbox_triggers_contract.py.
"""

import json

import pytest

from sandbox.pipedream import proxy, services, triggers, webhooks
from sandbox.pipedream import upstream_objects as up
from sandbox.pipedream.catalogue import DEMO_GUILD_ID, DEMO_STARRED_REPO
from sandbox.pipedream.models import DeployedTrigger, TriggerEvent, WebhookDelivery
from tests.sandbox import contract_support as contract
from tests.sandbox.triggers_support import corrected_validate_response

pytestmark = pytest.mark.django_db

HOOK = "https://site.example/hooks/pd"


@pytest.fixture
def checked_api(api, monkeypatch):
    """`api`, contract-checked against the corrected description (see the docstring)."""
    monkeypatch.setattr(contract, "validate_response", corrected_validate_response)
    return api


def props_for(account, repo: str | None = None) -> dict:
    """The configured props of the account's trigger: github-new-star watches `repo` (by
    default the account's first repository), discord-guild-member needs the app only."""
    props = {account.app_slug: {"authProvisionId": account.account_id}}
    if account.app_slug == "github":
        props["repoFullname"] = repo or account.profile["repos"][0]
    return props


def deploy(api, account, *, key=None, user=None, repo=None, **fields):
    key = key or {"github": "github-new-star", "discord": "discord-guild-member"}[account.app_slug]
    body = {
        "id": key,
        "external_user_id": user or account.user.external_id,
        "configured_props": props_for(account, repo),
        **fields,
    }
    return api.post("/v1/connect/{pid}/triggers/deploy", json_body=body)


def path(trigger_id: str, tail: str = "") -> str:
    return f"/v1/connect/{{pid}}/deployed-triggers/{trigger_id}{tail}"


# --- Deploy --------------------------------------------------------------------------


def test_deploy_answers_a_deployed_component(checked_api, make_account):
    account = make_account("user-1", "github", "octo-pro")

    response = deploy(checked_api, account, webhook_url=HOOK, emit_on_deploy=False)

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["id"].startswith("dc_") and data["type"] == "DeployedComponent"
    assert data["component_key"] == "github-new-star"
    assert data["owner_id"] == account.user.public_id
    assert data["configured_props"] == props_for(account)
    assert data["configurable_props"][0] == {
        "name": "github",
        "type": "app",
        "app": "github",
        "label": "GitHub",
    }
    # The account owns the repository: webhook mode, the dynamic prop is `http`.
    assert [p["name"] for p in data["configurable_props"]] == [
        "github",
        "repoFullname",
        "db",
        "http",
    ]
    assert data["active"] is True and data["emit_on_deploy"] is False
    assert isinstance(data["created_at"], int) and data["created_at"] > 1_700_000_000_000
    trigger = DeployedTrigger.objects.get()
    assert data["webhook_signing_key"] == trigger.signing_key and len(trigger.signing_key) == 64
    assert trigger.webhook_urls == [HOOK]
    assert not TriggerEvent.objects.exists()


def test_the_signing_key_is_shown_only_with_a_webhook_url_and_oauth(
    checked_api, mint, make_account
):
    account = make_account("user-1", "github")
    browser = checked_api.with_token(mint("user-1")["token"])

    no_url = deploy(checked_api, account).json()["data"]
    by_ctok = deploy(browser, account, webhook_url=HOOK).json()["data"]

    assert "webhook_signing_key" not in no_url
    assert "webhook_signing_key" not in by_ctok


def test_emit_on_deploy_records_one_sample_event(checked_api, make_account):
    account = make_account("user-1", "github", "octo-pro")

    data = deploy(checked_api, account, webhook_url=HOOK).json()["data"]

    [event] = TriggerEvent.objects.all()
    assert event.payload["action"] == "created"
    assert event.payload["sender"]["login"] == "octo-pro"
    assert "repository" not in event.payload
    [delivery] = WebhookDelivery.objects.filter(source=data["id"])
    assert delivery.url == HOOK and delivery.event == triggers.EVENT
    events = checked_api.get(path(data["id"], "/events"), params={"external_user_id": "user-1"})
    assert events.json() == {"data": [triggers.event_json(event)]}


@pytest.mark.parametrize(
    ("fields", "status", "word"),
    [
        ({"id": "github-new-fork"}, 404, "github-new-fork"),
        ({"id": ""}, 400, "id is required"),
        ({"external_user_id": ""}, 400, "external_user_id"),
        ({"configured_props": {}}, 400, "authProvisionId"),
        ({"version": "0.0.1"}, 404, "0.0.1"),
        ({"dynamic_props_id": "dyp_stale"}, 400, "dynamic_props_id"),
        ({"dynamic_props_id": 7}, 400, "dynamic_props_id"),
        ({"webhook_url": "ftp://x"}, 400, "webhook_url"),
        ({"workflow_id": "wf_1"}, 400, "workflow_id"),
        ({"emit_on_deploy": "yes"}, 400, "emit_on_deploy"),
    ],
)
def test_deploy_refuses_bad_requests(checked_api, make_account, fields, status, word):
    account = make_account("user-1", "github")
    body = {
        "id": "github-new-star",
        "external_user_id": "user-1",
        "configured_props": props_for(account),
        **fields,
    }

    response = checked_api.post("/v1/connect/{pid}/triggers/deploy", json_body=body)

    assert response.status_code == status
    assert word in response.json()["error"]
    assert not DeployedTrigger.objects.exists()


def test_deploy_with_someone_elses_or_a_dead_account(checked_api, make_account):
    theirs = make_account("user-2", "github")
    mine = make_account("user-1", "github")
    services.account_set_health(mine, state="dead", error="revoked")

    foreign = checked_api.post(
        "/v1/connect/{pid}/triggers/deploy",
        json_body={
            "id": "github-new-star",
            "external_user_id": "user-1",
            "configured_props": props_for(theirs),
        },
        error_shape="account_mismatch",
    )
    dead = deploy(checked_api, mine)

    assert foreign.status_code == 400
    assert dead.status_code == 400
    assert dead.json()["error"] == f"Account {mine.account_id} is dead: revoked."


# --- Auth and scoping ----------------------------------------------------------------


def test_auth_is_required(anonymous_api, checked_api, make_account):
    trigger_id = deploy(checked_api, make_account("user-1", "github")).json()["data"]["id"]
    params = {"external_user_id": "user-1"}

    no_token = anonymous_api.get(path(trigger_id), params=params)
    bad_token = anonymous_api.with_token("not-a-token").get(path(trigger_id), params=params)
    other_project = checked_api.get(
        f"/v1/connect/proj_other/deployed-triggers/{trigger_id}", params=params
    )

    assert no_token.status_code == 401
    assert bad_token.status_code == 401
    assert other_project.status_code == 404


def test_a_foreign_users_or_environments_trigger_is_404(checked_api, mint, make_account):
    trigger_id = deploy(checked_api, make_account("user-1", "github")).json()["data"]["id"]
    make_account("user-2", "github")

    as_user_2 = checked_api.get(path(trigger_id), params={"external_user_id": "user-2"})
    in_production = checked_api.with_token(checked_api.token, "production").get(
        path(trigger_id), params={"external_user_id": "user-1"}
    )
    ctok_of_user_2 = checked_api.with_token(mint("user-2")["token"]).get(
        path(trigger_id), params={"external_user_id": "user-1"}
    )
    deleted_by_user_2 = checked_api.delete(path(trigger_id), params={"external_user_id": "user-2"})

    assert as_user_2.status_code == 404 and as_user_2.json() == {"error": "record not found"}
    assert in_production.status_code == 404
    assert ctok_of_user_2.status_code == 404
    assert deleted_by_user_2.status_code == 404
    assert DeployedTrigger.objects.count() == 1


def test_a_connect_token_manages_its_own_users_triggers(checked_api, mint, make_account):
    account = make_account("user-1", "github")
    browser = checked_api.with_token(mint("user-1")["token"])
    trigger_id = deploy(browser, account).json()["data"]["id"]

    got = browser.get(path(trigger_id), params={"external_user_id": "user-1"})
    listed = browser.get(
        "/v1/connect/{pid}/deployed-triggers", params={"external_user_id": "user-1"}
    )

    assert got.status_code == 200 and got.json()["data"]["id"] == trigger_id
    assert [t["id"] for t in listed.json()["data"]] == [trigger_id]


# --- List, get, update, delete -------------------------------------------------------


def test_list_pages_like_accounts(checked_api, make_account):
    account = make_account("user-1", "github")
    ids = [deploy(checked_api, account).json()["data"]["id"] for _ in range(3)]
    deploy(checked_api, make_account("user-2", "github"))
    url = "/v1/connect/{pid}/deployed-triggers"

    first = checked_api.get(url, params={"external_user_id": "user-1", "limit": 2}).json()
    second = checked_api.get(
        url,
        params={
            "external_user_id": "user-1",
            "limit": 2,
            "after": first["page_info"]["end_cursor"],
        },
    ).json()
    missing_user = checked_api.get(url)
    timers = checked_api.get(url, params={"external_user_id": "user-1", "emitter_type": "timer"})

    assert [t["id"] for t in first["data"]] == sorted(ids)[:2]
    assert first["page_info"]["total_count"] == 3 and first["page_info"]["start_cursor"] is None
    assert [t["id"] for t in second["data"]] == sorted(ids)[2:]
    assert second["page_info"]["end_cursor"] is None
    assert missing_user.status_code == 400
    assert timers.json()["data"] == []


def test_pause_resume_rename_and_delete(checked_api, make_account):
    account = make_account("user-1", "github")
    trigger_id = deploy(checked_api, account, webhook_url=HOOK, emit_on_deploy=False).json()[
        "data"
    ]["id"]
    params = {"external_user_id": "user-1"}

    paused = checked_api.request(
        "PUT", path(trigger_id), params=params, json_body={"active": False, "name": "Stars"}
    )
    silent = triggers.emit(trigger_id)
    resumed = checked_api.request(
        "PUT", path(trigger_id), params=params, json_body={"active": True}
    )
    bad = checked_api.request("PUT", path(trigger_id), params=params, json_body={"active": "no"})
    deleted = checked_api.delete(path(trigger_id), params=params)
    gone = checked_api.get(path(trigger_id), params=params)

    assert paused.json()["data"]["active"] is False and paused.json()["data"]["name"] == "Stars"
    assert silent is None and not WebhookDelivery.objects.exists()
    assert resumed.json()["data"]["active"] is True
    assert bad.status_code == 400
    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert not TriggerEvent.objects.exists()


def test_update_configured_props_checks_the_account(checked_api, make_account):
    account = make_account("user-1", "github")
    other = make_account("user-1", "github", "second")
    theirs = make_account("user-2", "github")
    trigger_id = deploy(checked_api, account).json()["data"]["id"]
    params = {"external_user_id": "user-1"}

    moved = checked_api.request(
        "PUT",
        path(trigger_id),
        params=params,
        json_body={"configured_props": props_for(other, repo="newbie/hello-world")},
    )
    no_repo = checked_api.request(
        "PUT",
        path(trigger_id),
        params=params,
        json_body={"configured_props": {"github": {"authProvisionId": other.account_id}}},
    )
    refused = checked_api.request(
        "PUT",
        path(trigger_id),
        params=params,
        json_body={"configured_props": props_for(theirs)},
        error_shape="account_mismatch",
    )

    assert moved.status_code == 200
    assert DeployedTrigger.objects.get().account == other
    assert no_repo.status_code == 400 and "repoFullname" in no_repo.json()["error"]
    assert refused.status_code == 400


def test_deleting_a_trigger_cancels_its_pending_deliveries(checked_api, make_account):
    account = make_account("user-1", "github")
    trigger_id = deploy(checked_api, account, webhook_url=HOOK).json()["data"]["id"]
    assert WebhookDelivery.objects.get().status == "pending"

    checked_api.delete(path(trigger_id), params={"external_user_id": "user-1"})

    assert webhooks.run_pending() == []
    assert WebhookDelivery.objects.get().status == "cancelled"


def test_a_delivery_cancelled_between_attempts_is_not_tried_again(
    checked_api, make_account, monkeypatch
):
    account = make_account("user-1", "github")
    trigger_id = deploy(checked_api, account, webhook_url=HOOK).json()["data"]["id"]
    attempts = []

    def refused_then_deleted(url, payload, body="", headers=None):
        attempts.append(url)
        webhooks.cancel(trigger_id)  # the trigger is deleted while the receiver fails
        return 500, "HTTP 500: try later"

    monkeypatch.setattr(webhooks, "_post", refused_then_deleted)
    webhooks.run_pending()

    assert attempts == [HOOK]
    assert WebhookDelivery.objects.get().status == "cancelled"


def test_connect_token_routes_without_a_project_id(client, api, mint, make_account):
    """The SDKs collapse /v1/connect//... when a Connect token is used (docs §0)."""
    account = make_account("user-1", "github", "octo-pro")
    ctok = {"Authorization": f"Bearer {mint('user-1')['token']}"}
    oauth = {"Authorization": f"Bearer {api.token}", "x-pd-environment": "development"}
    base = "/sandbox/pipedream/v1/connect"

    deployed = client.post(
        f"{base}/triggers/deploy",
        data=json.dumps(
            {
                "id": "github-new-star",
                "external_user_id": "user-1",
                "configured_props": props_for(account),
            }
        ),
        content_type="application/json",
        headers=ctok,
    )
    trigger_id = deployed.json()["data"]["id"]
    got = client.get(f"{base}/deployed-triggers/{trigger_id}?external_user_id=user-1", headers=ctok)
    events = client.get(
        f"{base}/deployed-triggers/{trigger_id}/events?external_user_id=user-1", headers=ctok
    )
    proxied = client.get(
        f"{base}/proxy/{proxy.encode_url('https://api.github.com/user')}"
        f"?external_user_id=user-1&account_id={account.account_id}",
        headers=ctok,
    )
    by_oauth = client.get(f"{base}/deployed-triggers?external_user_id=user-1", headers=oauth)

    assert deployed.status_code == 200 and got.json()["data"]["id"] == trigger_id
    assert len(events.json()["data"]) == 1
    assert proxied.json()["login"] == "octo-pro"
    assert by_oauth.status_code == 400 and "project ID is required" in by_oauth.json()["error"]


# --- Events and emit -----------------------------------------------------------------


def test_events_newest_first_with_n(checked_api, make_account):
    account = make_account("user-1", "github")
    trigger_id = deploy(checked_api, account, emit_on_deploy=False).json()["data"]["id"]
    stars = [{"action": "created", "sender": {"login": f"fan-{i}"}} for i in range(3)]
    emitted = [triggers.emit(trigger_id, star) for star in stars]
    params = {"external_user_id": "user-1"}

    default = checked_api.get(path(trigger_id, "/events"), params=params).json()["data"]
    one = checked_api.get(path(trigger_id, "/events"), params={**params, "n": 1}).json()["data"]
    bad = checked_api.get(path(trigger_id, "/events"), params={**params, "n": "x"})

    assert [e["id"] for e in default] == [e.event_id for e in reversed(emitted)]
    assert default[0] == {
        "e": stars[2],
        "k": "emit",
        "ts": emitted[2].ts,
        "id": emitted[2].event_id,
    }
    assert [e["id"] for e in one] == [emitted[2].event_id]
    assert bad.status_code == 400


def test_a_star_on_a_shared_repository_changes_what_the_stargazer_sees(checked_api, make_account):
    """The site's account watches the repository; the star is by a member, whose GitHub
    account (another external user) now stars the repository."""
    site = make_account("site", "github", "bitbadges")
    member = make_account("user-1", "github", "newbie")
    bystander = make_account("user-2", "github", "someone-else")
    repo = "bitbadges/hello-world"
    trigger_id = deploy(checked_api, site, repo=repo, emit_on_deploy=False).json()["data"]["id"]

    def starred(account):
        account.refresh_from_db()
        return repo in account.profile["starred"]

    before = starred(member)
    event = triggers.emit(trigger_id, up.github_star_webhook("newbie"))

    assert (before, starred(member), starred(bystander)) == (False, True, False)
    assert event.payload["sender"]["login"] == "newbie"


def test_a_repository_the_account_does_not_administer_is_watched_by_polling(
    checked_api, make_account
):
    account = make_account("user-1", "github", "octo-pro")

    data = deploy(checked_api, account, repo=DEMO_STARRED_REPO).json()["data"]

    assert [p["name"] for p in data["configurable_props"]][-1] == "timer"
    [event] = TriggerEvent.objects.all()
    assert event.payload["login"] == "octo-pro" and event.payload["type"] == "User"


def test_emit_without_apply_leaves_the_profile(make_account, checked_api):
    account = make_account("user-1", "discord", "lurker")
    trigger_id = deploy(checked_api, account, emit_on_deploy=False).json()["data"]["id"]

    triggers.emit(trigger_id, apply=False)
    account.refresh_from_db()
    assert account.profile["guilds"] == {}

    event = triggers.emit(trigger_id)
    account.refresh_from_db()
    assert event.payload["guildId"] == DEMO_GUILD_ID
    assert event.payload["displayName"] == "lurker"
    assert event.payload["userId"] == account.profile["id"]
    assert account.profile["guilds"] == {DEMO_GUILD_ID: {"roles": ["member"]}}


@pytest.mark.parametrize(
    "event",
    [
        {"action": "deleted", "sender": {"login": "x"}},  # the source emits "created" only
        {"repo": "not-a-repo"},
        {"sender": "x"},
    ],
)
def test_emit_refuses_an_event_the_source_would_not_emit(checked_api, make_account, event):
    account = make_account("user-1", "github")
    trigger_id = deploy(checked_api, account, emit_on_deploy=False).json()["data"]["id"]

    with pytest.raises(triggers.TriggerError):
        triggers.emit(trigger_id, event)
    with pytest.raises(triggers.TriggerError):
        triggers.emit("dc_nothing")
    assert not TriggerEvent.objects.exists()


# --- Webhooks ------------------------------------------------------------------------


def test_webhooks_list_replace_and_regenerate(checked_api, mint, make_account):
    account = make_account("user-1", "github")
    trigger_id = deploy(checked_api, account, webhook_url=HOOK).json()["data"]["id"]
    params = {"external_user_id": "user-1"}
    key = DeployedTrigger.objects.get().signing_key

    listed = checked_api.get(path(trigger_id, "/webhooks"), params=params).json()
    replaced = checked_api.request(
        "PUT",
        path(trigger_id, "/webhooks"),
        params=params,
        json_body={"webhook_urls": [HOOK, "https://other.example/x"]},
    ).json()
    [first, second] = replaced["webhooks"]
    one = checked_api.get(path(trigger_id, f"/webhooks/{first['id']}"), params=params).json()
    regenerated = checked_api.post(
        path(trigger_id, f"/webhooks/{first['id']}/regenerate_signing_key"), params=params
    ).json()
    browser = checked_api.with_token(mint("user-1")["token"])
    by_ctok = browser.get(path(trigger_id, "/webhooks"), params=params).json()
    ctok_key = browser.get(path(trigger_id, f"/webhooks/{first['id']}"), params=params)
    bad = checked_api.request(
        "PUT", path(trigger_id, "/webhooks"), params=params, json_body={"webhook_urls": ["x"]}
    )

    assert listed["webhook_urls"] == [HOOK]
    assert listed["webhooks"][0]["signing_key"] == key
    assert replaced["webhook_urls"] == [HOOK, "https://other.example/x"]
    assert first["id"] == listed["webhooks"][0]["id"] and second["id"] != first["id"]
    assert one["data"]["signing_key"] == key and one["data"]["signing_key_set"] is True
    assert regenerated["data"]["signing_key"] not in (key, "")
    assert DeployedTrigger.objects.get().signing_key == regenerated["data"]["signing_key"]
    assert "signing_key" not in by_ctok["webhooks"][0]
    assert ctok_key.status_code == 401
    assert bad.status_code == 400


# --- Faults and the control page -----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "tail", "name"),
    [
        ("GET", "", "pipedream.triggers.get"),
        ("PUT", "", "pipedream.triggers.update"),
        ("DELETE", "", "pipedream.triggers.delete"),
        ("GET", "/events", "pipedream.triggers.events"),
        ("GET", "/webhooks", "pipedream.triggers.webhooks"),
    ],
)
def test_faults_on_the_trigger_endpoints(checked_api, make_account, settings, method, tail, name):
    trigger_id = deploy(checked_api, make_account("user-1", "github")).json()["data"]["id"]
    settings.SANDBOX_FAULTS = {name: {"status": 503}}

    response = checked_api.request(
        method,
        path(trigger_id, tail),
        params={"external_user_id": "user-1"},
        json_body={} if method == "PUT" else None,
    )

    assert response.status_code == 503
    assert DeployedTrigger.objects.count() == 1


def test_faults_on_deploy_and_list(checked_api, make_account, settings):
    account = make_account("user-1", "github")
    settings.SANDBOX_FAULTS = {
        "pipedream.triggers.deploy": {"status": 429, "retry_after": 3},
        "pipedream.triggers.list": {"status": 500},
    }

    deployed = deploy(checked_api, account)
    listed = checked_api.get(
        "/v1/connect/{pid}/deployed-triggers", params={"external_user_id": "user-1"}
    )

    assert deployed.status_code == 429 and deployed["Retry-After"] == "3"
    assert listed.status_code == 500
    assert not DeployedTrigger.objects.exists()


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_user(
        username="ops", password="connect-demo", is_staff=True, is_superuser=True
    )
    client.force_login(user)
    return client


def test_the_control_page_lists_triggers_and_emits(staff, make_account):
    account = make_account("user-1", "github", "newbie")
    trigger, _ = triggers.deploy(
        component=triggers.TRIGGERS["github-new-star"],
        account=account,
        configured_props=props_for(account),
        webhook_url=HOOK,
        emit_on_deploy=False,
    )

    page = staff.get("/sandbox/")
    emitted = staff.post(
        f"/sandbox/triggers/{trigger.pk}/emit",
        {"event": json.dumps(up.github_star_webhook("newbie")), "apply": "on"},
    )
    broken = staff.post(f"/sandbox/triggers/{trigger.pk}/emit", {"event": "{nope"})
    staff.post(f"/sandbox/triggers/{trigger.pk}/toggle")
    paused = staff.post(f"/sandbox/triggers/{trigger.pk}/emit", {})
    followed = staff.get("/sandbox/")

    assert page.status_code == 200
    assert "Deployed triggers" in page.content.decode()
    assert trigger.trigger_id in page.content.decode()
    assert emitted.status_code == 302 and broken.status_code == 302 and paused.status_code == 302
    [event] = TriggerEvent.objects.all()
    assert event.payload["sender"]["login"] == "newbie"
    account.refresh_from_db()
    assert "newbie/hello-world" in account.profile["starred"]
    assert WebhookDelivery.objects.filter(source=trigger.trigger_id).count() == 1
    text = followed.content.decode()
    assert "not valid JSON" in text and "paused" in text

    staff.post(f"/sandbox/triggers/{trigger.pk}/delete")
    assert not DeployedTrigger.objects.exists()


@pytest.mark.parametrize("model", ["deployedtrigger", "triggerevent"])
def test_admin_pages_open(staff, make_account, model):
    account = make_account("user-1", "github")
    triggers.deploy(
        component=triggers.TRIGGERS["github-new-star"],
        account=account,
        configured_props=props_for(account),
    )
    assert staff.get(f"/admin/sandbox/{model}/").status_code == 200
    trigger = DeployedTrigger.objects.get()
    assert staff.get(f"/admin/sandbox/deployedtrigger/{trigger.pk}/change/").status_code == 200

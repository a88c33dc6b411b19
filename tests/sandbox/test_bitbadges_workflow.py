"""The demo workflow that completes a BitBadges claim (BitBadges' end-to-end example)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from sandbox.bitbadges import attempts as bb_attempts
from sandbox.bitbadges import demo as bb_demo
from sandbox.bitbadges.models import BitBadgesClaim
from sandbox.pipedream import services
from sandbox.pipedream.catalogue import WORKFLOWS
from sandbox.pipedream.views.workflows import DEFAULT_RESPONSE_HTML
from tests.sandbox.bitbadges_support import ADDRESS_ERROR, BB, ETH

pytestmark = pytest.mark.django_db

URL = "/workflows/en-sandbox-claim-github/"


def _invoke(api, body, *, user="user-1", url=URL):
    headers = {"X-PD-External-User-ID": user, "X-PD-Environment": "development"}
    return api.with_token(api.token, None).post(url, json_body=body, headers=headers)


def _claim_id():
    return bb_demo.demo_claims_ensure()["workflow-github"]["claim_id"]


def _halt_the_demo_claim():
    bb_demo.demo_claims_ensure()
    BitBadgesClaim.objects.filter(claim_id=_claim_id()).update(halted=True)


def _completed(address) -> int:
    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):
        return bb_attempts.completions(_claim_id(), address)


def test_the_workflow_is_in_the_catalogue_and_the_demo_parameters():
    assert WORKFLOWS["en-sandbox-claim-github"]["app"] == "github"
    demo = bb_demo.demo_claims_ensure()["workflow-github"]
    assert demo["workflow_url_path"] == "/sandbox/pipedream" + URL


def test_a_qualifying_user_gets_the_claim_completed(api, make_account):
    make_account("user-1", "github", "octo")  # a new account: 1 to 3 public repos

    response = _invoke(api, {"address": ETH})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    assert len(body["claimAttemptId"]) == 64
    assert body["bitbadgesAddress"] == BB
    claim_id = bb_demo.demo_claims_ensure()["workflow-github"]["claim_id"]
    assert body["claimId"] == claim_id
    assert bb_attempts.complete_calls(claim_id, BB) == 1
    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):
        assert bb_attempts.completions(claim_id, ETH) == 1


def test_a_user_who_fails_the_criterion_is_refused(api, make_account):
    account = make_account("user-1", "github", "octo")
    account.profile = {**account.profile, "public_repos": 0}
    account.save()

    response = _invoke(api, {"address": BB})

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": "The GitHub account needs at least 1 public repo(s); it has 0.",
    }
    claim_id = bb_demo.demo_claims_ensure()["workflow-github"]["claim_id"]
    assert bb_attempts.complete_calls(claim_id) == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "address"),
        (None, "address"),
        ({"address": 42}, "address"),
        ({"address": "0x1234"}, ADDRESS_ERROR),
    ],
)
def test_the_address_is_required_and_checked(api, make_account, body, message):
    make_account("user-1", "github", "octo")
    response = _invoke(api, body)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_without_a_healthy_github_account(api, make_account):
    missing = _invoke(api, {"address": BB})
    account = make_account("user-1", "github", "octo")
    services.account_set_health(account, state="unhealthy", error="token revoked")
    unhealthy = _invoke(api, {"address": BB})

    assert missing.status_code == unhealthy.status_code == 400
    assert "Required account for github not found" in missing.json()["error"]
    assert "unhealthy" in unhealthy.json()["error"]


def test_a_bitbadges_refusal_is_passed_on(api, make_account):
    make_account("user-1", "github", "octo")
    bb_demo.demo_claims_ensure()
    BitBadgesClaim.objects.filter(claim_id=bb_demo.DEMO["workflow-github"]["claim_id"]).update(
        halted=True
    )

    response = _invoke(api, {"address": BB})

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": "One or more of the challenges were not satisfied (Halt Status) : Claim halted",
    }


def test_the_other_workflows_still_work(api, make_account):
    make_account("user-1", "github", "octo-pro")
    response = api.with_token(api.token, None).post(
        "/workflows/en-sandbox-github/",
        json_body={"address": BB},
        headers={"X-PD-External-User-ID": "user-1", "X-PD-Environment": "development"},
    )
    assert response.status_code == 200
    assert "claimAttemptId" not in response.json()


# --- Pipedream's default response (the trigger not set to a custom response) ---------

DEFAULT_URL = "/workflows/en-sandbox-claim-github-default/"
DEFAULT_JSON_URL = "/workflows/en-sandbox-claim-github-default-json/"
ACTION_URL = "/workflows/en-sandbox-claim-github-action/"
HTML = (
    "<p><b>Success!</b></p>\n<p>To customize this response, check out our docs "
    '<a href="https://docs.pipedream.com/workflows/steps/triggers/#customizing-the-http-response">'
    "here</a></p>\n"
)


def test_the_new_workflows_are_in_the_catalogue():
    for endpoint_id, response in [
        ("en-sandbox-claim-github", "custom"),
        ("en-sandbox-claim-github-default", "default-html"),
        ("en-sandbox-claim-github-default-json", "default-json"),
        ("en-sandbox-claim-github-action", "action"),
    ]:
        assert WORKFLOWS[endpoint_id]["response"] == response
        assert WORKFLOWS[endpoint_id]["claim"] == "workflow-github"


def test_the_default_html_body_is_the_captured_one():
    assert DEFAULT_RESPONSE_HTML == HTML
    assert len(HTML.encode()) == 179  # the capture's Content-Length


def test_the_default_response_when_the_claim_is_completed(api, make_account):
    make_account("user-1", "github", "octo")

    response = _invoke(api, {"address": ETH}, url=DEFAULT_URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=UTF-8"
    assert response.content.decode() == HTML
    assert response["x-pd-status"] == "sent to coordinator"
    assert bb_attempts.complete_calls(_claim_id(), BB) == 1
    assert _completed(BB) == 1


@pytest.mark.parametrize("why", ["criterion", "refusal", "no-account", "bad-address"])
def test_the_default_response_whatever_the_steps_did(api, make_account, why):
    account = make_account("user-1", "github", "octo")
    body = {"address": BB}
    if why == "criterion":
        account.profile = {**account.profile, "public_repos": 0}
        account.save()
    elif why == "refusal":
        _halt_the_demo_claim()
    elif why == "no-account":
        account.delete()
    else:
        body = {"address": "0x1234"}

    response = _invoke(api, body, url=DEFAULT_URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=UTF-8"
    assert response.content.decode() == HTML
    assert bb_attempts.completions(_claim_id()) == 0


def test_the_default_response_still_needs_the_oauth_token(api, make_account):
    make_account("user-1", "github", "octo")
    response = api.with_token(None, None).post(
        DEFAULT_URL, json_body={"address": BB}, headers={"X-PD-External-User-ID": "user-1"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize("halted", [False, True])
def test_the_json_default_response(api, make_account, halted):
    make_account("user-1", "github", "octo")
    if halted:
        _halt_the_demo_claim()

    response = _invoke(api, {"address": BB}, url=DEFAULT_JSON_URL)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {
        "success": True,
        "info": "To customize this response, check out our docs at "
        "https://pipedream.com/docs/workflows/steps/triggers/#customizing-the-http-response",
    }
    assert len(response.content) == 168  # the 2022 capture: pretty-printed, newline
    assert _completed(BB) == (0 if halted else 1)


# --- BitBadges' official Pipedream action as the BitBadges step ------------------------


def test_the_action_workflow_on_success(api, make_account):
    make_account("user-1", "github", "octo")

    before = timezone.now()
    response = _invoke(api, {"address": ETH}, url=ACTION_URL)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"success", "claimAttemptId", "currentTimestamp"}
    assert body["success"] is True and len(body["claimAttemptId"]) == 64
    assert body["currentTimestamp"] >= int(before.timestamp() * 1000)
    assert _completed(BB) == 1


@pytest.mark.parametrize("why", ["refusal", "bad-address"])
def test_the_action_workflow_hides_the_refusal(api, make_account, why):
    make_account("user-1", "github", "octo")
    body = {"address": BB}
    if why == "refusal":
        _halt_the_demo_claim()
    else:
        body = {"address": "0x1234"}

    response = _invoke(api, body, url=ACTION_URL)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == "No $.respond called in workflow"
    assert bb_attempts.completions(_claim_id()) == 0


def test_the_action_workflows_criterion_still_answers_itself(api, make_account):
    account = make_account("user-1", "github", "octo")
    account.profile = {**account.profile, "public_repos": 0}
    account.save()

    response = _invoke(api, {"address": BB}, url=ACTION_URL)

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": "The GitHub account needs at least 1 public repo(s); it has 0.",
    }
    assert bb_attempts.complete_calls(_claim_id()) == 0

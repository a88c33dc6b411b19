"""The demo workflow that completes a BitBadges claim (BitBadges' end-to-end example)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from sandbox import bitbadges, services
from sandbox.catalogue import WORKFLOWS
from sandbox.models import BitBadgesClaim
from tests.sandbox.test_bitbadges_support import ADDRESS_ERROR, BB, ETH

pytestmark = pytest.mark.django_db

URL = "/workflows/en-sandbox-claim-github/"


def _invoke(api, body, *, user="user-1"):
    headers = {"X-PD-External-User-ID": user, "X-PD-Environment": "development"}
    return api.with_token(api.token, None).post(URL, json_body=body, headers=headers)


def test_the_workflow_is_in_the_catalogue_and_the_demo_parameters():
    assert WORKFLOWS["en-sandbox-claim-github"]["app"] == "github"
    demo = bitbadges.demo_claims_ensure()["workflow-github"]
    assert demo["workflow_url_path"] == "/sandbox/pipedream" + URL


def test_a_qualifying_user_gets_the_claim_completed(api, make_account):
    make_account("user-1", "github", "octo")  # a new account: 1 to 3 public repos

    response = _invoke(api, {"address": ETH})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    assert len(body["claimAttemptId"]) == 64
    assert body["bitbadgesAddress"] == BB
    claim_id = bitbadges.demo_claims_ensure()["workflow-github"]["claim_id"]
    assert body["claimId"] == claim_id
    assert bitbadges.complete_calls(claim_id, BB) == 1
    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):
        assert bitbadges.completions(claim_id, ETH) == 1


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
    claim_id = bitbadges.demo_claims_ensure()["workflow-github"]["claim_id"]
    assert bitbadges.complete_calls(claim_id) == 0


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
    bitbadges.demo_claims_ensure()
    BitBadgesClaim.objects.filter(claim_id=bitbadges.DEMO["workflow-github"]["claim_id"]).update(
        halted=True
    )

    response = _invoke(api, {"address": BB})

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": "One or more of the challenges were not satisfied (Halt) : Claim halted",
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

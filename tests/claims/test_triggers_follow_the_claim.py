"""A claim's triggers follow its rules: enabling a claim whose trigger runs on each
member's account deploys it for members who connected before; changing its props
deploys it again; disabling it removes every deployment upstream. Over real HTTP to
the sandbox, through the admin and the real task worker."""

import pytest
from django.urls import reverse

from claims.models import Claim, TriggerDeployment
from sandbox.pipedream.catalogue import DEMO_STARRED_REPO
from sandbox.pipedream.models import DeployedTrigger
from tests.claims.admin_support import claim_form_data
from tests.claims.claims_support import run_worker
from tests.claims.triggers_support import star_claim

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def disabled_claim(apps, upstreams):
    return star_claim(apps["github"], slug="stars", name="Stars", enabled=False)


def save(admin_client, claim, **changes):
    data = claim_form_data(claim, **changes)
    data["trigger_props"] = changes.get(
        "trigger_props", f'{{"repoFullname": "{DEMO_STARRED_REPO}"}}'
    )
    data["trigger"] = claim.trigger
    response = admin_client.post(reverse("admin:claims_claim_change", args=[claim.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors


def test_enabling_deploys_for_members_who_connected_before(
    admin_client, disabled_claim, alice, connect
):
    connect(alice, "github", "octo")
    run_worker()
    assert not TriggerDeployment.objects.exists()  # the claim was disabled

    save(admin_client, disabled_claim, enabled=True)
    run_worker()  # the claim's triggers follow it, then the member's deploy
    run_worker()
    deployment = TriggerDeployment.objects.get(claim=disabled_claim, member=alice)
    assert deployment.status == "active", deployment.error
    first = deployment.pipedream_id

    # Its props change: deployed again, with the new props.
    disabled_claim.refresh_from_db()
    save(admin_client, disabled_claim, trigger_props='{"repoFullname": "octo/hello-world"}')
    run_worker()
    run_worker()
    again = TriggerDeployment.objects.get(claim=disabled_claim, member=alice)
    assert again.pipedream_id != first
    upstream = DeployedTrigger.objects.get()
    assert upstream.configured_props["repoFullname"] == "octo/hello-world"

    # Disabled: nothing stays deployed.
    disabled_claim.refresh_from_db()
    save(admin_client, disabled_claim, enabled=False)
    run_worker()
    assert not TriggerDeployment.objects.exists()
    assert not DeployedTrigger.objects.exists()


def test_new_props_during_a_deploy_leave_the_member_watched_with_them(
    disabled_claim, alice, connect, monkeypatch
):
    from claims import triggers
    from connections import pipedream

    Claim.objects.filter(pk=disabled_claim.pk).update(enabled=True)
    real_deploy = pipedream.PipedreamClient.deploy_trigger
    calls = []

    def deploy_while_the_props_change(self, **kwargs):
        answer = real_deploy(self, **kwargs)
        calls.append(kwargs["configured_props"]["repoFullname"])
        if len(calls) == 1:  # the admin saves new props while this deploy is in flight
            Claim.objects.filter(pk=disabled_claim.pk).update(
                trigger_props={"repoFullname": "octo/hello-world"}
            )
            triggers.member_deployments_sync(disabled_claim, redeploy=True)
        return answer

    monkeypatch.setattr(pipedream.PipedreamClient, "deploy_trigger", deploy_while_the_props_change)
    connect(alice, "github", "octo")
    run_worker()
    assert calls == [DEMO_STARRED_REPO, "octo/hello-world"]
    deployment = TriggerDeployment.objects.get(member=alice)
    assert deployment.status == "active"
    [upstream] = DeployedTrigger.objects.all()  # the first one was removed
    assert upstream.trigger_id == deployment.pipedream_id
    assert upstream.configured_props["repoFullname"] == "octo/hello-world"


def test_a_refused_removal_for_new_props_deploys_again_once_it_goes(disabled_claim, alice, connect):
    from claims import triggers
    from sandbox.common.models import Fault

    Claim.objects.filter(pk=disabled_claim.pk).update(enabled=True)
    connect(alice, "github", "octo")
    run_worker()
    assert TriggerDeployment.objects.get(member=alice).status == "active"
    Claim.objects.filter(pk=disabled_claim.pk).update(
        trigger_props={"repoFullname": "octo/hello-world"}
    )
    fault = Fault.objects.create(endpoint="pipedream.triggers.delete", status=503)
    assert triggers.member_deployments_sync(disabled_claim, redeploy=True) == []
    assert TriggerDeployment.objects.get(member=alice).status == "removing"
    fault.delete()
    triggers.tidy()  # what recheck_claims runs
    deployment = TriggerDeployment.objects.get(member=alice)
    assert deployment.status == "active"
    upstream = DeployedTrigger.objects.get()
    assert upstream.configured_props["repoFullname"] == "octo/hello-world"


def test_a_deploy_queued_before_the_claim_was_disabled_deploys_nothing(
    disabled_claim, alice, connect
):
    from claims import triggers

    account = connect(alice, "github", "octo")
    run_worker()
    assert triggers.deployment_ensure(claim=disabled_claim, member=alice, account=account) is None
    assert not DeployedTrigger.objects.exists()
    # And one that went live anyway is removed by recheck_claims.
    Claim.objects.filter(pk=disabled_claim.pk).update(enabled=True)
    disabled_claim.refresh_from_db()
    assert triggers.deployment_ensure(claim=disabled_claim, member=alice, account=account)
    Claim.objects.filter(pk=disabled_claim.pk).update(enabled=False)
    triggers.tidy()
    assert not TriggerDeployment.objects.exists() and not DeployedTrigger.objects.exists()

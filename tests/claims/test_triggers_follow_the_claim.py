"""A claim's triggers follow its rules: enabling a claim whose trigger runs on each
member's account deploys it for members who connected before; changing its props
deploys it again; disabling it removes every deployment upstream. Over real HTTP to
the sandbox, through the admin and the real task worker."""

import pytest
from django.urls import reverse

from claims.models import Claim, TriggerDeployment
from sandbox.bitbadges import claims as bb_sandbox_claims
from sandbox.pipedream.catalogue import DEMO_STARRED_REPO
from sandbox.pipedream.models import DeployedTrigger
from tests.claims.admin_support import claim_form_data
from tests.claims.claims_support import run_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def disabled_claim(apps, upstreams):
    upstream = bb_sandbox_claims.claim_create(max_uses=100, password="pw")
    claim = Claim(
        slug="stars",
        name="Stars",
        delivery="bitbadges",
        bitbadges_claim_id=upstream.claim_id,
        password_instance_id="pwd",
        enabled=False,
        criterion_app=apps["github"],
        criterion_proxy_url=f"https://api.github.com/user/starred/{DEMO_STARRED_REPO}",
        criterion_path="$status",
        criterion_comparison="eq",
        criterion_value="204",
        trigger="github-new-star",
        trigger_props={"repoFullname": DEMO_STARRED_REPO},
    )
    claim.set_password("pw")
    claim.save()
    claim.required_apps.set([apps["github"]])
    return claim


def save(admin_client, claim, **changes):
    data = claim_form_data(claim, **changes)
    data["trigger_props"] = changes.get(
        "trigger_props", f'{{"repoFullname": "{DEMO_STARRED_REPO}"}}'
    )
    data["criterion_proxy_url"] = claim.criterion_proxy_url
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

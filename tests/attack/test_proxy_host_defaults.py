"""The default proxy hosts are ones where a GET only reads: a claim cannot make members'
accounts write through a proxy criterion, whoever edits it."""

import pytest
from django.urls import reverse

from claims.models import Claim
from sandbox.bitbadges import claims as bb_sandbox
from tests.claims.admin_support import claim_form_data

pytestmark = pytest.mark.django_db


def save(client, app, proxy_url):
    upstream = bb_sandbox.claim_create(password="right")
    data = claim_form_data(
        Claim(slug="new", name="New", delivery="bitbadges"),
        enabled=False,
        password_instance_id="pwd",
        password="right",
        bitbadges_claim_id=upstream.claim_id,
        required_apps=[str(app.pk)],
        criterion_app=str(app.pk),
        criterion_proxy_url=proxy_url,
        criterion_path="ok",
        criterion_comparison="truthy",
        trigger_props="{}",
    )
    return client.post(reverse("admin:claims_claim_add"), data)


def test_slacks_web_api_is_not_a_default_host_since_its_gets_write(admin_client, apps):
    """chat.postMessage takes its arguments in a GET query string."""
    response = save(
        admin_client,
        apps["slack"],
        "https://slack.com/api/chat.postMessage?channel=C0123&text=hello",
    )

    assert response.status_code == 200
    said = " ".join(response.context["adminform"].form.errors["criterion_proxy_url"])
    assert "slack.com is not among" in said
    assert "CLAIMS_PROXY_HOSTS" in said
    assert not Claim.objects.exists()


def test_an_operator_who_lists_slack_takes_that_on(admin_client, apps, settings):
    """The list is the operator's: naming slack.com is a decision made in the open."""
    settings.CLAIMS_PROXY_HOSTS = (*settings.CLAIMS_PROXY_HOSTS, "slack.com")
    response = save(admin_client, apps["slack"], "https://slack.com/api/auth.test")

    assert response.status_code == 302
    assert Claim.objects.get().criterion_proxy_url == "https://slack.com/api/auth.test"

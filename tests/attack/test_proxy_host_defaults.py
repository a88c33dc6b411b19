"""The default proxy hosts are ones where a GET only reads: a claim cannot make members'
accounts write through a proxy requirement, whoever edits it."""

import pytest

from claims.models import Claim, Requirement
from tests.claims.admin_support import form_errors, post_new_claim

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _bitbadges_unreachable_at_once(settings):
    """No sandbox is served here: saving the claim reads it from BitBadges, which fails
    either way; without retries it fails at once, not after 5 s of backoff."""
    settings.BITBADGES_MAX_RETRIES = 0


def save(client, app, proxy_url):
    return post_new_claim(
        client,
        app,
        requirement={"proxy_url": proxy_url, "path": "ok", "comparison": "truthy"},
        enabled=False,
    )


def test_slacks_web_api_is_not_a_default_host_since_its_gets_write(admin_client, apps):
    """chat.postMessage takes its arguments in a GET query string."""
    response = save(
        admin_client,
        apps["slack"],
        "https://slack.com/api/chat.postMessage?channel=C0123&text=hello",
    )

    said = form_errors(response)["proxy_url"]
    assert "slack.com is not among" in said
    assert "CLAIMS_PROXY_HOSTS" in said
    assert not Claim.objects.exists()
    assert not Requirement.objects.exists()


def test_an_operator_who_lists_slack_takes_that_on(admin_client, apps, settings):
    """The list is the operator's: naming slack.com is a decision made in the open."""
    settings.CLAIMS_PROXY_HOSTS = (*settings.CLAIMS_PROXY_HOSTS, "slack.com")
    response = save(admin_client, apps["slack"], "https://slack.com/api/auth.test")

    assert response.status_code == 302, form_errors(response)
    [saved] = Claim.objects.get().requirements.all()
    assert (saved.kind, saved.proxy_url) == ("proxy", "https://slack.com/api/auth.test")

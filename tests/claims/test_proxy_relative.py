"""A criterion read through Pipedream's proxy with a path, for an app whose base URL
depends on the account (the sandbox's GitLab: `https://{{custom_fields.base_api_url}}`),
over real HTTP against the sandbox; and the app's `connect` object checked again when a
claim is checked, whatever was saved."""

import pytest

from claims.engine.errors import SETTINGS_NEED_ATTENTION
from claims.models import Claim, Completion
from connections import services as connections_services
from sandbox.bitbadges import attempts as bb_sandbox_attempts
from sandbox.bitbadges import claims as bb_sandbox_claims
from sandbox.pipedream import catalogue
from sandbox.pipedream import services as pd_sandbox
from tests.claims.claims_support import add_check, run_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gitlab(apps):
    app, _ = connections_services.app_upsert_from_pipedream(
        data=catalogue.get_catalogue_app("gitlab"), enabled=True, order=9
    )
    return app


def connect_gitlab(member, name, **custom_fields):
    """A GitLab account in the Pipedream sandbox, with its custom fields (base_api_url:
    the account's own GitLab host), recorded through the app's own service."""
    _, token = pd_sandbox.connect_token_create(
        project_id="proj_sandbox",
        environment="development",
        external_user_id=str(member.external_id),
    )
    upstream = pd_sandbox.account_connect(
        token=token, app_slug="gitlab", name=name, custom_fields=custom_fields
    )
    return connections_services.account_record(member=member, pipedream_id=upstream.account_id)


def proxy_claim(app, *, url, path, comparison, value, identity_path="", clean=True):
    upstream = bb_sandbox_claims.claim_create(max_uses=100, password="pw")
    claim = Claim(
        slug=f"proxy-{upstream.claim_id[:8]}",
        name="Read through the proxy",
        delivery="bitbadges",
        bitbadges_claim_id=upstream.claim_id,
        password_instance_id="pwd",
        enabled=True,
    )
    claim.set_password("pw")
    claim.full_clean()
    claim.save()
    check = add_check(
        claim,
        app,
        proxy_url=url,
        path=path,
        comparison=comparison,
        value=value,
        identity_path=identity_path,
    )
    if clean:
        check.full_clean()
    return claim


def check_of(completion: Completion) -> dict:
    """The evidence of the claim's only check (its requirement's rule)."""
    key = completion.claim.requirements.get().rule_key
    return next(rule for rule in completion.evidence if rule["rule"] == key)


def test_a_path_reads_the_accounts_own_host_and_completes(upstreams, gitlab, alice):
    claim = proxy_claim(
        gitlab,
        url="/api/v4/user",
        path="web_url",
        comparison="eq",
        value="https://gitlab.example.org/alice-lab",
        identity_path="username",
    )
    connect_gitlab(alice, "alice-lab", base_api_url="gitlab.example.org")
    run_worker()

    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "completed", completion.reason
    criterion = check_of(completion)
    assert criterion["value"] == "https://gitlab.example.org/alice-lab"
    assert completion.upstream_identity == "gitlab:alice-lab"
    assert bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 1


def test_an_account_on_another_host_does_not_meet_it(upstreams, gitlab, alice):
    claim = proxy_claim(
        gitlab,
        url="/api/v4/user",
        path="web_url",
        comparison="contains",
        value="gitlab.example.org",
    )
    connect_gitlab(alice, "alice-lab", base_api_url="gitlab.other.test")
    run_worker()

    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "ineligible"
    criterion = check_of(completion)
    assert criterion["value"] == "https://gitlab.other.test/alice-lab"


@pytest.mark.parametrize(
    ("app_slug", "url"),
    [
        # Saved before the app's description said otherwise (or never cleaned): the
        # client refuses it with the app's `connect` object, before any request.
        ("github", "/user"),
        ("github", "https://api.evil.example/user"),
        ("gitlab", "https://gitlab.evil.example/api/v4/user"),
    ],
)
def test_a_url_the_apps_connect_object_refuses_fails_the_check_for_the_admins(
    upstreams, apps, gitlab, alice, connect, app_slug, url
):
    app = gitlab if app_slug == "gitlab" else apps[app_slug]
    claim = proxy_claim(app, url=url, path="$status", comparison="eq", value="200", clean=False)
    if app_slug == "gitlab":
        connect_gitlab(alice, "alice-lab", base_api_url="gitlab.example.org")
    else:
        connect(alice, app_slug, "octo-pro")
    run_worker()

    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "failed"
    assert completion.reason == SETTINGS_NEED_ATTENTION
    assert bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 0
    detail = " ".join(str(event.details) for event in completion.events.all())
    assert "the proxy URL is refused" in detail

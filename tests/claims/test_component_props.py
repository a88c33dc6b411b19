"""The props a criterion runs with and a trigger is deployed with follow the component's
definition (the Pipedream sandbox, over real HTTP): the account goes under the app prop's
own name (`googleSheets`, not the slug `google_sheets`), and a trigger whose prop reloads
props is deployed with the `dynamic_props_id` of that reload."""

import pytest

from claims.engine import evaluation
from claims.models import TriggerDeployment
from connections import services as connections_services
from members.management.commands.seed_demo import _claim_upsert, demo_claim_specs
from sandbox import demo
from sandbox.pipedream.catalogue import DEMO_STARRED_REPO
from sandbox.pipedream.models import DeployedTrigger
from tests.claims.admin_support import make_app
from tests.claims.claims_support import add_check, run_worker

pytestmark = pytest.mark.django_db(transaction=True)


def criterion(result: evaluation.Evaluation) -> dict:
    """The result of the claim's only check (its requirement's rule)."""
    [check] = [r for r in result.requirements if r.runs_check]
    return next(rule.as_json() for rule in result.results if rule.rule == check.rule_key)


def test_a_google_sheets_criterion_runs_with_the_app_prop_googlesheets(make_claim, alice, connect):
    sheets = make_app("google_sheets", "Google Sheets")
    claim = make_claim("sheets")
    add_check(
        claim,
        sheets,
        action="google_sheets-get-current-user",
        path="about.user.emailAddress",
        comparison="truthy",
    ).full_clean()
    connect(alice, "google_sheets", "alice-sheets")
    rule = criterion(evaluation.evaluate(claim, alice))
    assert rule["passed"] is True, rule
    assert "@" in rule["value"]


def test_the_demo_criterion_reads_user_public_repos(demo_claims, alice, connect):
    connect(alice, "github", "octo-pro")
    rule = criterion(evaluation.evaluate(demo_claims["github-builders"], alice))
    assert rule["passed"] is True, rule
    assert int(rule["value"]) >= 25


def test_a_trigger_that_reloads_props_is_deployed_with_its_dynamic_props(
    apps, upstreams, alice, connect, settings
):
    settings.SANDBOX_WEBHOOK_RETRY_DELAYS = (0, 0)
    [spec] = [s for s in demo_claim_specs(demo.demo_ensure()["claims"]) if s["slug"] == "stargazer"]
    star, _ = _claim_upsert(spec)
    assert star.trigger_props == {"repoFullname": DEMO_STARRED_REPO}
    assert star.trigger_scope == "site"  # anyone's star fires it: once, on the site's account
    connect(alice, "github", "octo")
    connections_services.site_accounts_sync()  # the sandbox demo's site account
    run_worker()
    deployment = TriggerDeployment.objects.get(claim=star, member=None)
    assert deployment.status == "active", deployment.error
    upstream = DeployedTrigger.objects.get(trigger_id=deployment.pipedream_id)
    assert upstream.configured_props["repoFullname"] == DEMO_STARRED_REPO
    assert upstream.configured_props["github"]["authProvisionId"] == deployment.account_pipedream_id
    assert upstream.dynamic_props_id
    assert upstream.account.name == "bitbadges"  # owns the repository it watches

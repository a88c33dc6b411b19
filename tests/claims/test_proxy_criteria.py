"""Criteria read through Pipedream's proxy, over real HTTP against the sandbox.

The proxied answer is read, used and dropped: the ledger keeps the value seen (and an
identity when the claim asks for one), nothing else of it.
"""

import json

import pytest

from claims.models import Claim, Completion, CompletionEvent
from sandbox.bitbadges import attempts as bb_sandbox_attempts
from sandbox.bitbadges import claims as bb_sandbox_claims
from sandbox.pipedream.catalogue import DEMO_STARRED_REPO
from tests.claims.claims_support import add_check, run_worker

pytestmark = pytest.mark.django_db(transaction=True)


def proxy_claim(apps, *, url: str, path: str, comparison: str, value: str, identity_path=""):
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
        apps["github"],
        proxy_url=url,
        path=path,
        comparison=comparison,
        value=value,
        identity_path=identity_path,
    )
    check.full_clean()
    return claim


def check_of(completion: Completion) -> dict:
    """The evidence of the claim's only check (its requirement's rule)."""
    key = completion.claim.requirements.get().rule_key
    return next(rule for rule in completion.evidence if rule["rule"] == key)


def ledger_text(completion: Completion) -> str:
    events = list(CompletionEvent.objects.filter(completion=completion).values_list("details"))
    return json.dumps([completion.evidence, completion.reason, events], default=str)


def test_a_proxy_criterion_passes_with_the_value_seen_and_keeps_nothing_else(
    apps, upstreams, alice, connect
):
    claim = proxy_claim(
        apps,
        url="https://api.github.com/user",
        path="public_repos",
        comparison="gte",
        value="5",
        identity_path="login",
    )
    connect(alice, "github", "octo-pro")
    run_worker()

    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "completed", completion.reason
    criterion = check_of(completion)
    assert criterion["passed"] is True and int(criterion["value"]) >= 25
    assert completion.upstream_identity == "github:octo-pro"
    # Other fields of the answer (followers, created_at) are nowhere in the ledger.
    text = ledger_text(completion)
    assert "followers" not in text and "created_at" not in text and "2014-03-11" not in text


def test_a_proxy_criterion_fails_with_the_value_seen(apps, upstreams, alice, connect):
    claim = proxy_claim(
        apps, url="https://api.github.com/user", path="public_repos", comparison="gte", value="5"
    )
    connect(alice, "github", "octo")
    run_worker()

    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "ineligible"
    criterion = check_of(completion)
    assert criterion["passed"] is False and int(criterion["value"]) < 5
    assert (
        completion.reason
        == f"Have at least 5 public repos on GitHub: you have {criterion['value']}."
    )
    assert bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 0


@pytest.mark.parametrize(
    ("name", "state", "seen"), [("octo-pro", "completed", "204"), ("octo", "ineligible", "404")]
)
def test_the_upstream_status_can_be_the_criterion(
    apps, upstreams, alice, connect, name, state, seen
):
    claim = proxy_claim(
        apps,
        url=f"https://api.github.com/user/starred/{DEMO_STARRED_REPO}",
        path="$status",
        comparison="eq",
        value="204",
    )
    connect(alice, "github", name)
    run_worker()

    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == state, completion.reason
    criterion = check_of(completion)
    assert criterion["value"] == seen


def test_an_upstream_refusal_fails_the_rule_with_a_reason(apps, upstreams, alice, connect):
    # An endpoint the sandbox's GitHub does not have: the proxy relays a 404.
    claim = proxy_claim(
        apps,
        url="https://api.github.com/user/starred/nobody/nothing",
        path="starred",
        comparison="truthy",
        value="",
    )
    connect(alice, "github", "octo")
    run_worker()

    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "ineligible"
    assert "GitHub did not give an answer this check can use" in completion.reason
    assert "404" not in completion.reason

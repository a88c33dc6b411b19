"""Claim validation, the ledger's constraints, and which completions are due."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from claims.models import Claim, Completion, Requirement
from connections.models import App
from tests.claims.claims_support import require

pytestmark = pytest.mark.django_db

State = Completion.State


@pytest.fixture
def github():
    return App.objects.create(slug="github", name="GitHub", enabled=True)


def claim_for(**fields) -> Claim:
    defaults = {"slug": "c", "name": "C", "delivery": "dynamic_store", "store_id": "s"}
    return Claim(**{**defaults, **fields})


def requirement_for(**fields) -> Requirement:
    return Requirement(**fields)


def clean_errors(model: Claim | Requirement) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        model.clean()
    return caught.value.message_dict


# --- Claim.clean ----------------------------------------------------------------------------


def test_a_complete_claim_of_each_method_is_clean(github):
    claim_for(delivery="bitbadges", bitbadges_claim_id="b", password_instance_id="p").clean()
    claim_for(delivery="dynamic_store", store_id="s").clean()
    claim_for(delivery="workflow", workflow_url="https://en1a2b3c.m.pipedream.net").clean()
    requirement_for(
        app=github,
        kind="action",
        action="github-get-current-user",
        path="user.public_repos",
        comparison="gte",
        value="10",
        identity_path="user.login",
    ).clean()


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook",  # would receive the project's Pipedream token
        "http://en1a2b3c.m.pipedream.net",
        "https://m.pipedream.net.evil.test/",
        "https://user:pw@en1a2b3c.m.pipedream.net",
    ],
)
def test_a_workflow_url_must_be_a_pipedream_trigger(url):
    errors = clean_errors(claim_for(delivery="workflow", workflow_url=url))
    assert "Pipedream HTTP trigger" in errors["workflow_url"][0]


def test_bitbadges_method_needs_the_claim_id_and_the_password_plugin():
    errors = clean_errors(claim_for(delivery="bitbadges", store_id=""))
    assert errors == {
        "bitbadges_claim_id": ["The BitBadges method needs the claim ID."],
        "password_instance_id": ["The BitBadges method needs the password plugin's instance ID."],
    }


def test_dynamic_store_method_needs_the_store_id():
    errors = clean_errors(claim_for(delivery="dynamic_store", store_id=""))
    assert errors == {"store_id": ["The dynamic store method needs the store ID."]}


def test_workflow_method_needs_the_url():
    errors = clean_errors(claim_for(delivery="workflow", workflow_url=""))
    assert errors == {"workflow_url": ["The workflow method needs the workflow's URL."]}


# --- Requirement.clean ----------------------------------------------------------------------


def test_a_check_with_only_an_action_names_every_missing_part():
    requirement = requirement_for(kind="action", action="github-get-current-user")
    assert clean_errors(requirement) == {
        "path": ["Give the path into the result the comparison looks at."],
        "comparison": ["Choose a comparison."],
    }
    with pytest.raises(ValidationError) as caught:
        requirement.full_clean(exclude=["claim"])
    assert set(caught.value.message_dict) == {"app", "path", "comparison"}


@pytest.mark.parametrize(
    ("kind", "missing", "message"),
    [
        ("action", "action", "Choose the Pipedream action to run."),
        ("proxy", "proxy_url", "Give the API URL to read through the proxy."),
    ],
)
def test_a_check_with_only_an_app_names_every_missing_part(github, kind, missing, message):
    errors = clean_errors(requirement_for(app=github, kind=kind))
    assert set(errors) == {missing, "path", "comparison"}
    assert errors[missing] == [message]


def test_a_comparison_other_than_truthy_needs_a_value(github):
    check = {
        "app": github,
        "kind": "action",
        "action": "github-get-current-user",
        "path": "p",
        "comparison": "eq",
    }
    assert clean_errors(requirement_for(**check)) == {"value": ["This comparison needs a value."]}
    requirement_for(**{**check, "comparison": "truthy"}).clean()  # truthy needs none


def test_an_identity_path_needs_a_check(github):
    errors = clean_errors(requirement_for(app=github, identity_path="login"))
    assert errors == {
        "identity_path": ["Only an action or a proxy read has this: the check is an account."]
    }


@pytest.mark.parametrize("props", [[], "text", 3, None])
def test_props_must_be_a_json_object(github, props):
    check = requirement_for(
        app=github,
        kind="action",
        action="github-get-current-user",
        path="p",
        comparison="truthy",
        props=props,
    )
    assert clean_errors(check) == {"props": ["Props are a JSON object."]}


@pytest.mark.parametrize("gap", [datetime.timedelta(0), datetime.timedelta(hours=-1)])
def test_the_window_must_end_after_it_starts(gap):
    start = timezone.now()
    errors = clean_errors(claim_for(starts_at=start, ends_at=start + gap))
    assert errors == {"ends_at": ["The window must end after it starts."]}


def test_a_half_open_window_is_fine():
    claim_for(starts_at=timezone.now()).clean()
    claim_for(ends_at=timezone.now()).clean()


def test_the_window_constraint_has_its_own_message():
    start = timezone.now()
    claim = claim_for(starts_at=start, ends_at=start)
    with pytest.raises(ValidationError) as caught:
        claim.full_clean()
    assert caught.value.message_dict == {"ends_at": ["The window must end after it starts."]}
    with pytest.raises(ValidationError) as caught:
        claim.validate_constraints()
    assert caught.value.messages == ["The window must start before it ends."]


def test_the_database_refuses_a_window_that_ends_before_it_starts():
    start = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        Claim.objects.create(
            slug="c", name="C", delivery="workflow", starts_at=start, ends_at=start
        )
    assert not Claim.objects.exists()


def test_is_open_follows_the_window():
    now = timezone.now()
    hour = datetime.timedelta(hours=1)
    assert claim_for().is_open(now)
    assert claim_for(starts_at=now - hour, ends_at=now + hour).is_open(now)
    assert not claim_for(starts_at=now + hour).is_open(now)
    assert not claim_for(ends_at=now).is_open(now)  # the end is exclusive
    assert claim_for(starts_at=now).is_open(now)  # the start is inclusive


def test_needing_app_lists_each_claim_once(github):
    discord = App.objects.create(slug="discord", name="Discord")
    both = claim_for(slug="both")
    both.save()
    require(both, github, discord)
    other = claim_for(slug="other")
    other.save()
    require(other, discord)
    assert list(Claim.objects.needing_app("github")) == [both]
    assert set(Claim.objects.needing_app("discord")) == {both, other}
    assert list(Claim.objects.needing_app("slack")) == []


# --- The ledger's constraints -------------------------------------------------------------


@pytest.fixture
def claim():
    claim = claim_for()
    claim.save()
    return claim


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="connect-demo")


def test_one_completion_per_claim_and_member(claim, member):
    Completion.objects.create(claim=claim, member=member)
    with pytest.raises(IntegrityError), transaction.atomic():
        Completion.objects.create(claim=claim, member=member, state=State.COMPLETED)
    assert Completion.objects.count() == 1


def test_one_completion_per_claim_and_upstream_identity(claim, member, bob):
    Completion.objects.create(claim=claim, member=member, upstream_identity="github:octocat")
    with pytest.raises(IntegrityError), transaction.atomic():
        Completion.objects.create(claim=claim, member=bob, upstream_identity="github:octocat")
    assert Completion.objects.count() == 1


def test_an_empty_identity_is_not_unique_and_an_identity_is_per_claim(claim, member, bob):
    other = claim_for(slug="other")
    other.save()
    Completion.objects.create(claim=claim, member=member, upstream_identity="")
    Completion.objects.create(claim=claim, member=bob, upstream_identity="")
    Completion.objects.create(claim=other, member=member, upstream_identity="github:octocat")
    Completion.objects.create(claim=other, member=None, upstream_identity="github:mona")
    Completion.objects.create(claim=claim, member=None, upstream_identity="github:octocat")
    assert Completion.objects.count() == 5


def test_deleting_the_member_keeps_the_ledger_row(claim, member):
    completion = Completion.objects.create(claim=claim, member=member, state=State.COMPLETED)
    member.delete()
    completion.refresh_from_db()
    assert completion.member is None
    assert "deleted member" in str(completion)


# --- due ------------------------------------------------------------------------------------


def test_due_picks_scheduled_rows_whose_time_came_and_abandoned_leases(claim, django_user_model):
    now = timezone.now()
    past, future = now - datetime.timedelta(seconds=1), now + datetime.timedelta(minutes=5)
    rows = {}
    cases = {
        "waiting-past": {"state": State.WAITING, "next_attempt_at": past},
        "waiting-now": {"state": State.WAITING, "next_attempt_at": now},
        "waiting-future": {"state": State.WAITING, "next_attempt_at": future},
        "retrying-past": {"state": State.RETRYING, "next_attempt_at": past},
        "retrying-future": {"state": State.RETRYING, "next_attempt_at": future},
        "checking-expired": {"state": State.CHECKING, "lease_expires_at": past},
        "checking-held": {"state": State.CHECKING, "lease_expires_at": future},
        "delivering-expired": {"state": State.DELIVERING, "lease_expires_at": past},
        "delivering-held": {"state": State.DELIVERING, "lease_expires_at": future},
        "completed": {"state": State.COMPLETED, "next_attempt_at": past, "lease_expires_at": past},
        "ineligible": {"state": State.INELIGIBLE, "next_attempt_at": past},
        "failed": {"state": State.FAILED, "next_attempt_at": past},
    }
    for name, fields in cases.items():
        person = django_user_model.objects.create_user(username=name)
        rows[name] = Completion.objects.create(claim=claim, member=person, **fields)

    due = set(Completion.objects.due(now=now).values_list("pk", flat=True))
    assert due == {
        rows[name].pk
        for name in [
            "waiting-past",
            "waiting-now",
            "retrying-past",
            "checking-expired",
            "delivering-expired",
        ]
    }
    later = set(Completion.objects.due(now=future).values_list("pk", flat=True))
    assert rows["waiting-future"].pk in later and rows["checking-held"].pk in later
    assert rows["completed"].pk not in later


def test_a_waiting_row_without_a_time_is_due_like_the_worker_treats_it(claim, member):
    row = Completion.objects.create(claim=claim, member=member, state=State.WAITING)
    assert row.next_attempt_at is None
    assert list(Completion.objects.due()) == [row]

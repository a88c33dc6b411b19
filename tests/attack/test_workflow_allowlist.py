"""The project's Pipedream token goes to no workflow URL but those the operator listed.

A workflow delivery calls the claim's workflow URL with the project's OAuth bearer token,
and staff type that URL. Whoever saved the claim (a staff member with only the claims
permissions, or a row written around the form), a URL outside PIPEDREAM_WORKFLOW_ENDPOINTS
gets no request at all: the completion stops as failed with a sentence for the operator.

Pipedream's own hosts are answered by `responses`, which records every request made to
them; the sandboxes (everything else the delivery needs) are served by live_server.
"""

import re

import pytest
import responses
from django.contrib.auth.models import Permission
from django.urls import reverse

from claims.models import Claim, Completion, CompletionEvent
from sandbox.bitbadges import attempts as bb_sandbox_attempts
from tests.claims.admin_support import claim_form_data
from tests.claims.claims_support import ALICE_ADDRESS, run_worker
from tests.members_support import verify_email
from tests.settings_support import run

pytestmark = pytest.mark.django_db(transaction=True)

NOT_SENT = "The workflow was not called, so the project's Pipedream token was not sent"
MEMBER_REASON = "This claim's workflow could not be run; the site's admins have been told."

# Outside the allowlist (pyproject's test env lists en123abc and the sandbox's ids).
OUTSIDE = {
    "unlisted-id": ("https://eo-anything.m.pipedream.net/", "eo-anything is not listed"),
    "port": ("https://en123abc.m.pipedream.net:8443/", "gives a port"),
    "default-port-spelled": ("https://en123abc.m.pipedream.net:443/hook", "gives a port"),
    "http": ("http://en123abc.m.pipedream.net/", "over https only"),
    "userinfo": ("https://me:pw@en123abc.m.pipedream.net/", "a user name"),
    "other-host": ("https://en123abc.m.pipedream.net.evil.test/", "not a Pipedream workflow"),
}


@pytest.fixture
def pipedream_hosts(upstreams):
    """Every request to a host other than live_server's, recorded and answered as a
    workflow that completed the claim would answer (so a leak would look like success)."""
    hits = []

    def answer(request):
        hits.append((request.url, request.headers.get("Authorization", "")))
        return 200, {"Content-Type": "application/json"}, '{"success": true}'

    elsewhere = re.compile(rf"^(?!{re.escape(upstreams.url)}).*")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(upstreams.url)
        for method in (responses.GET, responses.POST, responses.PUT):
            mock.add_callback(method, elsewhere, callback=answer)
        yield hits


@pytest.fixture
def claims_staff(django_user_model):
    """Staff with the claims app's permissions and nothing else."""
    user = verify_email(
        django_user_model.objects.create_user(
            username="claims-editor",
            email="editor@example.com",
            password="connect-demo",
            is_staff=True,
        )
    )
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="claims"))
    return user


def workflow_claim(demo_claims) -> Claim:
    return demo_claims["github-workflow"]


def delivered(claim: Claim, member) -> Completion:
    return Completion.objects.get(claim=claim, member=member)


def stopped_for_the_operator(completion: Completion) -> str:
    """The completion failed before sending; returns what the admins read."""
    assert completion.state == Completion.State.FAILED, completion.reason
    assert completion.reason == MEMBER_REASON
    assert not completion.outcome_unknown  # nothing went out: nothing to check upstream
    event = CompletionEvent.objects.filter(completion=completion, to_state="failed").latest("pk")
    return event.details["error"]


# --- (a) The token never reaches a URL outside the allowlist ----------------------------


@pytest.mark.parametrize("case", list(OUTSIDE))
def test_the_token_never_reaches_a_workflow_outside_the_allowlist(
    demo_claims, alice, connect, pipedream_hosts, case
):
    url, why = OUTSIDE[case]
    claim = workflow_claim(demo_claims)
    # Written around Claim.clean, as a migration, a shell or a raw SQL edit could.
    Claim.objects.filter(pk=claim.pk).update(workflow_url=url)

    connect(alice, "github", "octo")
    run_worker()

    assert pipedream_hosts == []  # no request at all, so no token
    error = stopped_for_the_operator(delivered(claim, alice))
    assert NOT_SENT in error and why in error
    assert "listed in PIPEDREAM_WORKFLOW_ENDPOINTS: " in error and "en123abc" in error
    assert "Correct the claim's workflow URL or the setting, then Retry." in error


def test_a_claim_saved_before_the_allowlist_shrank_gets_no_token(
    demo_claims, alice, connect, pipedream_hosts, settings
):
    claim = workflow_claim(demo_claims)
    claim.workflow_url = "https://en123abc.m.pipedream.net/claim"
    claim.full_clean()  # allowed when saved
    claim.save()
    settings.PIPEDREAM_WORKFLOW_ENDPOINTS = ["en-sandbox-claim-github"]

    connect(alice, "github", "octo")
    run_worker()

    assert pipedream_hosts == []
    error = stopped_for_the_operator(delivered(claim, alice))
    assert "en123abc is not listed in PIPEDREAM_WORKFLOW_ENDPOINTS" in error
    assert "PIPEDREAM_WORKFLOW_ENDPOINTS: en-sandbox-claim-github" in error


def test_with_no_endpoint_listed_no_workflow_is_called(
    demo_claims, alice, connect, pipedream_hosts, settings
):
    claim = workflow_claim(demo_claims)  # the sandbox's own workflow
    settings.PIPEDREAM_WORKFLOW_ENDPOINTS = []
    connect(alice, "github", "octo")
    run_worker()
    error = stopped_for_the_operator(delivered(claim, alice))
    assert "Workflow delivery needs the operator to list the workflows' endpoint ids" in error
    assert bb_sandbox_attempts.complete_calls(claim.bitbadges_claim_id) == 0
    assert pipedream_hosts == []


def test_a_claims_only_staff_member_cannot_point_the_token_elsewhere(
    client, claims_staff, demo_claims, alice, connect, pipedream_hosts
):
    claim = workflow_claim(demo_claims)
    allowed_url = claim.workflow_url
    client.force_login(claims_staff)
    change = reverse("admin:claims_claim_change", args=[claim.pk])
    assert client.get(change).status_code == 200  # the permissions do let them edit

    response = client.post(
        change, claim_form_data(claim, workflow_url="https://eo-anything.m.pipedream.net/")
    )
    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["workflow_url"]
    assert "eo-anything is not listed in PIPEDREAM_WORKFLOW_ENDPOINTS" in error
    claim.refresh_from_db()
    assert claim.workflow_url == allowed_url

    # The delivery then runs the listed (sandbox) workflow, and nothing else is called.
    connect(alice, "github", "octo")
    run_worker()
    assert delivered(claim, alice).state == Completion.State.COMPLETED
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id, ALICE_ADDRESS) == 1
    assert pipedream_hosts == []


# --- (b) The admin form says which URLs it takes ----------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        *OUTSIDE.values(),
        ("https://en999.m.pipedream.net/", "en999 is not listed"),
        ("en999", "en999 is not listed"),
        ("https://en123abc.m.pipedream.net@evil.test/", "not a Pipedream workflow"),
        ("https://EO-ANYTHING.m.pipedream.net/", "eo-anything is not listed"),
    ],
)
def test_the_admin_form_refuses_a_workflow_url_outside_the_allowlist(
    client, claims_staff, demo_claims, url, why
):
    claim = workflow_claim(demo_claims)
    client.force_login(claims_staff)
    response = client.post(
        reverse("admin:claims_claim_change", args=[claim.pk]),
        claim_form_data(claim, workflow_url=url),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["workflow_url"]
    [error] = errors["workflow_url"]
    if "://" in url:  # a bare id is no URL to Django's URLField; its sentence is Django's
        assert why in error
        assert "listed in PIPEDREAM_WORKFLOW_ENDPOINTS: en-sandbox-github" in error
    assert Claim.objects.get(pk=claim.pk).workflow_url == claim.workflow_url


def test_the_admin_form_refuses_the_sandboxs_workflows_when_the_sandbox_is_off(
    client, claims_staff, demo_claims, settings
):
    claim = workflow_claim(demo_claims)
    assert "/sandbox/pipedream/workflows/en-sandbox-claim-github/" in claim.workflow_url
    client.force_login(claims_staff)
    settings.SANDBOX = False
    response = client.post(
        reverse("admin:claims_claim_change", args=[claim.pk]), claim_form_data(claim)
    )
    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["workflow_url"]
    assert "not a Pipedream workflow's HTTP trigger" in error
    assert "in the sandbox" not in error


def test_the_admin_form_says_what_the_operator_must_do_when_nothing_is_listed(
    client, claims_staff, demo_claims, settings
):
    settings.PIPEDREAM_WORKFLOW_ENDPOINTS = []
    claim = workflow_claim(demo_claims)
    client.force_login(claims_staff)
    response = client.post(
        reverse("admin:claims_claim_change", args=[claim.pk]),
        claim_form_data(claim, workflow_url="https://en123abc.m.pipedream.net/"),
    )
    [error] = response.context["adminform"].form.errors["workflow_url"]
    assert (
        "Workflow delivery needs the operator to list the workflows' endpoint ids in "
        "PIPEDREAM_WORKFLOW_ENDPOINTS"
    ) in error


@pytest.mark.parametrize(
    "url",
    [
        "https://en123abc.m.pipedream.net",
        "https://en123abc.m.pipedream.net/claims/hook?from=site",
        "https://EN123ABC.m.pipedream.net/",
    ],
)
def test_the_admin_form_takes_a_listed_endpoint(client, claims_staff, demo_claims, url):
    claim = workflow_claim(demo_claims)
    client.force_login(claims_staff)
    response = client.post(
        reverse("admin:claims_claim_change", args=[claim.pk]),
        claim_form_data(claim, workflow_url=url),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Claim.objects.get(pk=claim.pk).workflow_url == url


# --- (c) The setting itself ------------------------------------------------------------

PRODUCTION = {
    "SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "example.com",
    "CLAIM_SECRETS_KEYS": "k" * 40,
}
PRINT = "from django.conf import settings as s; print(s.PIPEDREAM_WORKFLOW_ENDPOINTS)"


@pytest.mark.parametrize(
    "bad",
    [
        "EN123ABC",
        "en_123",
        "https://en123abc.m.pipedream.net",
        "en123abc.m.pipedream.net",
        "en123-",
        "x123abc",
        "en" + "a" * 62,
    ],
)
@pytest.mark.own_process
def test_a_malformed_endpoint_id_is_refused_by_name(tmp_path, bad):
    result = run(
        ["check"], {**PRODUCTION, "PIPEDREAM_WORKFLOW_ENDPOINTS": f"en123abc,{bad}"}, tmp_path
    )
    assert result.returncode != 0
    assert f"PIPEDREAM_WORKFLOW_ENDPOINTS lists {bad!r}, which is not a workflow endpoint id" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (" en123abc , eo-x-1,, ", "['en123abc', 'eo-x-1']"),
        ("", "[]"),
        (None, "[]"),  # not set at all
    ],
)
@pytest.mark.own_process
def test_the_endpoint_list_is_read_and_empty_by_default(tmp_path, monkeypatch, value, expected):
    monkeypatch.delenv("PIPEDREAM_WORKFLOW_ENDPOINTS", raising=False)
    env = dict(PRODUCTION)
    if value is not None:
        env["PIPEDREAM_WORKFLOW_ENDPOINTS"] = value
    result = run(["shell", "-c", PRINT], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected

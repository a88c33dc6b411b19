"""The claim builder's endpoints (claims/admin/builder.py), through HTTP with the Django
test client, against the Pipedream sandbox over real HTTP and the real task worker.

What they answer (the contract static/js/claim_builder.js is written to), who may ask
(claims editors; members' values only with claims.view_member_values; a Try it's answer
only for whoever asked), and that hostile input is refused with a sentence before any
job is made or any call leaves for Pipedream.
"""

import datetime
import json
from io import StringIO

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from claims.job_models import ClaimJob
from connections import services as connections_services
from sandbox.pipedream import services as pd_sandbox
from tests.claims.claims_support import run_worker

pytestmark = pytest.mark.django_db(transaction=True)

GET_USER = "github-get-current-user"
GET_REPO = "github-get-repository"


def url(name, *args):
    return reverse(f"admin:claims_claim_builder_{name}", args=args)


def post(client, name, body, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url(name), data, content_type="application/json", **extra)


def problem_of(response, status):
    """The refusal's sentence, after checking its status and shape."""
    assert response.status_code == status, response.content[:500]
    problem = response.json()["problem"]
    assert isinstance(problem, str) and len(problem) > 10  # a sentence, not a code
    return problem


def staff(username, *codenames):
    user = get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password=None, is_staff=True
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def client_for(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def operator(db):
    """May edit claims and see members' values (not a superuser)."""
    return client_for(staff("operator", "add_claim", "change_claim", "view_member_values"))


@pytest.fixture
def editor(db):
    """A claims editor without claims.view_member_values."""
    return client_for(staff("editor", "add_claim", "change_claim", "view_claim"))


@pytest.fixture
def viewer(db):
    """Staff who may only view claims."""
    return client_for(staff("viewer", "view_claim"))


@pytest.fixture
def github(apps, upstreams):
    return apps["github"]


@pytest.fixture
def octo(alice, connect, github):
    """alice, with a GitHub account named octo (repositories: octo/hello-world)."""
    connect(alice, "github", "octo")
    return alice


def connect_site_account(name="bitbadges"):
    """What an operator does on Pipedream's hosted page for the site, then the sync."""
    _, token = pd_sandbox.connect_token_create(
        project_id="proj_sandbox", environment="development", external_user_id="site"
    )
    pd_sandbox.account_connect(token=token, app_slug="github", name=name)
    connections_services.site_accounts_sync()


@pytest.fixture
def sent(monkeypatch):
    """The URL of every HTTP request the app sends to Pipedream, in order."""
    calls = []
    real_send = requests.adapters.HTTPAdapter.send

    def send(self, request, *args, **kwargs):
        if "/sandbox/pipedream/" in request.url and "/oauth/" not in request.url:
            calls.append(request.url)
        return real_send(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    return calls


def try_body(github, member="alice", **requirement):
    return {
        "claim": None,
        "requirement": {
            "app": github.pk,
            "kind": "action",
            "action": GET_USER,
            "props": {},
            "proxy_url": "",
            **requirement,
        },
        "member": member,
    }


# --- 1. actions, 2. props -----------------------------------------------------------------


def test_actions_are_the_apps_allowed_actions(editor, github):
    response = editor.get(url("actions"), {"app": "github"})
    assert response.status_code == 200
    actions = response.json()["actions"]
    # The allowlist's GitHub actions; not its trigger github-new-star, nor other apps'.
    assert [a["key"] for a in actions] == [GET_USER, GET_REPO, "github-list-organizations"]
    assert actions[1] == {
        "key": GET_REPO,
        "name": "Get Repository Info",
        "description": "Get information for a specific repository.",
    }
    assert "no app 'nope'" in problem_of(editor.get(url("actions"), {"app": "nope"}), 400)


def test_actions_follow_the_operators_allowlist(editor, github, settings):
    settings.CLAIMS_READ_COMPONENTS = (GET_REPO, "slack-get-current-user")
    response = editor.get(url("actions"), {"app": "github"})
    assert [a["key"] for a in response.json()["actions"]] == [GET_REPO]


def test_props_of_an_action_and_of_a_trigger_that_reloads(editor, github):
    response = editor.get(url("props"), {"action": GET_REPO})
    assert response.status_code == 200
    assert response.json() == {
        "key": GET_REPO,
        "name": "Get Repository Info",
        "description": "Get information for a specific repository.",
        "props": [
            {
                "name": "repoFullname",
                "type": "string",
                "label": "Repository",
                "description": "The name of the repository. The name is not case sensitive",
                "optional": False,
                "default": None,
                "options": None,
                "remote": True,
                "reload": False,
                "min": None,
                "max": None,
            }
        ],
    }
    assert editor.get(url("props"), {"action": GET_USER}).json()["props"] == []
    # github-new-star: the account and its $.service.db are Pipedream's to fill.
    star = editor.get(url("props"), {"action": "github-new-star"}).json()["props"]
    assert [(p["name"], p["remote"], p["reload"]) for p in star] == [("repoFullname", True, True)]


def test_props_of_a_component_outside_the_allowlist_are_refused_unasked(editor, github, sent):
    problem = problem_of(editor.get(url("props"), {"action": "github-create-issue"}), 403)
    assert "github-create-issue is not among the Pipedream components" in problem
    assert "CLAIMS_READ_COMPONENTS" in problem
    assert sent == []


# --- 3. options, 4. reload ----------------------------------------------------------------


def options_body(**over):
    return {
        "action": GET_REPO,
        "app": "github",
        "prop": "repoFullname",
        "props": {},
        "member": "",
        "query": "",
        **over,
    }


def test_remote_options_on_the_sites_account(editor, github, octo):
    connect_site_account("bitbadges")
    # The site's account answers, whoever is named: no member's data, no permission needed.
    response = post(editor, "options", options_body(member="alice"))
    assert response.status_code == 200, response.content
    assert response.json() == {
        "options": [{"label": "bitbadges/hello-world", "value": "bitbadges/hello-world"}],
        "account": "site",
    }


def test_remote_options_on_a_members_account(operator, editor, github, octo):
    response = post(operator, "options", options_body(member="alice"))
    assert response.status_code == 200, response.content
    assert response.json() == {
        "options": [{"label": "octo/hello-world", "value": "octo/hello-world"}],
        "account": "member",
    }
    answer = post(operator, "options", options_body(member="alice", query="nothing-like-it"))
    assert answer.json()["options"] == []
    # A member's repositories are their data.
    assert "see members' values" in problem_of(
        post(editor, "options", options_body(member="alice")), 403
    )


def test_remote_options_with_neither_account_say_what_to_do(operator, github, bob_no_account):
    for member in ("", "bob"):
        problem = problem_of(post(operator, "options", options_body(member=member)), 400)
        assert "Connect a site account of GitHub or choose a member with one" in problem


@pytest.fixture
def bob_no_account(db):
    return get_user_model().objects.create_user(username="bob", email="bob@example.com")


def test_reload_props_of_a_component_that_reloads_them(operator, github, octo):
    body = {"action": "github-new-star", "app": "github", "member": "alice"}
    owned = post(operator, "reload", {**body, "props": {"repoFullname": "octo/hello-world"}})
    assert owned.status_code == 200, owned.content
    data = owned.json()
    assert [p["name"] for p in data["props"]] == ["repoFullname"]  # the rest is Pipedream's
    assert data["dynamic_props_id"].startswith("dyp_")
    # Another value of the reloadProps prop makes other dynamic props.
    other = post(operator, "reload", {**body, "props": {"repoFullname": "django/django"}})
    assert other.json()["dynamic_props_id"] not in ("", data["dynamic_props_id"])


# --- 5. Try it, 6. its status -------------------------------------------------------------


def test_try_it_runs_the_check_on_the_worker_and_shows_the_answer(operator, github, octo, settings):
    response = post(operator, "try", try_body(github))
    assert response.status_code == 202, response.content
    job = ClaimJob.objects.get()
    assert response.json() == {"job": job.pk, "status_url": url("try_status", job.pk)}
    assert (job.kind, job.state, job.member, job.claim) == ("try_it", "queued", octo, None)
    status = operator.get(url("try_status", job.pk)).json()
    assert status == {"state": "queued", "result": None, "error": ""}

    run_worker()

    status = operator.get(url("try_status", job.pk))
    answer = status.json()
    assert answer["state"] == "done", answer
    assert answer["result"]["user"]["login"] == "octo"
    assert isinstance(answer["result"]["user"]["public_repos"], int)
    assert answer["error"] == ""
    secret = settings.PIPEDREAM_CLIENT_SECRET
    assert not secret or secret not in status.content.decode()


def test_try_it_reads_a_proxy_url(operator, github, octo):
    body = try_body(github, kind="proxy", action="", proxy_url="https://api.github.com/user")
    response = post(operator, "try", body)
    assert response.status_code == 202, response.content
    run_worker()
    answer = operator.get(response.json()["status_url"]).json()
    assert answer["state"] == "done", answer
    assert answer["result"]["login"] == "octo"
    assert answer["result"]["$status"] == 200


def test_try_it_says_why_a_check_failed(operator, github, octo):
    body = try_body(github, action=GET_REPO, props={"repoFullname": "someone/private"})
    response = post(operator, "try", body)
    run_worker()
    answer = operator.get(response.json()["status_url"]).json()
    assert answer["state"] == "failed"
    assert answer["result"] is None
    assert "404" in answer["error"] and "someone/private" in answer["error"]


# --- 7. members ---------------------------------------------------------------------------


def test_members_by_the_start_of_their_username_or_email(operator, octo, bob_no_account):
    get_user_model().objects.create_user(username="alex", email="a@example.com", is_active=False)
    get_user_model().objects.create_user(username="kal", email="kal@example.com")
    found = operator.get(url("members"), {"q": "AL"}).json()["members"]
    assert found == [{"username": "alice", "label": "alice (alice@example.com)"}]
    found = operator.get(url("members"), {"q": "bob@"}).json()["members"]
    assert [m["username"] for m in found] == ["bob"]
    assert operator.get(url("members"), {"q": ""}).json() == {"members": []}


# --- Who may ask ------------------------------------------------------------------------


def test_a_claims_editor_without_member_values_sees_no_members_values(editor, github, octo):
    assert "see members' values" in problem_of(post(editor, "try", try_body(github)), 403)
    assert "see members' values" in problem_of(editor.get(url("members"), {"q": "al"}), 403)
    assert not ClaimJob.objects.exists()
    # What is not a member's data is theirs to build with.
    assert editor.get(url("actions"), {"app": "github"}).status_code == 200


def test_staff_who_only_view_claims_get_nothing(viewer, github, octo):
    answers = [
        viewer.get(url("actions"), {"app": "github"}),
        viewer.get(url("props"), {"action": GET_USER}),
        post(viewer, "options", options_body(member="alice")),
        post(viewer, "reload", options_body(member="alice")),
        post(viewer, "try", try_body(github)),
        viewer.get(url("members"), {"q": "al"}),
    ]
    for response in answers:
        assert "may add or change claims" in problem_of(response, 403)
    assert not ClaimJob.objects.exists()


def test_members_and_strangers_are_sent_to_the_login(client, github, octo):
    assert client.get(url("actions"), {"app": "github"}).status_code == 302
    client.force_login(octo)
    response = post(client, "try", try_body(github))
    assert response.status_code in (302, 403)
    assert b"octo" not in response.content
    assert not ClaimJob.objects.exists()


def test_a_try_it_answers_only_whoever_asked_while_they_may_see_it(operator, github, octo):
    response = post(operator, "try", try_body(github))
    run_worker()
    status_url = response.json()["status_url"]
    other = client_for(staff("other", "add_claim", "view_member_values"))
    assert "no Try it of yours" in problem_of(other.get(status_url), 404)
    assert "no Try it of yours" in problem_of(operator.get(url("try_status", 99999)), 404)
    asker = get_user_model().objects.get(username="operator")
    asker.user_permissions.remove(Permission.objects.get(codename="view_member_values"))
    assert "no Try it of yours" in problem_of(client_for(asker).get(status_url), 404)


def test_csrf_stays_on(github, octo):
    strict = client_for(
        staff("strict", "add_claim", "view_member_values"), enforce_csrf_checks=True
    )
    assert post(strict, "try", try_body(github)).status_code == 403
    assert not ClaimJob.objects.exists()


# --- Hostile input ------------------------------------------------------------------------


def test_hostile_try_it_bodies_are_refused_with_a_sentence_and_no_job(operator, github, octo, sent):
    cases = {
        "too big": json.dumps({**try_body(github), "pad": "x" * 70_000}),
        "a list": [try_body(github)],
        "not JSON": "{'requirement': ",
        "too deep": "[" * 50_000 + "]" * 50_000,
        "deep": "[" * 30 + "]" * 30,
        "NaN props": json.dumps(try_body(github)).replace('"props": {}', '"props": {"x": NaN}'),
        "Infinity props": json.dumps(try_body(github)).replace(
            '"props": {}', '"props": {"x": -Infinity}'
        ),
        "NUL in props": try_body(github, props={"repoFullname": "a\x00b"}),
        "NUL in member": try_body(github, member="al\x00ice"),
        "requirement a list": {**try_body(github), "requirement": [GET_USER]},
        "props a list": try_body(github, props=["repoFullname"]),
        "app a string": try_body(github, app=str(github.pk)),
        "unknown app": try_body(github, app=987654),
        "unknown member": try_body(github, member="nobody"),
        "member a number": try_body(github, member=7),
        "claim a string": {**try_body(github), "claim": "1"},
        "unknown claim": {**try_body(github), "claim": 987654},
        "account kind": try_body(github, kind="account", action=""),
        "unknown action": try_body(github, action="github-no-such-action"),
        "writer": try_body(github, action="github-create-issue"),
        "foreign host": try_body(
            github, kind="proxy", action="", proxy_url="https://evil.example.com/user"
        ),
        "not https": try_body(github, kind="proxy", action="", proxy_url="http://api.github.com/u"),
    }
    said = {}
    for name, body in cases.items():
        response = post(operator, "try", body)
        said[name] = problem_of(response, 400)
    assert "at most 64 KiB" in said["too big"]
    assert "JSON object, not a list" in said["a list"]
    assert "not JSON" in said["not JSON"]
    assert "at most 64 KiB" in said["too deep"]
    assert "levels deep" in said["deep"]
    assert "NaN, which JSON has not" in said["NaN props"]
    assert "Infinity, which JSON has not" in said["Infinity props"]
    assert "NUL character" in said["NUL in props"]
    assert "NUL character" in said["NUL in member"]
    assert "requirement must be a JSON object" in said["requirement a list"]
    assert "props must be a JSON object" in said["props a list"]
    assert "requirement.app must be the app's id" in said["app a string"]
    assert "no app with the id 987654" in said["unknown app"]
    assert "no active member 'nobody'" in said["unknown member"]
    assert "member must be a string" in said["member a number"]
    assert "claim must be the claim's id" in said["claim a string"]
    assert "no claim with the id 987654" in said["unknown claim"]
    assert "action or a proxy read" in said["account kind"]
    assert "CLAIMS_READ_COMPONENTS" in said["unknown action"]
    assert "github-create-issue is not among" in said["writer"]
    assert "evil.example.com" in said["foreign host"]
    assert "https" in said["not https"]
    assert not ClaimJob.objects.exists()
    assert sent == []  # refused before any call


def test_a_member_without_a_healthy_account_cannot_be_tried(operator, github, bob_no_account):
    problem = problem_of(post(operator, "try", try_body(github, member="bob")), 400)
    assert "bob has no healthy GitHub account" in problem
    assert not ClaimJob.objects.exists()


def test_hostile_options_and_reload_bodies_are_refused_unasked(operator, github, octo, sent):
    for name in ("options", "reload"):
        assert "CLAIMS_READ_COMPONENTS" in problem_of(
            post(operator, name, options_body(action="github-create-issue", member="alice")), 403
        )
        assert "JSON object" in problem_of(post(operator, name, [options_body()]), 400)
        assert "props must be a JSON object" in problem_of(
            post(operator, name, options_body(props=[1], member="alice")), 400
        )
        assert "no app 'gitlub'" in problem_of(
            post(operator, name, options_body(app="gitlub", member="alice")), 400
        )
        assert "at most 64 KiB" in problem_of(
            post(operator, name, options_body(member="alice", query="q" * 70_000)), 400
        )
    assert "prop must be a string" in problem_of(
        post(operator, "options", options_body(prop={"name": "x"}, member="alice")), 400
    )
    assert sent == []


def test_wrong_methods_are_refused(operator, github):
    assert "Use POST" in problem_of(operator.get(url("try")), 405)
    assert "Use GET" in problem_of(post(operator, "actions", {}), 405)


# --- Retention ----------------------------------------------------------------------------


def test_try_it_jobs_are_pruned_after_a_day(operator, github, octo, settings):
    settings.RETENTION_JOBS_DAYS = 30
    post(operator, "try", try_body(github))
    post(operator, "try", try_body(github))
    run_worker()
    old, recent = ClaimJob.objects.order_by("pk")
    two_days = timezone.now() - datetime.timedelta(days=2)
    ClaimJob.objects.filter(pk=old.pk).update(created_at=two_days)
    # A dry run as old stays until RETENTION_JOBS_DAYS.
    dry_run = ClaimJob.objects.create(kind=ClaimJob.Kind.DRY_RUN, claim=None)
    ClaimJob.objects.filter(pk=dry_run.pk).update(created_at=two_days)

    call_command("prune_records", stdout=StringIO())

    assert set(ClaimJob.objects.values_list("pk", flat=True)) == {recent.pk, dry_run.pk}


def test_try_it_is_limited_per_staff_member(operator, editor, github, octo, settings):
    from claims.admin.builder import TRY_IT_LIMIT  # the limit the endpoint enforces

    for _ in range(TRY_IT_LIMIT):
        assert post(operator, "try", try_body(github)).status_code == 202
    problem = problem_of(post(operator, "try", try_body(github)), 429)
    assert "try again in" in problem
    assert ClaimJob.objects.count() == TRY_IT_LIMIT


def test_try_it_jobs_are_not_listed_among_the_dry_runs(operator, github, octo, admin_client):
    post(operator, "try", try_body(github))
    listing = admin_client.get(reverse("admin:claims_claimjob_changelist"))
    assert listing.status_code == 200
    assert b"try_it" not in listing.content and b"Try it" not in listing.content
    assert listing.context["cl"].result_count == 0


@pytest.mark.parametrize("name", ["members", "actions"])
def test_a_nul_in_a_query_is_a_400_not_a_database_error(operator, github, name):
    param = {"members": "q", "actions": "app"}[name]
    problem = problem_of(operator.get(url(name), {param: "gi\x00t"}), 400)
    assert "control characters" in problem

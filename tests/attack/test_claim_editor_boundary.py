"""Editing a claim is a permission boundary (issue 16).

A claims editor (a staff user in the "Claims editor" group the migrations create) may not
make a claim run a component that writes with members' credentials, nor read a host the
operator did not list; a row that names one anyway (saved before the list shrank, or
written straight to the database) is never sent to Pipedream. And what criteria read on
members' accounts is shown only to staff holding claims.view_member_values.

Pipedream is the sandbox over real HTTP. Every request the app sends is recorded where it
leaves (requests' HTTP adapter), so "never sent" is counted, not assumed. The sandbox is
taught one writing component, github-create-issue (a copy of github-get-current-user
under that key), so that only our lists stand between an editor and running it.
"""

import dataclasses
import re

import pytest
import requests
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils.html import escape

from claims.models import Claim, Completion, CompletionEvent, Requirement, TriggerDeployment
from sandbox.pipedream import components as pd_components
from tests.claims.admin_support import claim_form_data, form_errors, post_new_claim
from tests.claims.claims_support import add_check, run_worker
from tests.settings_support import run

pytestmark = pytest.mark.django_db(transaction=True)

WRITER = "github-create-issue"
# The login the sandbox derives for an account named so: the member's upstream value.
HANDLE = "valuehandle9"


@pytest.fixture
def sandbox_knows_a_writer(monkeypatch):
    reader = pd_components.COMPONENTS["github-get-current-user"]
    writer = dataclasses.replace(reader, key=WRITER, name="Create Issue")
    for registry in (pd_components.COMPONENTS, pd_components.ACTIONS):
        monkeypatch.setitem(registry, WRITER, writer)
    return writer


@pytest.fixture
def sent(monkeypatch):
    """(method, url) of every HTTP request the app sends, in order."""
    calls: list[tuple[str, str]] = []
    real_send = requests.adapters.HTTPAdapter.send

    def send(self, request, *args, **kwargs):
        calls.append((request.method, request.url))
        return real_send(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    return calls


def _staff(username: str, role: str):
    user = get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password=None, is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def editor_client(client):
    client.force_login(_staff("editor", "Claims editor"))
    return client


@pytest.fixture
def operator_client(client):
    client.force_login(_staff("operator", "Operator"))
    return client


def add(client, app, requirement=None, **fields):
    """The add form, posted with one requirement checking `app`'s account (its fields in
    `requirement`), the claim's own `fields` over the defaults."""
    check = {"path": "user.login", "comparison": "truthy", **(requirement or {})}
    return post_new_claim(client, app, requirement=check, enabled=False, **fields)


errors = form_errors


# --- Saving ------------------------------------------------------------------------------


def test_a_claims_editor_cannot_save_a_write_action(
    editor_client, apps, upstreams, sandbox_knows_a_writer, sent
):
    said = errors(add(editor_client, apps["github"], {"action": WRITER}))
    assert "CLAIMS_READ_COMPONENTS" in said["action"]
    assert not Claim.objects.exists()
    assert not Requirement.objects.exists()
    # Refused before Pipedream was even asked about the component.
    assert not [url for _, url in sent if WRITER in url]


def test_nobody_saves_a_write_action_not_even_a_superuser(
    admin_client, apps, upstreams, sandbox_knows_a_writer
):
    said = errors(add(admin_client, apps["github"], {"action": WRITER}))
    assert "CLAIMS_READ_COMPONENTS" in said["action"]
    assert not Claim.objects.exists()
    assert not Requirement.objects.exists()


def test_a_claims_editor_cannot_save_a_trigger_outside_the_list(editor_client, apps, upstreams):
    said = errors(
        add(
            editor_client,
            apps["github"],
            {"action": "github-get-current-user"},
            trigger="github-new-fork",
            trigger_app=apps["github"].pk,
        )
    )
    assert "github-new-fork is not among" in said["trigger"]
    assert "CLAIMS_READ_COMPONENTS" in said["trigger"]
    assert not Claim.objects.exists()


def test_a_claims_editor_cannot_save_a_proxy_url_on_a_host_outside_the_list(
    editor_client, apps, upstreams, settings
):
    settings.CLAIMS_PROXY_HOSTS = ("gitlab.com",)
    said = errors(add(editor_client, apps["github"], {"proxy_url": "https://api.github.com/user"}))
    assert "api.github.com is not among" in said["proxy_url"]
    assert "CLAIMS_PROXY_HOSTS" in said["proxy_url"]
    assert not Claim.objects.exists()
    assert not Requirement.objects.exists()


def test_a_claims_editor_saves_an_allowed_claim(editor_client, apps, upstreams):
    response = add(editor_client, apps["github"], {"action": "github-get-current-user"})
    assert response.status_code == 302, errors(response)
    [saved] = Claim.objects.get(slug="new").requirements.all()
    assert (saved.kind, saved.action) == ("action", "github-get-current-user")
    response = add(
        editor_client,
        apps["github"],
        {"proxy_url": "https://api.github.com/user", "path": "login"},
        slug="new-proxy",
    )
    assert response.status_code == 302, errors(response)
    [saved] = Claim.objects.get(slug="new-proxy").requirements.all()
    assert (saved.kind, saved.proxy_url) == ("proxy", "https://api.github.com/user")


# --- Calling -----------------------------------------------------------------------------


def _written_past_the_admin(make_claim, apps, check=None, **fields) -> Claim:
    """A claim saved without Claim.clean or Requirement.clean, as a shell, a fixture or an
    old row would: a requirement checking the member's GitHub account (its fields in
    `check`), the claim's own `fields`."""
    claim = make_claim(
        "direct", trigger_app=apps["github"] if fields.get("trigger") else None, **fields
    )
    add_check(
        claim, apps["github"], **{"path": "user.login", "comparison": "truthy", **(check or {})}
    )
    return claim


def test_a_write_action_written_to_the_database_is_never_run(
    apps, upstreams, make_claim, alice, connect, sandbox_knows_a_writer, sent, operator_client
):
    claim = _written_past_the_admin(make_claim, apps, {"action": WRITER})
    connect(alice, "github", HANDLE)
    run_worker()

    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "failed"
    errors_recorded = " ".join(
        str(details.get("error", ""))
        for details in CompletionEvent.objects.filter(completion=completion).values_list(
            "details", flat=True
        )
    )
    assert "CLAIMS_READ_COMPONENTS" in errors_recorded
    # The dry run says why too, and does not call it either.
    assert "CLAIMS_READ_COMPONENTS" in _dry_run_page(operator_client, claim.pk)
    assert not [url for _, url in sent if url.endswith("/actions/run") or WRITER in url]


def test_a_shrunk_host_list_stops_a_saved_proxy_criterion_before_the_call(
    apps, upstreams, make_claim, alice, connect, sent, settings
):
    claim = _written_past_the_admin(make_claim, apps, {"proxy_url": "https://api.github.com/user"})
    settings.CLAIMS_PROXY_HOSTS = ("gitlab.com",)
    connect(alice, "github", HANDLE)
    run_worker()

    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "failed"
    assert not [url for _, url in sent if "/proxy/" in url]


def test_a_proxy_criterion_only_ever_sends_a_get(apps, upstreams, make_claim, alice, connect, sent):
    claim = _written_past_the_admin(make_claim, apps, {"proxy_url": "https://api.github.com/user"})
    connect(alice, "github", HANDLE)
    run_worker()

    assert Completion.objects.get(claim=claim, member=alice).evidence
    proxied = [method for method, url in sent if "/proxy/" in url]
    assert proxied and set(proxied) == {"GET"}


def test_a_trigger_outside_the_list_is_never_deployed(
    apps, upstreams, make_claim, alice, connect, sent
):
    claim = _written_past_the_admin(
        make_claim, apps, {"action": "github-get-current-user"}, trigger="github-new-fork"
    )
    connect(alice, "github", HANDLE)
    run_worker()

    deployment = TriggerDeployment.objects.get(claim=claim, member=alice)
    assert deployment.status == "failed"
    assert "CLAIMS_READ_COMPONENTS" in deployment.error
    assert not [url for _, url in sent if "/triggers/deploy" in url or "github-new-fork" in url]


# --- Members' values ---------------------------------------------------------------------


@pytest.fixture
def ineligible(apps, upstreams, make_claim, alice, connect):
    """alice's completion, not eligible: the criterion read her login, HANDLE."""
    claim = _written_past_the_admin(
        make_claim,
        apps,
        {"action": "github-get-current-user", "comparison": "eq", "value": "somebody-else"},
    )
    connect(alice, "github", HANDLE)
    run_worker()
    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "ineligible"
    assert HANDLE in str(completion.evidence)  # what must not leak
    return completion


# The dry run's reason for alice, in words, and how many members it stopped.
NOT_MET_COUNTED = r"<td>not eligible: user\.login = somebody-else not met</td>\s*<td>1</td>"


def _dry_run_page(client, claim_id) -> str:
    """The claims list's Dry run: a job, run by the task worker, then its page."""
    started = client.post(
        reverse("admin:claims_claim_changelist"),
        {"action": "dry_run", ACTION_CHECKBOX_NAME: [claim_id], "index": 0},
    )
    assert started.status_code == 302
    run_worker()
    page = client.get(started.url)
    assert page.status_code == 200
    return page.text


def _pages(client, completion) -> str:
    pages = [_dry_run_page(client, completion.claim_id)]
    event = CompletionEvent.objects.filter(completion=completion).last()
    for url in (
        reverse("admin:claims_completion_change", args=[completion.pk]),
        reverse("admin:claims_completion_changelist"),
        reverse("admin:claims_completionevent_change", args=[event.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        pages.append(response.text)
    return "\n".join(pages)


def test_a_claims_editor_cannot_see_members_values(editor_client, ineligible):
    text = _pages(editor_client, ineligible)
    assert HANDLE not in text
    # Why the others would not is still there, in words, as a count of members.
    assert re.search(NOT_MET_COUNTED, text)
    assert "alice" not in text.split("</html>")[0]  # the dry run lists nobody by name
    assert "(hidden)" in text
    # Searching by the value would tell it too.
    found = editor_client.get(reverse("admin:claims_completion_changelist"), {"q": HANDLE})
    assert "0 completions" in found.text or "0 results" in found.text


def test_staff_who_may_view_the_ledger_but_not_values_do_not_see_them(client, ineligible):
    """The permission, not the group: view rights on claims and the ledger alone."""
    viewer = get_user_model().objects.create_user(
        username="viewer", email="viewer@example.com", password=None, is_staff=True
    )
    viewer.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="claims",
            codename__in=["view_claim", "view_completion", "view_completionevent"],
        )
    )
    client.force_login(viewer)
    text = _pages(client, ineligible)
    assert HANDLE not in text
    assert re.search(NOT_MET_COUNTED, text)


def test_support_sees_the_members_page_without_their_values(client, ineligible):
    """The member's page lists their completions: the reason there quotes the value."""
    client.force_login(_staff("support", "Support"))
    assert HANDLE in ineligible.reason  # what the inline would show as it was
    page = client.get(reverse("admin:users_user_change", args=[ineligible.member_id]))

    assert page.status_code == 200
    assert ineligible.claim.name in page.text  # the completion is listed
    # The account's own name (a login) is shown with the account; what the criterion
    # read is not: the reason reads as the member's sentence without its fact.
    assert escape(ineligible.reason) not in page.text
    assert "Have somebody-else as your GitHub login: Not met." in page.text
    assert f"yours is {HANDLE}" not in page.text


def test_an_operator_sees_members_values(operator_client, ineligible):
    text = _pages(operator_client, ineligible)
    assert HANDLE in text


def _dry_run(client, claim) -> str:
    return _dry_run_page(client, claim.pk)


def _count(text: str, cell: str) -> int:
    found = re.search(rf'class="dry-run-{cell}">(\d+)<', text)
    assert found, f"no {cell} total on the dry run page"
    return int(found.group(1))


def test_a_claims_editor_cannot_guess_a_value_one_dry_run_at_a_time(
    client, apps, upstreams, alice, bob, connect
):
    """Change the criterion to `contains <guess>`, dry-run, read who would qualify: each
    yes next to a name would confirm a guess at that member's value."""
    connect(alice, "github", HANDLE)
    connect(bob, "github", "otherlogin7")
    client.force_login(_staff("editor", "Claims editor"))
    check = {
        "kind": "action",
        "action": "github-get-current-user",
        "comparison": "eq",
        "value": "somebody-else",
    }
    created = add(client, apps["github"], check)
    assert created.status_code == 302, errors(created)
    claim = Claim.objects.get(slug="new")
    guess = HANDLE[:6]
    saved = client.post(
        reverse("admin:claims_claim_change", args=[claim.pk]),
        claim_form_data(
            claim,
            requirements=[
                {
                    **check,
                    "id": claim.requirements.get().pk,
                    "app": apps["github"],
                    "path": "user.login",
                    "comparison": "contains",
                    "value": guess,
                }
            ],
            trigger_props="{}",
        ),
    )
    assert saved.status_code == 302, errors(saved)

    text = _dry_run(client, claim)
    # Which member matched is nowhere on the page.
    assert "alice" not in text and "bob" not in text
    assert not re.search(r"<td>\s*(yes|no)\s*</td>", text)
    assert HANDLE not in text
    # The guess is right for one member, and the page says so only as totals: alice,
    # bob and the editor (no GitHub account) were evaluated.
    assert f"user.login contains {guess}" in text
    assert (_count(text, "members"), _count(text, "qualify")) == (3, 1)
    assert (_count(text, "not-met"), _count(text, "no-account"), _count(text, "errored")) == (
        1,
        1,
        0,
    )
    assert "“Can see members' upstream values”" in text

    # An operator, who may see members' values, still gets them member by member.
    client.force_login(_staff("operator", "Operator"))
    text = _dry_run(client, claim)
    assert re.search(r"<td>alice</td>\s*<td>yes</td>", text)
    assert re.search(r"<td>bob</td>\s*<td>no</td>", text)
    assert "dry-run-values-hidden" not in text


# --- Roles -------------------------------------------------------------------------------


def _codenames(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


@pytest.mark.django_db(transaction=False)
def test_migrate_makes_the_staff_roles_with_the_least_they_need():
    editor = _codenames("Claims editor")
    assert {"claims.add_claim", "claims.change_claim", "claims.view_claim"} <= editor
    assert {"claims.view_completion", "connections.view_app"} <= editor
    assert "claims.view_member_values" not in editor
    assert not {p for p in editor if p.startswith("users.")}
    assert "claims.change_completion" not in editor  # no Retry

    operator = _codenames("Operator")
    assert {
        "claims.view_member_values",
        "claims.change_completion",
        "connections.delete_connectedaccount",
        "connections.add_siteaccount",
        "users.view_user",
    } <= operator

    support = _codenames("Support")
    assert {
        "users.view_user",
        "connections.view_connectedaccount",
        "claims.view_completion",
        "claims.change_completion",
    } <= support
    assert "claims.view_member_values" not in support
    assert not {p for p in support if p.startswith("claims.") and "_claim" in p} - {
        "claims.view_claim"
    }

    for role in ("Operator", "Claims editor", "Support"):
        perms = _codenames(role)
        # Changing users edits their groups, permissions and superuser flag.
        assert not {"users.change_user", "users.add_user", "users.delete_user"} & perms
        assert not {p for p in perms if p.startswith("auth.")}


@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CLAIMS_READ_COMPONENTS", "github-get-current-user,GitHub Create Issue"),
        ("CLAIMS_PROXY_HOSTS", "api.github.com,https://evil.example/"),
        ("CLAIMS_PROXY_HOSTS", "*.github.com"),
    ],
)
@pytest.mark.own_process
def test_settings_refuse_a_malformed_entry(tmp_path, name, value):
    env = {
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "example.com",
        "CLAIM_SECRETS_KEYS": "k" * 40,
        name: value,
    }
    result = run(["check"], env, tmp_path)
    assert result.returncode != 0
    assert name in result.stderr
    assert "Traceback" not in result.stderr

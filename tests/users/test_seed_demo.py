"""`manage.py seed_demo`: the demo members and apps, and safe to run twice.

With the sandbox on it reads the demo file the sandbox's `sandbox_setup` writes; the
autouse fixture runs that first, as `make run` does.
"""

import io
import json

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError

from connections.models import App

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def demo_file(settings, tmp_path):
    """The sandbox's demo file, where the settings say, as `make run` leaves it."""
    settings.SANDBOX_DEMO_FILE = tmp_path / "sandbox-demo.json"
    call_command(
        "sandbox_setup",
        env_file=str(tmp_path / ".env"),
        demo_file=str(settings.SANDBOX_DEMO_FILE),
        stdout=io.StringIO(),
    )
    return settings.SANDBOX_DEMO_FILE


def seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seeds_members_admin_and_apps(django_user_model):
    output = seed()
    assert "Demo ready" in output
    for username in ("alice", "bob", "admin"):
        assert authenticate(username=username, password="connect-demo") is not None
    admin = django_user_model.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert not django_user_model.objects.get(username="alice").is_staff
    apps = list(App.objects.enabled().values_list("slug", flat=True))
    assert apps == ["github", "slack", "google_sheets", "discord", "gitlab", "notion"]
    github = App.objects.get(slug="github")
    assert github.name == "GitHub"
    assert github.image_url.startswith("http")


def test_running_twice_changes_nothing_and_keeps_a_changed_password(django_user_model):
    seed()
    alice = django_user_model.objects.get(username="alice")
    alice.set_password("alice-chose-this-one")
    alice.save()
    ids = sorted(django_user_model.objects.values_list("pk", "external_id"))
    seed()
    assert sorted(django_user_model.objects.values_list("pk", "external_id")) == ids
    assert django_user_model.objects.count() == 3
    assert App.objects.count() == 6
    assert authenticate(username="alice", password="alice-chose-this-one") is not None


def test_admin_choices_on_apps_are_refreshed_to_the_demo_state():
    seed()
    App.objects.filter(slug="slack").update(enabled=False, name="Renamed")
    seed()
    slack = App.objects.get(slug="slack")
    assert slack.enabled is True
    assert slack.name == "Slack"


def test_seeds_one_demo_claim_per_delivery_method_backed_by_the_bitbadges_sandbox():
    from claims.models import Claim
    from sandbox.bitbadges.models import BitBadgesClaim

    output = seed()
    claims = {claim.slug: claim for claim in Claim.objects.enabled()}
    assert {claim.delivery for claim in claims.values()} == {
        "bitbadges",
        "dynamic_store",
        "workflow",
    }
    stargazer = claims["stargazer"]  # the event-driven one
    assert stargazer.trigger == "github-new-star"
    assert [r.proxy_url for r in stargazer.requirements.all() if r.kind == "proxy"]
    for slug, claim in claims.items():
        assert f"claim {slug}" in output
        claim.full_clean()
        assert BitBadgesClaim.objects.filter(claim_id=claim.bitbadges_claim_id).exists()
    starter = claims["github-starter"]
    # A newcomer only has to connect GitHub: one account requirement, no check.
    assert [(r.app.slug, r.kind) for r in starter.requirements.all()] == [("github", "account")]
    assert starter.password() and starter.password() not in starter.password_encrypted
    assert claims["github-builders"].store_secret()


def test_demo_claims_are_not_duplicated_and_come_back_to_the_demo_state():
    from claims.models import Claim

    seed()
    Claim.objects.filter(slug="github-starter").update(enabled=False, name="Renamed")
    seed()
    assert Claim.objects.count() == 4
    starter = Claim.objects.get(slug="github-starter")
    assert starter.enabled and starter.name == "GitHub starter badge"


def test_without_the_sandbox_demo_claims_are_skipped(settings, monkeypatch):
    from claims.models import Claim
    from members.management.commands import seed_demo

    settings.SANDBOX = False
    monkeypatch.setattr(
        seed_demo.Command,
        "_apps_from_pipedream",
        lambda self: [{"name_slug": "github", "name": "GitHub"}],
    )
    output = seed()
    assert "Demo claims skipped" in output
    assert not Claim.objects.exists()


def test_demo_members_have_a_verified_primary_email(django_user_model):
    from allauth.account.models import EmailAddress

    seed()
    seed()  # twice: still one row each
    for username in ("alice", "bob", "admin"):
        user = django_user_model.objects.get(username=username)
        rows = list(EmailAddress.objects.filter(user=user))
        assert [(r.email, r.verified, r.primary) for r in rows] == [
            (f"{username}@example.com", True, True)
        ]


def assert_nothing_seeded(django_user_model):
    from claims.models import Claim

    assert not django_user_model.objects.exists()
    assert not App.objects.exists()
    assert not Claim.objects.exists()


def test_without_the_sandboxs_demo_file_it_says_what_to_run(demo_file, django_user_model):
    demo_file.unlink()
    with pytest.raises(CommandError, match=r"no demo file at .*manage\.py sandbox_setup"):
        seed()
    assert_nothing_seeded(django_user_model)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\xff not json", "is not valid JSON"),
        (b'{"format": ', "is not valid JSON"),
        (b"[1, 2]", "holds a list, not a JSON object"),
        (b'{"format": "something-else", "version": 1}', "its format is 'something-else'"),
    ],
    ids=["garbage", "cut-short", "a-list", "another-format"],
)
def test_a_garbage_demo_file_is_a_clear_error_and_nothing_is_written(
    demo_file, django_user_model, content, message
):
    demo_file.write_bytes(content)
    with pytest.raises(CommandError, match=message) as caught:
        seed()
    assert "sandbox_setup" in str(caught.value)
    assert_nothing_seeded(django_user_model)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda demo: demo.update(version=2), "version 2; this seed reads version 1"),
        (lambda demo: demo["claims"].pop("star"), "claims.star is missing"),
        (lambda demo: demo["claims"]["store-members"].pop("store_secret"), "store_secret"),
        (lambda demo: demo["claims"]["github-starter"].update(password=7), "password is missing"),
        (lambda demo: demo.update(apps={}), '"apps" is not a list'),
        (lambda demo: demo.update(apps=demo["apps"][:1]), "has no app slack"),
        (
            lambda demo: demo["claims"]["workflow-github"].update(workflow_url_path="x"),
            "does not start with /",
        ),
    ],
    ids=["version", "no-star", "no-store-secret", "bad-password", "apps", "apps-missing", "path"],
)
def test_a_malformed_demo_file_names_what_is_wrong_and_writes_nothing(
    demo_file, django_user_model, change, message
):
    demo = json.loads(demo_file.read_text())
    change(demo)
    demo_file.write_text(json.dumps(demo))
    with pytest.raises(CommandError, match=message):
        seed()
    assert_nothing_seeded(django_user_model)


def test_a_claim_this_site_refuses_rolls_everything_back(demo_file, django_user_model):
    demo = json.loads(demo_file.read_text())
    demo["claims"]["workflow-github"]["workflow_url_path"] = "/ not a url"
    demo_file.write_text(json.dumps(demo))
    with pytest.raises(CommandError, match="holds a claim this site refuses.*Nothing was changed"):
        seed()
    assert_nothing_seeded(django_user_model)


def test_an_oversized_demo_file_is_a_clear_error(demo_file, django_user_model):
    demo_file.write_text(" " * (1024 * 1024 + 1))
    with pytest.raises(CommandError, match="bytes, more than a demo file's"):
        seed()
    assert_nothing_seeded(django_user_model)


def test_a_directory_for_a_demo_file_is_a_clear_error(tmp_path, django_user_model):
    with pytest.raises(CommandError, match="is a directory"):
        seed("--demo-file", str(tmp_path))
    assert_nothing_seeded(django_user_model)


def test_a_demo_file_named_on_the_command_line_is_read_instead_of_the_settings_one(
    settings, demo_file, tmp_path
):
    from claims.models import Claim

    moved = tmp_path / "elsewhere.json"
    demo_file.rename(moved)
    output = seed("--demo-file", str(moved))
    assert "claim stargazer" in output
    assert Claim.objects.count() == 4
    workflow = Claim.objects.get(slug="github-workflow")
    assert workflow.workflow_url == settings.PUBLIC_URL + (
        "/sandbox/pipedream/workflows/en-sandbox-claim-github/"
    )


def test_it_queues_a_reading_of_every_demo_claims_life_and_badge(
    django_capture_on_commit_callbacks,
):
    from django_tasks_db.models import DBTaskResult

    from claims.models import Claim

    with django_capture_on_commit_callbacks(execute=True):
        output = seed()
    assert "read each claim's life and badge" in output
    (task,) = DBTaskResult.objects.filter(task_path="claims.tasks.claims_life_read_task")
    assert sorted(task.args_kwargs["args"][0]) == sorted(Claim.objects.values_list("pk", flat=True))

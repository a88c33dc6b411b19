"""`manage.py sandbox_setup`: the sandbox's demo upstream, its demo file, its credentials."""

import io
import json
import os
from pathlib import Path

import environ
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError

from sandbox.bitbadges.models import BitBadgesClaim, BitBadgesStore
from sandbox.credentials import SANDBOX_SETTINGS, SANDBOX_WORKFLOW_ENDPOINTS
from sandbox.demo import FORMAT
from tests.settings_support import run

pytestmark = pytest.mark.django_db

EXAMPLE = Path(django_settings.BASE_DIR) / ".env.example"
DEMO_CLAIM_IDS = {
    "5a4dbb0000000000000000000000a001",
    "5a4dbb0000000000000000000000a002",
    "5a4dbb0000000000000000000000a003",
    "5a4dbb0000000000000000000000a004",
}


@pytest.fixture
def env_file(tmp_path) -> Path:
    """A newcomer's .env: .env.example as `make run` copies it."""
    path = tmp_path / ".env"
    path.write_text(EXAMPLE.read_text())
    return path


@pytest.fixture
def demo_file(tmp_path) -> Path:
    return tmp_path / "sandbox-demo.json"


def setup(env_file: Path, demo_file: Path) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "sandbox_setup", "--env-file", str(env_file), "--demo-file", str(demo_file),
        stdout=out, stderr=err,
    )  # fmt: skip
    return out.getvalue(), err.getvalue()


def read_env(path: Path) -> dict[str, str]:
    """The file's values as the settings read them (django-environ), not os.environ."""

    class FileOnly(environ.Env):
        ENVIRON: dict = {}

    FileOnly.read_env(str(path))
    return FileOnly.ENVIRON


def test_a_newcomers_env_file_gets_the_sandboxs_credentials_and_the_demo(env_file, demo_file):
    before = env_file.read_text().splitlines()
    output, errors = setup(env_file, demo_file)

    values = read_env(env_file)
    for name, value in SANDBOX_SETTINGS.items():
        assert values[name] == value
    assert values["SANDBOX"] == "true"
    assert values["DEBUG"] == "true"  # the rest of the file is as it was
    after = env_file.read_text().splitlines()
    assert len(after) == len(before) + 5  # SANDBOX: a blank, 3 lines of comment, the line
    changed = [(old, new) for old, new in zip(before, after, strict=False) if old != new]
    assert changed == [  # the empty assignments are filled where they stand
        ("PIPEDREAM_CLIENT_ID=", "PIPEDREAM_CLIENT_ID=sandbox-client-id"),
        (
            "PIPEDREAM_CLIENT_SECRET=",
            "PIPEDREAM_CLIENT_SECRET=sandbox-client-secret-not-for-production",
        ),
        ("PIPEDREAM_PROJECT_ID=", "PIPEDREAM_PROJECT_ID=proj_sandbox"),
        (
            "PIPEDREAM_WORKFLOW_ENDPOINTS=",
            f"PIPEDREAM_WORKFLOW_ENDPOINTS={','.join(SANDBOX_WORKFLOW_ENDPOINTS)}",
        ),
        ("BITBADGES_API_KEY=", "BITBADGES_API_KEY=sandbox-bitbadges-api-key"),
        ("BITBADGES_CLIENT_ID=", "BITBADGES_CLIENT_ID=sandbox-bitbadges-client-id"),
        (
            "BITBADGES_CLIENT_SECRET=",
            "BITBADGES_CLIENT_SECRET=sandbox-bitbadges-client-secret-not-for-production",
        ),
        ("HOST_OIDC_CLIENT_ID=", "HOST_OIDC_CLIENT_ID=sandbox-host-client"),
        ("HOST_OIDC_CLIENT_SECRET=", changed[-1][1]),  # random: checked below
    ]
    # The sandbox's host-site provider issued this site a random secret of its own.
    assert changed[-1][1].startswith("HOST_OIDC_CLIENT_SECRET=") and len(changed[-1][1]) > 40
    assert after[-1] == "SANDBOX=true"
    assert "Wrote PIPEDREAM_CLIENT_ID, PIPEDREAM_CLIENT_SECRET" in output
    assert errors == ""

    demo = json.loads(demo_file.read_text())
    assert demo["format"] == FORMAT and demo["version"] == 1
    assert set(demo["claims"]) == {"github-starter", "store-members", "workflow-github", "star"}
    assert demo["claims"]["star"]["repo"] == "bitbadges/bitbadgesjs"
    assert demo["claims"]["workflow-github"]["workflow_url_path"].startswith("/sandbox/")
    github = next(app for app in demo["apps"] if app["name_slug"] == "github")
    assert github["name"] == "GitHub"
    assert set(BitBadgesClaim.objects.values_list("claim_id", flat=True)) == DEMO_CLAIM_IDS
    assert BitBadgesStore.objects.filter(
        dynamic_data_id=demo["claims"]["store-members"]["store_id"]
    ).exists()


def test_running_twice_changes_nothing(env_file, demo_file):
    setup(env_file, demo_file)
    env_text, demo_text = env_file.read_text(), demo_file.read_text()
    env_inode, demo_inode = env_file.stat().st_ino, demo_file.stat().st_ino
    output, _ = setup(env_file, demo_file)
    assert env_file.read_text() == env_text
    assert demo_file.read_text() == demo_text
    # not even rewritten
    assert (env_file.stat().st_ino, demo_file.stat().st_ino) == (env_inode, demo_inode)
    assert BitBadgesClaim.objects.count() == len(DEMO_CLAIM_IDS)
    assert BitBadgesStore.objects.count() == 1
    assert "Left" in output and "as it is" in output
    assert "up to date" in output


def test_a_stale_demo_file_is_written_afresh(env_file, demo_file):
    demo_file.write_text('{"left": "over"}')
    setup(env_file, demo_file)
    assert json.loads(demo_file.read_text())["format"] == FORMAT


def test_a_value_someone_set_is_kept_and_an_empty_one_filled_in(tmp_path, demo_file):
    env_file = tmp_path / "my.env"
    env_file.write_text(
        "# mine\n"
        "PIPEDREAM_CLIENT_ID=my-own-client\n"
        "export PIPEDREAM_PROJECT_ID=''\n"
        'BITBADGES_API_KEY=""\n'
        "SANDBOX=true\n"
    )
    output, errors = setup(env_file, demo_file)
    values = read_env(env_file)
    assert values["PIPEDREAM_CLIENT_ID"] == "my-own-client"
    assert values["PIPEDREAM_PROJECT_ID"] == "proj_sandbox"
    assert values["BITBADGES_API_KEY"] == "sandbox-bitbadges-api-key"
    assert values["PIPEDREAM_CLIENT_SECRET"] == SANDBOX_SETTINGS["PIPEDREAM_CLIENT_SECRET"]
    lines = env_file.read_text().splitlines()
    assert lines[:5] == [
        "# mine",
        "PIPEDREAM_CLIENT_ID=my-own-client",
        "export PIPEDREAM_PROJECT_ID=proj_sandbox",
        "BITBADGES_API_KEY=sandbox-bitbadges-api-key",
        "SANDBOX=true",
    ]
    assert lines.count("SANDBOX=true") == 1
    assert "Kept PIPEDREAM_CLIENT_ID" in errors and "refuses" in errors
    assert "Wrote PIPEDREAM_CLIENT_SECRET, PIPEDREAM_PROJECT_ID, BITBADGES_API_KEY" in output


@pytest.mark.parametrize(
    "value",
    [
        ",".join(reversed(SANDBOX_WORKFLOW_ENDPOINTS)),
        f"en123abc,{','.join(SANDBOX_WORKFLOW_ENDPOINTS)},eo-mine",
    ],
    ids=["reordered", "more-ids"],
)
def test_a_workflow_list_with_the_sandboxs_ids_is_kept_without_a_warning(
    tmp_path, demo_file, value
):
    env_file = tmp_path / ".env"
    env_file.write_text(f"PIPEDREAM_WORKFLOW_ENDPOINTS={value}\n")
    output, errors = setup(env_file, demo_file)
    assert read_env(env_file)["PIPEDREAM_WORKFLOW_ENDPOINTS"] == value
    assert errors == ""
    assert "Wrote PIPEDREAM_CLIENT_ID, PIPEDREAM_CLIENT_SECRET, PIPEDREAM_PROJECT_ID, " in output
    assert "PIPEDREAM_WORKFLOW_ENDPOINTS" not in output


def test_a_workflow_list_without_the_sandboxs_ids_is_kept_with_a_warning(tmp_path, demo_file):
    env_file = tmp_path / ".env"
    mine = f"en123abc,{','.join(SANDBOX_WORKFLOW_ENDPOINTS[1:])}"
    env_file.write_text(f"PIPEDREAM_WORKFLOW_ENDPOINTS={mine}\n")
    _, errors = setup(env_file, demo_file)
    assert read_env(env_file)["PIPEDREAM_WORKFLOW_ENDPOINTS"] == mine
    assert "Kept PIPEDREAM_WORKFLOW_ENDPOINTS in " in errors
    assert (
        f"it does not list the sandbox's {SANDBOX_WORKFLOW_ENDPOINTS[0]}, so the app will not "
        "call them" in " ".join(errors.split())
    )


def test_sandbox_set_to_anything_is_left_alone(tmp_path, demo_file):
    env_file = tmp_path / ".env"
    env_file.write_text("SANDBOX=yes\n")
    setup(env_file, demo_file)
    text = env_file.read_text()
    assert text.startswith("SANDBOX=yes\n")
    assert "SANDBOX=true" not in text


def test_a_missing_env_file_is_created_for_this_user_only(tmp_path, demo_file):
    env_file = tmp_path / "new.env"
    setup(env_file, demo_file)
    assert read_env(env_file)["PIPEDREAM_CLIENT_ID"] == "sandbox-client-id"
    assert env_file.stat().st_mode & 0o777 == 0o600


def test_an_existing_env_files_mode_is_kept(env_file, demo_file):
    env_file.chmod(0o640)
    setup(env_file, demo_file)
    assert env_file.stat().st_mode & 0o777 == 0o640


def test_the_default_env_file_is_the_one_the_settings_read(settings, tmp_path, env_file):
    settings.ENV_FILE = str(env_file)
    settings.SANDBOX_DEMO_FILE = tmp_path / "tmp" / "sandbox-demo.json"  # folder made
    call_command("sandbox_setup", stdout=io.StringIO())
    assert "PIPEDREAM_CLIENT_ID=sandbox-client-id" in env_file.read_text()
    assert json.loads(settings.SANDBOX_DEMO_FILE.read_text())["format"] == FORMAT


def assert_nothing_written(*paths: Path) -> None:
    for path in paths:
        assert not path.exists()
    assert not BitBadgesClaim.objects.exists()


def test_no_env_file_at_all_is_a_clear_error(settings, demo_file):
    settings.ENV_FILE = ""  # as in the test suite: no file
    with pytest.raises(CommandError, match="ENV_FILE is empty.*--env-file"):
        call_command("sandbox_setup", "--demo-file", str(demo_file))
    assert_nothing_written(demo_file)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing" / ".env", r"its folder .*missing does not exist"),
        (lambda tmp: tmp, r"is a directory; name a file with --env-file"),
    ],
    ids=["folder-missing", "a-directory"],
)
def test_a_bad_env_file_path_is_a_clear_error_and_nothing_is_written(
    tmp_path, demo_file, make, message
):
    with pytest.raises(CommandError, match=message):
        setup(make(tmp_path), demo_file)
    assert_nothing_written(demo_file)


def test_a_bad_demo_file_path_is_a_clear_error_and_nothing_is_written(env_file, tmp_path):
    text = env_file.read_text()
    with pytest.raises(CommandError, match=r"demo file .* its folder .*nowhere does not exist"):
        setup(env_file, tmp_path / "nowhere" / "demo.json")
    assert env_file.read_text() == text
    assert not BitBadgesClaim.objects.exists()


def test_an_unwritable_env_file_is_a_clear_error(env_file, demo_file, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda path, mode: False if Path(path) == env_file else real_access(path, mode),
    )
    with pytest.raises(CommandError, match="not readable and writable by this user"):
        setup(env_file, demo_file)
    assert_nothing_written(demo_file)


def test_an_env_file_that_is_not_text_is_a_clear_error(tmp_path, demo_file):
    env_file = tmp_path / ".env"
    env_file.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(CommandError, match="not UTF-8 text"):
        setup(env_file, demo_file)
    assert env_file.read_bytes() == b"\xff\xfe\x00binary"
    assert_nothing_written(demo_file)


def test_an_oversized_env_file_is_a_clear_error(tmp_path, demo_file):
    env_file = tmp_path / ".env"
    env_file.write_text("# padding\n" * 200_000)
    with pytest.raises(CommandError, match="bytes, not an env file"):
        setup(env_file, demo_file)
    assert_nothing_written(demo_file)


def test_a_newcomers_first_run_check_warns_before_and_is_clean_after(tmp_path):
    """`make run` on a fresh checkout: .env from .env.example, DEBUG on, no credentials.
    The sandbox is on, its check names the command; after it, `check` is clean."""
    env_file = tmp_path / ".env"
    env_file.write_text(EXAMPLE.read_text())
    environment = {"ENV_FILE": str(env_file), "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}
    before = run(["check"], environment, tmp_path)
    assert before.returncode == 0, before.stderr
    assert "sandbox.W001" in before.stderr and "manage.py sandbox_setup" in before.stderr

    setup(env_file, tmp_path / "sandbox-demo.json")
    after = run(["check"], environment, tmp_path)
    assert after.returncode == 0, after.stderr
    assert "sandbox.W001" not in after.stderr + after.stdout
    assert "no issues" in after.stdout

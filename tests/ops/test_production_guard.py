"""The sandbox and the demo stay out of production, and production's settings as
.env.example describes them pass `manage.py check --deploy` with nothing to report.

Settings are read once per process, so each case starts `manage.py` afresh.
"""

import re
import secrets

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command

from tests.settings_support import ROOT, run

PRODUCTION = {
    "SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "example.com",
    "CLAIM_SECRETS_KEYS": "k" * 40,
}


@pytest.mark.own_process
def test_the_sandbox_refuses_to_start_with_debug_off(tmp_path):
    result = run(["check"], {**PRODUCTION, "SANDBOX": "true"}, tmp_path)

    assert result.returncode != 0
    assert "SANDBOX is on while DEBUG is off" in result.stderr
    assert "ALLOW_SANDBOX_WITHOUT_DEBUG=true" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["false", "", "0"])
@pytest.mark.own_process
def test_only_a_true_allow_lets_the_sandbox_start_without_debug(tmp_path, value):
    env = {**PRODUCTION, "SANDBOX": "true", "ALLOW_SANDBOX_WITHOUT_DEBUG": value}
    result = run(["check"], env, tmp_path)

    assert result.returncode != 0
    assert "SANDBOX is on while DEBUG is off" in result.stderr


@pytest.mark.own_process
def test_the_named_setting_allows_the_sandbox_without_debug(tmp_path):
    env = {**PRODUCTION, "SANDBOX": "true", "ALLOW_SANDBOX_WITHOUT_DEBUG": "true"}
    result = run(["check"], env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "SANDBOX is on while DEBUG is off" not in result.stderr


@pytest.mark.own_process
def test_a_typo_in_the_allow_setting_is_named(tmp_path):
    env = {**PRODUCTION, "SANDBOX": "true", "ALLOW_SANDBOX_WITHOUT_DEBUG": "yes please"}
    result = run(["check"], env, tmp_path)

    assert result.returncode != 0
    assert "ALLOW_SANDBOX_WITHOUT_DEBUG must be true or false" in result.stderr


@pytest.mark.own_process
def test_the_sandbox_with_debug_on_needs_no_allow(tmp_path):
    result = run(["check"], {"DEBUG": "true", "SANDBOX": "true"}, tmp_path)

    assert "SANDBOX is on while DEBUG is off" not in result.stderr


@pytest.mark.django_db
def test_seed_demo_refuses_with_debug_off(settings, django_user_model):
    settings.DEBUG = False
    settings.ALLOW_SANDBOX_WITHOUT_DEBUG = False

    with pytest.raises(CommandError) as refused:
        call_command("seed_demo")

    assert "runs only with DEBUG on" in str(refused.value)
    assert "ALLOW_SANDBOX_WITHOUT_DEBUG=true" in str(refused.value)
    assert not django_user_model.objects.exists()


@pytest.mark.own_process
def test_seed_demo_refuses_in_a_production_process(tmp_path):
    """The command as an operator would type it, against a database of its own."""
    env = {
        **PRODUCTION,
        "SANDBOX": "false",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = run(["seed_demo"], env, tmp_path)

    assert result.returncode != 0
    assert "seed_demo makes the members alice, bob, admin" in result.stderr
    assert "Nothing was changed" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Demo ready" not in result.stdout


@pytest.mark.django_db
def test_the_sandbox_control_page_is_for_superusers_only(client, django_user_model):
    staff = django_user_model.objects.create_user(
        username="ops", password="connect-demo", is_staff=True
    )
    staff.user_permissions.set(Permission.objects.all())  # every permission, still not enough
    client.force_login(staff)

    assert client.get("/sandbox/").status_code == 403
    assert client.post("/sandbox/faults/add", {"endpoint": "pipedream.*"}).status_code == 403
    assert 'href="/sandbox/"' not in client.get("/").content.decode()

    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    assert client.get("/sandbox/").status_code == 200
    assert 'href="/sandbox/"' in client.get("/").content.decode()


def production_settings_from_env_example() -> dict[str, str]:
    """The variables .env.example's Production section sets, placeholders filled in."""
    text = (ROOT / ".env.example").read_text()
    section = text.split("# --- Production ---", 1)[1]
    values = {}
    for line in section.splitlines():
        found = re.fullmatch(r"# ([A-Z][A-Z0-9_]*)=(.*)", line)
        if found:
            name, value = found.groups()
            values[name] = re.sub(r"<[^>]*>", lambda _: secrets.token_hex(32), value)
    return values


@pytest.mark.own_process
def test_the_production_settings_of_env_example_pass_the_deploy_check(tmp_path):
    values = production_settings_from_env_example()
    assert values["DEBUG"] == "false"
    assert values["PUBLIC_URL"].startswith("https://")

    result = run(["check", "--deploy", "--fail-level", "WARNING"], values, tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.own_process
def test_the_deploy_check_does_warn_without_them(tmp_path):
    """The check above can fail: leave out the HSTS lines and it reports them."""
    values = production_settings_from_env_example()
    del values["SECURE_HSTS_SECONDS"]

    result = run(["check", "--deploy", "--fail-level", "WARNING"], values, tmp_path)

    assert result.returncode != 0
    assert "security.W004" in result.stderr

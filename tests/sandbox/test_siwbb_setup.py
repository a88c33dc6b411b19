"""Sign In with BitBadges in the sandbox: `manage.py sandbox_setup` registers this site's
app and writes its credentials into .env; the check and the admin."""

import io
from pathlib import Path

import environ
import pytest
from django.core import checks
from django.core.management import call_command

from sandbox.bitbadges import siwbb
from sandbox.bitbadges.models import SiwbbApp
from sandbox.credentials import SANDBOX_CREDENTIALS, SIWBB_SETTINGS

pytestmark = pytest.mark.django_db

CLIENT_ID = SANDBOX_CREDENTIALS["siwbb_client_id"]
SECRET = SANDBOX_CREDENTIALS["siwbb_client_secret"]


def setup(tmp_path: Path, env_text: str) -> tuple[Path, str, str]:
    env_file = tmp_path / ".env"
    env_file.write_text(env_text)
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "sandbox_setup", "--env-file", str(env_file), "--demo-file", str(tmp_path / "demo.json"),
        stdout=out, stderr=err,
    )  # fmt: skip
    return env_file, out.getvalue(), err.getvalue()


def read_env(path: Path) -> dict[str, str]:
    class FileOnly(environ.Env):
        ENVIRON: dict = {}

    FileOnly.read_env(str(path))
    return FileOnly.ENVIRON


def test_setup_registers_this_sites_app_and_writes_its_credentials(tmp_path, settings):
    settings.PUBLIC_URL = "http://127.0.0.1:8000"
    env_file, output, errors = setup(tmp_path, "DEBUG=true\nBITBADGES_CLIENT_ID=\n")
    app = SiwbbApp.objects.get()
    assert app.client_id == CLIENT_ID and app.name == "Connect & Claim"
    assert app.client_secret_hash == siwbb.sha256_hex(SECRET)
    assert app.redirect_uris == ["http://127.0.0.1:8000/auth/bitbadges/login/callback/"]
    values = read_env(env_file)
    assert values["BITBADGES_CLIENT_ID"] == CLIENT_ID  # filled in where it stood
    assert values["BITBADGES_CLIENT_SECRET"] == SECRET  # appended
    assert env_file.read_text().splitlines()[1] == f"BITBADGES_CLIENT_ID={CLIENT_ID}"
    assert "Sign In with BitBadges" in output and errors == ""

    # Twice: nothing changes. On another port: that callback is added, the first kept.
    text = env_file.read_text()
    setup(tmp_path, text)
    assert env_file.read_text() == text and SiwbbApp.objects.count() == 1
    settings.PUBLIC_URL = "http://127.0.0.1:8301"
    setup(tmp_path, text)
    assert SiwbbApp.objects.get().redirect_uris == [
        "http://127.0.0.1:8000/auth/bitbadges/login/callback/",
        "http://127.0.0.1:8301/auth/bitbadges/login/callback/",
    ]


def test_a_client_id_someone_set_is_kept_with_a_warning(tmp_path):
    env_file, _, errors = setup(
        tmp_path, "BITBADGES_CLIENT_ID=my-real-app\nBITBADGES_CLIENT_SECRET=mine\n"
    )
    values = read_env(env_file)
    assert (values["BITBADGES_CLIENT_ID"], values["BITBADGES_CLIENT_SECRET"]) == (
        "my-real-app",
        "mine",
    )
    assert "Kept BITBADGES_CLIENT_ID" in errors and "Kept BITBADGES_CLIENT_SECRET" in errors


def test_the_check_warns_only_about_another_apps_credentials(settings):
    def warnings():
        return [m for m in checks.run_checks(tags=["sandbox"]) if m.id == "sandbox.W003"]

    settings.BITBADGES_CLIENT_ID = ""
    settings.BITBADGES_CLIENT_SECRET = ""
    assert warnings() == []  # off
    for name, value in SIWBB_SETTINGS.items():
        setattr(settings, name, value)
    assert warnings() == []  # the sandbox's app
    settings.BITBADGES_CLIENT_ID = "someone-elses"
    [warning] = warnings()
    assert "BITBADGES_CLIENT_ID is not its developer app's" in warning.msg


def test_the_admin_shows_apps_but_never_a_secret(client, django_user_model):
    staff = django_user_model.objects.create_user(
        username="ops", password="connect-demo", is_staff=True, is_superuser=True
    )
    client.force_login(staff)
    app = siwbb.site_app_ensure("http://127.0.0.1:8000")
    listing = client.get("/admin/sandbox/siwbbapp/")
    change = client.get(f"/admin/sandbox/siwbbapp/{app.pk}/change/")
    assert listing.status_code == change.status_code == 200
    for page in (listing, change):
        text = page.content.decode()
        assert CLIENT_ID in text and "/auth/bitbadges/login/callback/" in text
        assert SECRET not in text and app.client_secret_hash not in text
    assert client.get("/admin/sandbox/siwbbapp/add/").status_code == 403
    for model in ("siwbbcode", "siwbbtoken"):
        assert client.get(f"/admin/sandbox/{model}/").status_code == 200

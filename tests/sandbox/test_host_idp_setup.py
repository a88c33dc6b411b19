"""The host provider set up for the product: `manage.py sandbox_setup` registers this site
and writes HOST_OIDC_CLIENT_ID / HOST_OIDC_CLIENT_SECRET into .env; the /sandbox/ page's
section (members, registered sites, discovery, id_token faults)."""

import io
from pathlib import Path

import environ
import pytest
from django.core.management import call_command

from sandbox.common.models import Fault
from sandbox.host import registry
from sandbox.host.models import HostClient, HostMember, sha256_hex

pytestmark = pytest.mark.django_db

CALLBACK = "/auth/oidc/host/login/callback/"


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


def test_setup_registers_this_site_and_writes_its_client_id_and_secret(
    tmp_path, settings, monkeypatch
):
    monkeypatch.delenv("HOST_OIDC_CLIENT_ID", raising=False)
    monkeypatch.delenv("HOST_OIDC_CLIENT_SECRET", raising=False)
    settings.PUBLIC_URL = "http://127.0.0.1:8000"
    env_file, output, errors = setup(tmp_path, "DEBUG=true\nHOST_OIDC_CLIENT_ID=\n")

    values = read_env(env_file)
    assert values["HOST_OIDC_CLIENT_ID"] == "sandbox-host-client"  # filled in where it stood
    assert env_file.read_text().splitlines()[1] == "HOST_OIDC_CLIENT_ID=sandbox-host-client"
    secret = values["HOST_OIDC_CLIENT_SECRET"]  # appended: random, long
    assert len(secret) >= 40
    client = HostClient.objects.get()
    assert client.client_id == "sandbox-host-client" and client.name == "Connect & Claim"
    assert client.client_secret_hash == sha256_hex(secret)
    assert client.redirect_uris == [f"http://127.0.0.1:8000{CALLBACK}"]
    assert set(HostMember.objects.values_list("username", flat=True)) == {"alice", "bob"}
    assert "Host sign-on: the sandbox's provider http://127.0.0.1:8000/sandbox/host" in output
    assert secret not in output + errors and errors == ""

    # Twice: nothing changes. On another port: that callback is added, the secret kept.
    text = env_file.read_text()
    setup(tmp_path, text)
    assert env_file.read_text() == text
    settings.PUBLIC_URL = "http://127.0.0.1:8301"
    setup(tmp_path, text)
    client = HostClient.objects.get()
    assert client.redirect_uris == [
        f"http://127.0.0.1:8000{CALLBACK}",
        f"http://127.0.0.1:8301{CALLBACK}",
    ]
    assert client.client_secret_hash == sha256_hex(secret)
    assert HostMember.objects.count() == 2


def test_a_secret_already_set_is_the_one_registered(tmp_path, monkeypatch):
    """A fresh database with the .env of yesterday: the client gets .env's secret."""
    monkeypatch.delenv("HOST_OIDC_CLIENT_SECRET", raising=False)
    monkeypatch.delenv("HOST_OIDC_CLIENT_ID", raising=False)
    env_file, _, errors = setup(
        tmp_path, "HOST_OIDC_CLIENT_ID=sandbox-host-client\nHOST_OIDC_CLIENT_SECRET='kept-one'\n"
    )
    assert HostClient.objects.get().client_secret_hash == sha256_hex("kept-one")
    assert read_env(env_file)["HOST_OIDC_CLIENT_SECRET"] == "kept-one" and errors == ""

    # The environment wins over .env in the settings, so it wins here too.
    monkeypatch.setenv("HOST_OIDC_CLIENT_SECRET", "from-the-environment")
    setup(tmp_path, env_file.read_text())
    assert HostClient.objects.get().client_secret_hash == sha256_hex("from-the-environment")


def test_another_providers_client_id_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.delenv("HOST_OIDC_CLIENT_ID", raising=False)
    env_file, output, _ = setup(
        tmp_path, "HOST_OIDC_CLIENT_ID=my-real-host\nHOST_OIDC_CLIENT_SECRET=mine\n"
    )
    values = read_env(env_file)
    assert (values["HOST_OIDC_CLIENT_ID"], values["HOST_OIDC_CLIENT_SECRET"]) == (
        "my-real-host",
        "mine",
    )
    assert not HostClient.objects.exists()
    assert "another provider's client" in output


@pytest.mark.one_database  # what the page says: no database engine changes it
def test_the_sandbox_page_shows_the_host_section(admin_client, settings):
    settings.PUBLIC_URL = "http://127.0.0.1:8000"
    registry.members_ensure()
    registry.site_client_ensure("http://127.0.0.1:8000", "very-secret-value")

    page = admin_client.get("/sandbox/")

    text = page.content.decode()
    assert page.status_code == 200
    assert "<h2>Host site (OpenID Connect)</h2>" in text
    discovery = "http://127.0.0.1:8000/sandbox/host/.well-known/openid-configuration"
    assert f'<a href="{discovery}">' in text
    assert "host-alice-0001" in text and "bob@community.example" in text
    assert "sandbox-host-client" in text and f"http://127.0.0.1:8000{CALLBACK}" in text
    assert "very-secret-value" not in text and sha256_hex("very-secret-value") not in text


def test_the_page_turns_an_id_token_fault_on(admin_client):
    response = admin_client.post(
        "/sandbox/host/faults/id-token", {"fault": "host.id_token.wrong_issuer"}
    )
    assert response.status_code == 302 and response["Location"].endswith("/sandbox/#host")
    fault = Fault.objects.get()
    assert fault.endpoint == "host.id_token.wrong_issuer" and fault.enabled

    bad = admin_client.post("/sandbox/host/faults/id-token", {"fault": "host.*"})
    assert bad.status_code == 302 and Fault.objects.count() == 1


def test_only_superusers_turn_faults_on(client, django_user_model):
    staff = django_user_model.objects.create_user("staffer", password="pw-12345678", is_staff=True)
    client.force_login(staff)
    response = client.post("/sandbox/host/faults/id-token", {"fault": "host.id_token.expired"})
    assert response.status_code == 403 and not Fault.objects.exists()


@pytest.mark.one_database  # what the page says: no database engine changes it
def test_an_id_token_fault_reads_as_what_it_does(admin_client):
    admin_client.post("/sandbox/host/faults/id-token", {"fault": "host.id_token.expired"})
    text = admin_client.get("/sandbox/").content.decode()
    assert "a 200 whose id_token is wrong in the way the note says" in text
    assert "Expired: exp an hour ago" in text
    assert "malformed JSON" not in Fault.objects.get().describe()

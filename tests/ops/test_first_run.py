"""`make run` on another port: the environment wins over .env, PUBLIC_URL follows HOST and
PORT, and a second run on another port leaves nothing pointing at the first.

`make run` is scripts/run_dev.py (the Makefile's run target calls it with HOST and PORT);
these run its steps as the Makefile does, in a subprocess with a .env of their own.
"""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from claims.models import Claim
from connections.models import App

ROOT = Path(__file__).resolve().parent.parent.parent
RUN_DEV = ROOT / "scripts" / "run_dev.py"
# A developer's shell: none of what the test run itself sets for these.
LEAKS = {"DEBUG", "ENV_FILE", "PUBLIC_URL", "HOST", "PORT", "DEFAULT_FROM_EMAIL"}


def run_dev(*args: str, env_file: Path, cwd: Path = ROOT, **environment: str):
    env = {key: value for key, value in os.environ.items() if key not in LEAKS}
    env.update(ENV_FILE=str(env_file), **environment)
    return subprocess.run(  # noqa: S603 (our script)
        [sys.executable, str(RUN_DEV), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.own_process
def test_the_processes_honcho_starts_see_the_environment_over_env(tmp_path):
    # What honcho would read by default: a .env in its folder (where the Procfile is).
    env_file = tmp_path / ".env"
    env_file.write_text(
        "PUBLIC_URL=http://127.0.0.1:1111\n"
        "DEFAULT_FROM_EMAIL=Connect & Claim <noreply@localhost>\n"
        "HOST=10.9.9.9\n"
    )
    query = (
        "import os; from django.conf import settings as s; "
        "print('URL=' + s.PUBLIC_URL); print('FROM=' + s.DEFAULT_FROM_EMAIL); "
        "print('BIND=' + os.environ['HOST'] + ':' + os.environ['PORT'])"
    )
    procfile = tmp_path / "Procfile"
    procfile.write_text(f'probe: python {ROOT / "manage.py"} shell --no-imports -c "{query}"\n')

    done = run_dev(
        "serve",
        "--procfile",
        str(procfile),
        "--port",
        "8765",
        env_file=env_file,
        cwd=tmp_path,
        PUBLIC_URL="http://127.0.0.1:2222",
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "URL=http://127.0.0.1:2222\n" in done.stdout  # the environment's
    assert "FROM=Connect & Claim <noreply@localhost>\n" in done.stdout  # spaces kept
    assert "BIND=127.0.0.1:8765\n" in done.stdout  # make run's HOST and PORT


@pytest.mark.parametrize(
    ("env_lines", "environment", "url", "said"),
    [
        # A fresh .env (.env.example leaves PUBLIC_URL unset): it follows PORT.
        ("", {"PORT": "8301"}, "http://127.0.0.1:8301", None),
        # A bind-all HOST gives a URL a browser opens.
        ("", {"HOST": "0.0.0.0", "PORT": "8302"}, "http://127.0.0.1:8302", None),  # noqa: S104
        ("", {}, "http://127.0.0.1:8000", None),
        # The line older `make run`s copied into every .env gives way, and says so.
        (
            "PUBLIC_URL=http://127.0.0.1:8000\n",
            {"PORT": "8301"},
            "http://127.0.0.1:8301",
            "Delete that line from .env",
        ),
        ("PUBLIC_URL=http://127.0.0.1:8000\n", {}, "http://127.0.0.1:8000", None),
        # A developer's own value is kept, with a warning when its port is not PORT's.
        (
            "PUBLIC_URL=http://localhost:9000\n",
            {"PORT": "8301"},
            "http://localhost:9000",
            "names port 9000, but this run serves on port 8301",
        ),
        ("PUBLIC_URL=https://my-tunnel.example.com\n", {}, "https://my-tunnel.example.com", None),
        # The environment wins over .env.
        (
            "PUBLIC_URL=http://127.0.0.1:8000\n",
            {"PUBLIC_URL": "http://127.0.0.1:8301", "PORT": "8301"},
            "http://127.0.0.1:8301",
            None,
        ),
    ],
)
@pytest.mark.own_process
def test_the_public_url_every_step_gets(tmp_path, env_lines, environment, url, said):
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=true\n" + env_lines)

    done = run_dev("public-url", env_file=env_file, **environment)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == url
    if said:
        assert said in done.stderr
    else:
        assert "PUBLIC_URL" not in done.stderr


@pytest.mark.own_process
def test_a_port_that_is_no_port_is_refused_clearly(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=true\n")
    done = run_dev("public-url", env_file=env_file, PORT="80o1")
    assert done.returncode == 1
    assert "PORT must be a port number (1-65535), not '80o1'." in done.stderr


@pytest.mark.django_db
def test_a_second_run_on_another_port_leaves_nothing_pointing_at_the_first(settings, tmp_path):
    """sandbox_setup then seed_demo, as make run calls them, under 8000 then 8301."""
    settings.SANDBOX_DEMO_FILE = tmp_path / "sandbox-demo.json"
    for port in (8000, 8301):
        # The settings as they load under `PORT=... make run` (the sandbox's URLs follow).
        settings.PUBLIC_URL = url = f"http://127.0.0.1:{port}"
        settings.PIPEDREAM_API_URL = settings.PIPEDREAM_CONNECT_URL = f"{url}/sandbox/pipedream"
        settings.BITBADGES_API_URL = f"{url}/sandbox/bitbadges"
        call_command("sandbox_setup", env_file=str(tmp_path / ".env"), stdout=io.StringIO())
        call_command("seed_demo", stdout=io.StringIO())

    workflow = Claim.objects.get(slug="github-workflow")
    assert workflow.workflow_url.startswith("http://127.0.0.1:8301/")
    logos = list(App.objects.values_list("image_url", flat=True))
    assert logos and all(logo.startswith("http://127.0.0.1:8301/") for logo in logos)
    assert ":8000" not in settings.SANDBOX_DEMO_FILE.read_text()

"""What production refuses or reports before serving (README, "Running it at scale"):
a cache that keeps nothing or is each process's own, a mailer that prints bearer links
into the logs or was never set. Settings refuse a console mailer outright; `manage.py
check --deploy` (config/checks.py) reports the rest, and gunicorn started with
deploy/gunicorn.conf.py refuses to start on the same findings.

Each case is a process of its own, with production's environment (DEBUG off, no sandbox).
"""

import os
import subprocess

import pytest

from deploy import edge
from tests.ops.edge_support import free_port
from tests.settings_support import ALL_VARS, ROOT, run

pytestmark = pytest.mark.own_process

PRODUCTION = {
    "SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "example.com",
    "CLAIM_SECRETS_KEYS": "k" * 40,
}
SMTP = {"EMAIL_URL": "smtp+tls://claims:pw@smtp.example.com:587"}
REDIS = {"CACHE_URL": "redis://127.0.0.1:6379/15"}


def test_a_console_mailer_is_refused_with_debug_off(tmp_path):
    result = run(["check"], {**PRODUCTION, "EMAIL_URL": "consolemail://"}, tmp_path)

    assert result.returncode != 0
    assert "EMAIL_URL is the console while DEBUG is off" in result.stderr
    assert "EMAIL_URL=smtp+tls://" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_console_mailer_is_left_to_development_and_the_sandbox(tmp_path):
    debug = run(["check"], {"DEBUG": "true", "EMAIL_URL": "consolemail://"}, tmp_path)
    sandbox = {**PRODUCTION, "SANDBOX": "true", "ALLOW_SANDBOX_WITHOUT_DEBUG": "true"}
    sandboxed = run(["check"], sandbox, tmp_path)

    assert debug.returncode == 0, debug.stderr
    assert sandboxed.returncode == 0, sandboxed.stderr


def test_the_deploy_check_names_the_cache_and_the_mailer(tmp_path):
    dummy = run(
        ["check", "--deploy"], {**PRODUCTION, **SMTP, "CACHE_URL": "dummycache://"}, tmp_path
    )
    # No CACHE_URL (each process's own) and no EMAIL_URL (localhost:25): warnings.
    unset = run(["check", "--deploy"], PRODUCTION, tmp_path)
    shared = run(["check", "--deploy"], {**PRODUCTION, **SMTP, **REDIS}, tmp_path)

    assert dummy.returncode != 0
    assert "config.E001" in dummy.stderr and "CACHE_URL=redis://" in dummy.stderr
    assert unset.returncode == 0, unset.stderr
    assert "config.W001" in unset.stderr and "config.E001" not in unset.stderr
    assert "config.W002" in unset.stderr and "EMAIL_URL=smtp+tls://" in unset.stderr
    assert shared.returncode == 0, shared.stderr
    assert "config." not in shared.stdout + shared.stderr


def _gunicorn(extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ALL_VARS}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update({"ENV_FILE": "", **PRODUCTION, **extra})
    command = edge.gunicorn_command(f"127.0.0.1:{free_port()}")
    try:
        return subprocess.run(  # noqa: S603 (the repository's gunicorn command)
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"gunicorn started:\n{exc.stdout}\n{exc.stderr}")


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ({**SMTP, "WEB_CONCURRENCY": "1", "CACHE_URL": "dummycache://"}, "The cache keeps nothing"),
        ({**REDIS, "WEB_CONCURRENCY": "1"}, "EMAIL_URL is not set"),
    ],
    ids=["dummy-cache-one-worker", "no-mailer"],
)
def test_gunicorn_refuses_what_the_deploy_check_reports(extra, said):
    result = _gunicorn(extra)
    output = result.stdout + result.stderr

    assert result.returncode != 0
    assert said in output, output
    assert "Booting worker" not in output
    assert "Traceback" not in output

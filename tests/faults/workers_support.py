"""Real `manage.py` processes against the test database, for the kill tests.

The subprocess gets the test run's environment plus a DATABASE_URL naming the test
database itself (on SQLite the file in DATABASES TEST NAME, on PostgreSQL test_<name>),
and the live_server's URLs for Pipedream and BitBadges, so it and the test see the same
rows and the same sandboxes.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connections

BASE_DIR = Path(settings.BASE_DIR)


def database_url() -> str:
    connection = connections["default"]
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    auth = quote(params["USER"] or "")
    if params["PASSWORD"]:
        auth += ":" + quote(params["PASSWORD"])
    return f"postgres://{auth}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{params['NAME']}"


def environment(live_url: str, **extra) -> dict:
    env = {
        **os.environ,
        "ENV_FILE": "",
        "DATABASE_URL": database_url(),
        "DEBUG": "false",
        "SANDBOX": "true",
        "PUBLIC_URL": live_url,
        "PIPEDREAM_API_URL": f"{live_url}/sandbox/pipedream",
        "PIPEDREAM_CONNECT_URL": f"{live_url}/sandbox/pipedream",
        "BITBADGES_API_URL": f"{live_url}/sandbox/bitbadges",
        "BITBADGES_TIMEOUT": "10",
        "PIPEDREAM_TIMEOUT": "10",
        "BITBADGES_MAX_RETRIES": "1",
        "PIPEDREAM_MAX_RETRIES": "1",
        "CLAIMS_POLL_INTERVAL": "0.1",
        "CLAIMS_POLL_DEADLINE": "10",
        "CLAIMS_RETRY_BASE": "1",
        "CLAIMS_RETRY_MAX": "5",
        "SANDBOX_FAULTS": "{}",
        "LOG_FORMAT": "plain",
        "ACCESS_LOG": "false",
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env


class Process:
    """A manage.py command in its own process; its output goes to a file kept for asserts."""

    def __init__(self, live_url: str, *args: str, **env):
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop())
            prefix="cc-faults-", suffix=".log", delete=False
        )
        self.args = args
        self.popen = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=environment(live_url, **env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is cleaned up, as when a host dies."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)
        self.killed_at = time.monotonic()

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
        os.unlink(self.log.name)

    def wait(self, timeout: float = 60) -> int:
        return self.popen.wait(timeout)


def let_held_requests_finish(processes: list[Process], *, longest_hold: float) -> None:
    """Wait until a request a killed process left inside the live server has finished.

    The server goes on with it after the client is gone (a held status poll still spends
    a BitBadges credit when it ends); finishing it inside this test keeps it out of the
    next one, which shares the live server.
    """
    killed = [p.killed_at for p in processes if getattr(p, "killed_at", None) is not None]
    if killed:
        time.sleep(max(0.0, max(killed) + longest_hold - time.monotonic()))


def db_worker(live_url: str, **env) -> Process:
    return Process(
        live_url,
        "db_worker",
        "--queue-name",
        "*",
        "--interval",
        "0.1",
        "--no-startup-delay",
        "--no-reload",
        "--verbosity",
        "0",
        **env,
    )


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.05):
    """Poll `predicate` until it is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"Timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def allow_on_hosted_page(link: str, name: str) -> list:
    """Press Allow on the sandbox's hosted Connect page for `link`, as a member would,
    and wait for the connection webhook it sends; returns the sandbox's deliveries."""
    import requests

    from sandbox.pipedream import webhooks as sandbox_webhooks

    answer = requests.post(
        link,
        data={"action": "allow", "name": name},
        headers={"Connection": "close"},
        timeout=10,
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.status_code
    return sandbox_webhooks.wait_for_deliveries()

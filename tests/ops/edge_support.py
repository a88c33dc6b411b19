"""The production layout's web side in processes of its own: nginx from deploy/nginx.conf
in front of gunicorn from deploy/gunicorn.conf.py, as deploy/edge.py starts them, but as
two processes the tests can stop one at a time. Every byte either writes is kept in files
of a temporary directory, for the tests that read the logs.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from django.conf import settings

from deploy import edge
from tests.faults.workers_support import database_url, wait_for

ROOT = Path(settings.BASE_DIR)
REDIS_URL = os.environ.get("EDGE_TEST_CACHE_URL", "redis://127.0.0.1:6379/15")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_missing() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return f"Redis is not reachable at {REDIS_URL} ({exc})"
    return None


def production_env(**extra: str) -> dict[str, str]:
    """The test run's environment as production's would be: DEBUG off, JSON logs with an
    access line per request, the test database, no .env."""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        {
            "ENV_FILE": "",
            "DEBUG": "false",
            "DATABASE_URL": database_url(),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "ACCESS_LOG": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


class Edge:
    """nginx on 127.0.0.1:<port> in front of gunicorn on a unix socket of its own.

    Its directory is under the repository's tmp/ and open to all (0755), not in pytest's
    0700 temporary directory: nginx started by root reads and writes as nobody.
    """

    def __init__(self):
        (ROOT / "tmp").mkdir(exist_ok=True)
        self.workdir = workdir = Path(tempfile.mkdtemp(prefix="edge-test-", dir=ROOT / "tmp"))
        workdir.chmod(0o755)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.socket = workdir / "app.sock"
        self.env = production_env(
            CACHE_URL=REDIS_URL,
            PUBLIC_URL=self.url,
            WEB_CONCURRENCY="2",
            TRUSTED_PROXY_COUNT="1",
            LOG_REQUEST_ID_HEADER="HTTP_X_REQUEST_ID",
        )
        self.app: subprocess.Popen | None = None
        self.proxy: subprocess.Popen | None = None
        self.logs = {
            name: workdir / f"{name}.log" for name in ("gunicorn", "nginx-access", "nginx-error")
        }
        self._files: list = []

    def _log(self, name: str):
        file = open(self.logs[name], "a")  # noqa: SIM115 (closed in stop())
        self._files.append(file)
        return file

    def start(self) -> "Edge":
        conf = edge.render_nginx(
            self.workdir / "nginx", listen=f"127.0.0.1:{self.port}", upstream=f"unix:{self.socket}"
        )
        self.proxy = edge.start_nginx(
            conf, self._log("nginx-error"), stdout=self._log("nginx-access"),
            start_new_session=True,
        )  # fmt: skip
        self.start_app()
        return self

    def start_app(self) -> None:
        log = self._log("gunicorn")
        self.app = subprocess.Popen(  # noqa: S603 (the repository's gunicorn command)
            edge.gunicorn_command(f"unix:{self.socket}"),
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._healthy, timeout=30, what=f"/healthz through nginx:\n{self.log_text()}")

    def _healthy(self) -> bool:
        assert self.app is not None and self.app.poll() is None, self.log_text()
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def stop_app(self) -> None:
        if self.app is not None:
            _stop(self.app)

    def stop(self) -> None:
        self.stop_app()
        if self.proxy is not None:
            _stop(self.proxy)
        time.sleep(0.1)  # the last redacted error lines
        for file in self._files:
            file.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_text(self) -> str:
        return "\n".join(
            f"--- {name}\n{path.read_text(errors='replace') if path.exists() else ''}"
            for name, path in self.logs.items()
        )

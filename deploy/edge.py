"""The web process of production: nginx on HOST:PORT in front of gunicorn on a unix socket.

    python deploy/edge.py

nginx (deploy/nginx.conf, filled in here) buffers requests and responses and drops slow
clients; gunicorn (deploy/gunicorn.conf.py) listens only on a socket in nginx's prefix,
tmp/edge-<PORT>/. Both run until either stops or this process is told to stop; then the
other is stopped too and the exit status is the first one's. nginx's error stream passes
through here and loses its request lines and upstream URLs, which hold paths and query
strings (password-reset keys among them).

Environment: HOST (0.0.0.0), PORT (8000), WEB_CONCURRENCY, WEB_THREADS, and
TRUSTED_PROXY_COUNT: 1 when unset (nginx); 2 or more means a balancer stands in front
and its X-Forwarded-Proto is passed on; otherwise nginx says what it saw itself.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
_VENV_GUNICORN = Path(sys.executable).parent / "gunicorn"
GUNICORN = str(_VENV_GUNICORN) if _VENV_GUNICORN.exists() else "gunicorn"

# nginx ends an error line with ", request: "...", upstream: "...", host: "...",
# referrer: "..."" (each optional); everything from the first of these is withheld.
_BEARERS = re.compile(r', (?:request|upstream|referrer|host): ".*$')


def redact(line: str) -> str:
    """An nginx error line without the request line, upstream URL, host or referrer."""
    return _BEARERS.sub(", request withheld", line)


def render_nginx(prefix: Path, *, listen: str, upstream: str, balancer: bool = False) -> Path:
    """deploy/nginx.conf filled in, written to prefix/nginx.conf; returns that path."""
    prefix.mkdir(parents=True, exist_ok=True)
    values = {
        "PREFIX": str(prefix.resolve()),
        "LISTEN": listen,
        "UPSTREAM": upstream,
        # The master only binds and opens files when started by root; its workers
        # (which read from clients) do not run as root.
        "USER": "user nobody nogroup;" if os.geteuid() == 0 else "",
        "FORWARDED_PROTO": "$http_x_forwarded_proto" if balancer else "$scheme",
    }
    text = (DEPLOY / "nginx.conf").read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise ValueError(f"deploy/nginx.conf has placeholders nobody fills in: {left}")
    conf = prefix / "nginx.conf"
    conf.write_text(text)
    return conf


def nginx_command(conf: Path) -> list[str]:
    return [NGINX, "-p", str(conf.parent), "-c", str(conf), "-e", "stderr"]


def gunicorn_command(bind: str) -> list[str]:
    return [GUNICORN, "config.wsgi", "-c", str(DEPLOY / "gunicorn.conf.py"), "--bind", bind]


def pass_redacted(source: IO[bytes], sink: IO[str]) -> threading.Thread:
    """Copy nginx's error stream to `sink`, line by line, redacted, in a thread."""

    def copy() -> None:
        for raw in source:
            sink.write(redact(raw.decode(errors="replace").rstrip("\n")) + "\n")
            sink.flush()

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    return thread


def start_nginx(conf: Path, sink: IO[str], **popen) -> subprocess.Popen:
    """nginx with this configuration; its error stream goes to `sink`, redacted."""
    process = subprocess.Popen(  # noqa: S603 (nginx with our configuration)
        nginx_command(conf), stderr=subprocess.PIPE, cwd=ROOT, **popen
    )
    assert process.stderr is not None
    pass_redacted(process.stderr, sink)
    return process


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def main() -> int:
    host = os.environ.get("HOST", "0.0.0.0")  # noqa: S104 (the public side)
    port = int(os.environ.get("PORT", "8000"))
    balancer = int(os.environ.get("TRUSTED_PROXY_COUNT", "0") or 0) >= 2
    prefix = ROOT / "tmp" / f"edge-{port}"
    socket = prefix / "app.sock"
    conf = render_nginx(prefix, listen=f"{host}:{port}", upstream=f"unix:{socket}",
                        balancer=balancer)  # fmt: skip
    stopping = threading.Event()

    def on_signal(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    env = dict(os.environ)
    if not env.get("TRUSTED_CLIENT_IP_HEADER") and int(env.get("TRUSTED_PROXY_COUNT") or 0) < 1:
        # gunicorn sees every request come from nginx over a socket without an address:
        # unless nginx is counted, every address-keyed limit would be one bucket.
        env["TRUSTED_PROXY_COUNT"] = "1"
    app = subprocess.Popen(gunicorn_command(f"unix:{socket}"), cwd=ROOT, env=env)  # noqa: S603
    proxy = start_nginx(conf, sys.stderr)
    first = None
    while not stopping.wait(0.5):
        first = next((p for p in (app, proxy) if p.poll() is not None), None)
        if first is not None:
            break
    for process in (proxy, app):
        _stop(process)
    return 0 if first is None else (first.returncode or 1)


if __name__ == "__main__":
    sys.exit(main())

"""The web process of production: nginx on HOST:PORT in front of gunicorn on a unix socket.

    python deploy/edge.py

nginx (deploy/nginx.conf, filled in here) buffers requests and responses and drops slow
clients; gunicorn (deploy/gunicorn.conf.py) listens only on a socket in nginx's prefix,
tmp/edge-<PORT>/. Both run until either stops or this process is told to stop; then the
other is stopped too and the exit status is the first one's. nginx's error stream passes
through here and loses its request lines and upstream URLs, which hold paths and query
strings (password-reset keys among them).

Environment: HOST (0.0.0.0), PORT (8000), WEB_CONCURRENCY, WEB_THREADS;
TRUSTED_PROXY_COUNT: 1 when unset (nginx), 2 or more when a balancer appending to
X-Forwarded-For stands in front; TRUSTED_CLIENT_IP_HEADER: the header such a balancer
sets to the client's address instead. Either needs EDGE_BALANCER_ADDRESSES, the
balancer's addresses or networks (comma-separated): nginx then answers only them (and
loopback's /healthz), takes the client's address and X-Forwarded-Proto from them alone,
and refuses everyone else (403). Without a balancer nginx is the edge and says what it
saw itself.
"""

import ipaddress
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


class EdgeConfigError(ValueError):
    """A setting of the edge that cannot be served as it is: the message says what to set."""


def balancer_settings(environ: dict[str, str]) -> dict:
    """The keyword arguments of render_nginx for a balancer, read from the environment.

    {} without one. A balancer declared (TRUSTED_PROXY_COUNT >= 2 or
    TRUSTED_CLIENT_IP_HEADER) without EDGE_BALANCER_ADDRESSES, or the other way round,
    is refused: any client reaching nginx directly could then choose its address.
    """
    raw_count = (environ.get("TRUSTED_PROXY_COUNT") or "0").strip()
    count = int(raw_count) if raw_count.isascii() and raw_count.isdigit() else 0
    header = (environ.get("TRUSTED_CLIENT_IP_HEADER") or "").strip()
    if header and not re.fullmatch(r"[A-Za-z0-9-]{1,64}", header):
        raise EdgeConfigError(
            f"TRUSTED_CLIENT_IP_HEADER must be a header name such as X-Real-IP, not {header!r}."
        )
    addresses = []
    for entry in (environ.get("EDGE_BALANCER_ADDRESSES") or "").split(","):
        if entry.strip():
            try:
                addresses.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
            except ValueError:
                raise EdgeConfigError(
                    "EDGE_BALANCER_ADDRESSES must list addresses or networks, comma-separated "
                    f"(such as 10.0.0.0/8,192.0.2.7), not {entry.strip()!r}."
                ) from None
    if count >= 3 and not header:
        raise EdgeConfigError(
            f"TRUSTED_PROXY_COUNT={count} means two or more proxies before nginx: nginx's own "
            "limits would then count the outer proxy's address, shared by every client "
            "behind it. Put one balancer in front (TRUSTED_PROXY_COUNT=2), or have the "
            "outermost proxy set a header with the client's address and name it in "
            "TRUSTED_CLIENT_IP_HEADER."
        )
    declared = count >= 2 or bool(header)
    if declared and not addresses:
        raise EdgeConfigError(
            "A balancer is declared (TRUSTED_PROXY_COUNT >= 2 or TRUSTED_CLIENT_IP_HEADER) "
            "but EDGE_BALANCER_ADDRESSES is unset: a client reaching nginx directly could "
            "choose the address every limit counts. Set EDGE_BALANCER_ADDRESSES to the "
            "balancer's addresses or network (such as 10.0.0.0/8)."
        )
    if addresses and not declared:
        raise EdgeConfigError(
            "EDGE_BALANCER_ADDRESSES names a balancer: set TRUSTED_PROXY_COUNT=2 if it "
            "appends to X-Forwarded-For, or TRUSTED_CLIENT_IP_HEADER to the header it sets."
        )
    if not addresses:
        return {}
    return {"balancers": addresses, "client_ip_header": header or None}


def render_nginx(
    prefix: Path,
    *,
    listen: str,
    upstream: str,
    balancers: list[str] | tuple[str, ...] = (),
    client_ip_header: str | None = None,
) -> Path:
    """deploy/nginx.conf filled in, written to prefix/nginx.conf; returns that path.

    With `balancers` (addresses or networks, checked by balancer_settings), nginx
    answers only them, and takes the client's address from `client_ip_header` or else
    from the last entry of their X-Forwarded-For.
    """
    prefix.mkdir(parents=True, exist_ok=True)
    if balancers:
        realip = [f"    set_real_ip_from {address};" for address in balancers]
        realip += [
            f"    real_ip_header {client_ip_header or 'X-Forwarded-For'};",
            "    real_ip_recursive off;",
        ]
        # Loopback may ask /healthz (a local supervisor), unless it is the balancer.
        local = [a for a in ("127.0.0.1/32", "::1/128") if a not in balancers]
        peers = ["default none;", *(f"{a} local;" for a in local)]
        peers += [f"{address} balancer;" for address in balancers]
    else:
        realip, peers = [], ["default open;"]
    values = {
        "PREFIX": str(prefix.resolve()),
        "LISTEN": listen,
        "UPSTREAM": upstream,
        # The master only binds and opens files when started by root; its workers
        # (which read from clients) do not run as root.
        "USER": "user nobody nogroup;" if os.geteuid() == 0 else "",
        "REALIP": "\n".join(realip),
        "PEERS": "\n".join(f"        {line}" for line in peers),
        "FORWARDED_PROTO": "$edge_balancer_proto" if balancers else "$scheme",
        # The header Django reads, rewritten from what the realip module accepted: the
        # balancer's value, or the peer's own address when it sent none.
        "CLIENT_IP_HEADER": (
            f"        proxy_set_header {client_ip_header} $remote_addr;"
            if balancers and client_ip_header
            else ""
        ),
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
    try:
        balancer = balancer_settings(dict(os.environ))
    except EdgeConfigError as exc:
        print(f"Cannot start the edge: {exc}", file=sys.stderr)
        return 2
    prefix = ROOT / "tmp" / f"edge-{port}"
    socket = prefix / "app.sock"
    conf = render_nginx(prefix, listen=f"{host}:{port}", upstream=f"unix:{socket}", **balancer)
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

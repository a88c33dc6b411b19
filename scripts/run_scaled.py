"""`make run-scaled`: the same app laid out as production lays it out, on one machine.

PostgreSQL (DATABASE_URL) and Redis (CACHE_URL) instead of SQLite and local memory;
nginx on HOST:PORT in front of gunicorn (2 worker processes of 4 threads, on a unix
socket of nginx's prefix, tmp/edge-<port>/: deploy/edge.py) instead of runserver, with
TRUSTED_PROXY_COUNT=1 so that address-keyed limits see the client's address from
nginx's X-Forwarded-For; 2 `db_worker` processes taking
tasks with SELECT ... FOR UPDATE SKIP LOCKED; a scheduler running what cron would run
(complete_claims, recheck_claims). DEBUG is off, logs are JSON, static files are served
by whitenoise from `collectstatic`. The sandbox plays Pipedream and BitBadges. Emails
are written one file each into tmp/mail-scaled/ (--mail-dir), never printed: their links
are keys.

Secrets for this layout are made once and kept in .env.scaled (not committed), so that
sessions and the claims' encrypted secrets survive a restart. The sandbox's own
`sandbox_setup` writes its credentials there too, and hands `seed_demo` the demo's
parameters through a demo file of this layout's own (tmp/sandbox-demo.scaled.json).
"""

import argparse
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from ensure_database import ensure  # noqa: E402

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/connect_claim_scaled"
DEFAULT_CACHE = "redis://127.0.0.1:6379/1"


def _env_file(path: Path) -> None:
    if path.exists():
        return
    path.write_text(
        "# Made by `make run-scaled` for its own use; keep it out of version control.\n"
        f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
        f"CLAIM_SECRETS_KEYS={secrets.token_urlsafe(40)}\n"
    )
    path.chmod(0o600)
    print(f"Created {path.name} with this layout's secrets.")


def _shown(url: str) -> str:
    """A database URL fit to print: without its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def _read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (comments and blank lines skipped), as honcho reads them."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def _redis_reachable(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return f"Cannot reach Redis at {url}: {exc}"
    return None


def _email_url(mail_dir: Path) -> str:
    """The caller's EMAIL_URL unless it prints to the console; else files in mail_dir."""
    chosen = os.environ.get("EMAIL_URL", "").strip()
    if chosen and not chosen.startswith("consolemail:"):
        return chosen
    mail_dir.mkdir(parents=True, exist_ok=True)
    return f"filemail:///{mail_dir.resolve()}"


def _mail_shown(url: str) -> str:
    if url.startswith("filemail:"):
        return "one file each in " + url.split("://", 1)[1].replace("//", "/", 1)
    return _shown(url)


def _nginx_missing() -> str | None:
    if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
        return None
    return "nginx is not installed: `sudo apt-get install nginx-light` (Debian) puts it in front."


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--database-url", default=os.environ.get("SCALED_DATABASE_URL", DEFAULT_DATABASE)
    )
    parser.add_argument("--cache-url", default=os.environ.get("SCALED_CACHE_URL", DEFAULT_CACHE))
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--task-workers", type=int, default=2, help="db_worker processes")
    parser.add_argument("--env-file", type=Path, default=ROOT / ".env.scaled")
    parser.add_argument(
        "--mail-dir", type=Path, default=ROOT / "tmp" / "mail-scaled",
        help="where each email is written, one file each (not printed: they carry keys)",
    )  # fmt: skip
    parser.add_argument("--fresh", action="store_true", help="drop the database first")
    parser.add_argument(
        "--schedule-every", type=int, default=60, help="seconds between scheduler runs"
    )
    args = parser.parse_args(argv)
    if args.web_workers < 1 or args.task_workers < 1 or args.schedule_every < 1:
        parser.error("--web-workers, --task-workers and --schedule-every must be at least 1")

    problem = _nginx_missing() or _redis_reachable(args.cache_url)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    try:
        if ensure(args.database_url, fresh=args.fresh):
            print("Created the database.")
    except Exception as exc:  # psycopg's errors name the host and what failed
        print(f"Cannot prepare PostgreSQL at {_shown(args.database_url)}: {exc}", file=sys.stderr)
        return 1
    _env_file(args.env_file)

    public_url = f"http://{args.host}:{args.port}"
    env = {
        **os.environ,
        # The layout's own secrets win over whatever the caller's shell holds, for the
        # setup steps below as for the processes honcho starts from the same file.
        **_read_env_file(args.env_file),
        "ENV_FILE": str(args.env_file),
        "DEBUG": "false",
        "SANDBOX": "true",
        # Said openly: the sandbox and the demo's known passwords with DEBUG off, on a
        # machine of the developer's own (settings refuse both otherwise).
        "ALLOW_SANDBOX_WITHOUT_DEBUG": "true",
        "SANDBOX_DEMO_FILE": str(ROOT / "tmp" / "sandbox-demo.scaled.json"),
        "DATABASE_URL": args.database_url,
        "CACHE_URL": args.cache_url,
        "PUBLIC_URL": public_url,
        "ALLOWED_HOSTS": f"{args.host},localhost,127.0.0.1",
        # Emails carry bearer links (resets, confirmations, Connect links): one file each
        # in the mail folder, never printed into the processes' output.
        "EMAIL_URL": _email_url(args.mail_dir),
        "HOST": args.host,
        "PORT": str(args.port),
        "WEB_CONCURRENCY": str(args.web_workers),
        # nginx (deploy/edge.py) is the one proxy of this site's own in front of gunicorn;
        # its X-Request-ID is the one Django logs.
        "TRUSTED_PROXY_COUNT": "1",
        "LOG_REQUEST_ID_HEADER": "HTTP_X_REQUEST_ID",
        "SCHEDULE_EVERY": str(args.schedule_every),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    # The sandbox's sandbox_setup writes its credentials into this layout's env file
    # (where missing) and the demo's parameters (the apps' logo URLs need the collected
    # static files) into the demo file seed_demo reads; the steps after it read what it
    # wrote. The steps before it skip the checks: the sandbox's would ask for them.
    for step in (
        ["migrate", "--no-input", "-v", "0", "--skip-checks"],
        ["collectstatic", "--no-input", "-v", "0", "--skip-checks"],
        ["sandbox_setup", "--env-file", str(args.env_file)],
        ["seed_demo"],
    ):
        subprocess.run([*manage, *step], env=env, cwd=ROOT, check=True)  # noqa: S603 (our manage.py)
        env.update(_read_env_file(args.env_file))
    print(
        f"\n  Connect & Claim, scaled out: {public_url}/   (alice / connect-demo; admin / "
        f"connect-demo)\n  nginx in front of {args.web_workers} gunicorn processes, "
        f"{args.task_workers} task "
        f"workers, PostgreSQL {args.database_url.rsplit('/', 1)[-1]}, Redis {args.cache_url}\n"
        f"  Emails (reset and confirmation links): {_mail_shown(env['EMAIL_URL'])}\n",
        flush=True,
    )
    honcho = str(Path(sys.executable).parent / "honcho")
    # honcho reads an env file over the environment: by default the development .env
    # (DEBUG on, another PUBLIC_URL), which must not leak in. This layout's own instead.
    command = [
        honcho, "start", "-f", str(ROOT / "Procfile.scaled"), "-e", str(args.env_file),
        "-c", f"worker={args.task_workers}",
    ]  # fmt: skip
    os.chdir(ROOT)
    os.execve(honcho, command, env)  # noqa: S606 (honcho from our venv)


if __name__ == "__main__":
    sys.exit(main())

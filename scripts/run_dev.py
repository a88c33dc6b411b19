"""`make run`: migrate, the sandbox's setup, the demo data, then web + task worker (honcho).

Every step sees the same HOST, PORT and PUBLIC_URL. PUBLIC_URL is what the settings make
of the environment and .env (the environment wins; unset with DEBUG on, it is
http://HOST:PORT), worked out once here and handed to every step, and to both processes
honcho starts (honcho gives each process type its own PORT, so the task worker could not
work it out itself).

honcho is started with no env file at all: its own .env parsing would put .env over the
environment and mangle values with spaces (DEFAULT_FROM_EMAIL). The settings read .env
themselves, under the environment.

    python scripts/run_dev.py                  the whole of `make run`
    python scripts/run_dev.py public-url       only print the PUBLIC_URL the steps get
    python scripts/run_dev.py serve [-f FILE]  only the last step: honcho on Procfile.dev
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the virtual environment's bin (not resolved: a symlink)
# What `make run` wrote into every .env before PUBLIC_URL followed PORT.
OLD_DEFAULT = "http://127.0.0.1:8000"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}  # noqa: S104 (compared, not bound)

SETTINGS_QUERY = """
import json
from django.conf import settings
from config import settings as module
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "SANDBOX": settings.SANDBOX,
    "PUBLIC_URL": settings.PUBLIC_URL,
    "DEVELOPMENT_URL": module._dev_public_url,
}))
"""


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def _settings(env: dict[str, str]) -> dict:
    """The settings the steps will read, from a `manage.py shell` with `env`."""
    done = subprocess.run(  # noqa: S603 (our manage.py)
        [sys.executable, str(ROOT / "manage.py"), "shell", "--no-imports", "-c", SETTINGS_QUERY],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit("The settings do not load (see above): fix .env or the environment.")
    return json.loads(done.stdout.strip().splitlines()[-1])


def public_url(env: dict[str, str]) -> tuple[dict, list[str]]:
    """The settings, with the PUBLIC_URL every step gets, and what to tell the developer.

    A PUBLIC_URL set in the environment or edited in .env is kept. The one line older
    `make run`s wrote into every .env (PUBLIC_URL=http://127.0.0.1:8000) is a leftover, not
    a choice: with another PORT it gives way to http://HOST:PORT.
    """
    found = _settings(env)
    url, port = found["PUBLIC_URL"], int(env["PORT"])
    notes = []
    if "PUBLIC_URL" not in env and url == OLD_DEFAULT and port != 8000:
        found["PUBLIC_URL"] = found["DEVELOPMENT_URL"]
        notes.append(
            f"Note: .env says PUBLIC_URL={OLD_DEFAULT}, the line older `make run`s wrote; this "
            f"run serves on port {port}, so it uses {found['PUBLIC_URL']}. Delete that line "
            "from .env: unset, PUBLIC_URL follows HOST and PORT."
        )
    elif urlsplit(url).hostname in LOCAL_HOSTS | {env["HOST"]} and _port(url) != port:
        where = "the environment" if "PUBLIC_URL" in env else ".env"
        notes.append(
            f"Warning: PUBLIC_URL={url} (from {where}) names port {_port(url)}, but this run "
            f"serves on port {port}: logos, Connect and the links in emails will point there. "
            f"Remove PUBLIC_URL from {where} to follow HOST and PORT, or set the one you mean."
        )
    return found, notes


def serve(env: dict[str, str], procfile: Path) -> None:
    """honcho on `procfile`, reading no env file: the environment, as given, is theirs."""
    honcho = str(BIN / "honcho")
    command = [honcho, "start", "--env", os.devnull, "--procfile", str(procfile)]
    os.execve(honcho, command, env)  # noqa: S606 (honcho from our venv)


def _environment(args: argparse.Namespace) -> dict[str, str]:
    if not args.port.isdigit() or not 0 < int(args.port) < 65536:
        raise SystemExit(f"PORT must be a port number (1-65535), not {args.port!r}.")
    return {
        **os.environ,
        "HOST": args.host,
        "PORT": args.port,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", nargs="?", choices=["all", "public-url", "serve"], default="all")
    parser.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1")
    parser.add_argument("--port", default=os.environ.get("PORT") or "8000")
    parser.add_argument("-f", "--procfile", type=Path, default=ROOT / "Procfile.dev")
    args = parser.parse_args(argv)
    env = _environment(args)
    if args.step == "serve":
        serve(env, args.procfile)

    found, notes = public_url(env)
    for note in notes:
        print(f"\n  {note}\n", file=sys.stderr, flush=True)
    env["PUBLIC_URL"] = found["PUBLIC_URL"]
    if args.step == "public-url":
        print(found["PUBLIC_URL"])
        return 0

    manage = [sys.executable, str(ROOT / "manage.py")]
    # migrate skips the checks: the sandbox's would ask for what sandbox_setup then writes.
    steps = [["migrate", "--no-input", "--skip-checks"]]
    if found["SANDBOX"]:
        steps.append(["sandbox_setup"])
    steps.append(["seed_demo"])
    for step in steps:
        print(f"manage.py {' '.join(step)}", flush=True)
        if subprocess.run([*manage, *step], env=env, cwd=ROOT).returncode != 0:  # noqa: S603
            return 1
    here = found["DEVELOPMENT_URL"]  # where this run serves, as a browser here opens it
    banner = (
        f"\n  Connect & Claim: {here}/   (log in as alice / connect-demo; admin / connect-demo)"
    )
    if found["PUBLIC_URL"] != here:
        banner += f"\n  Its links say PUBLIC_URL={found['PUBLIC_URL']}"
    print(banner + "\n", flush=True)
    os.chdir(ROOT)
    serve(env, args.procfile)
    return 0  # not reached: serve() becomes honcho


if __name__ == "__main__":
    sys.exit(main())

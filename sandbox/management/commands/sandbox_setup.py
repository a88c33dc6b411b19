"""`manage.py sandbox_setup`: the sandbox's demo and credentials, ready for the product.

`make run` calls it when the sandbox is on, after `migrate` and before `seed_demo`:

1. It creates the demo's upstream in the emulated BitBadges (the demo claims, their
   dynamic store, the stargazers' claim) where missing: sandbox/demo.py.
2. It writes the demo's upstream parameters (the catalogue's apps, the claims' ids,
   passwords, store id and secret, the workflow's URL path) as JSON to the demo file
   (--demo-file, default settings.SANDBOX_DEMO_FILE), which `manage.py seed_demo` reads.
   The format is in sandbox/demo.py.
3. It registers this site's developer app in the emulated BitBadges (Sign In with
   BitBadges: the sandbox's client ID and secret, redirect URI
   PUBLIC_URL/auth/bitbadges/login/callback/, added to those it had).
4. It registers this site as a client of the host site's OpenID Connect provider
   (sandbox/host/: client `sandbox-host-client`, redirect URI
   PUBLIC_URL/auth/oidc/host/login/callback/, added to those it had) with the secret the
   env file (or the environment) already holds, or a new random one, and makes its
   members alice and bob where missing.
5. It writes the sandbox's credentials into the env file (--env-file, default the one the
   settings read: ENV_FILE, else .env beside manage.py) for each of PIPEDREAM_CLIENT_ID,
   PIPEDREAM_CLIENT_SECRET, PIPEDREAM_PROJECT_ID, BITBADGES_API_KEY, BITBADGES_CLIENT_ID,
   BITBADGES_CLIENT_SECRET, HOST_OIDC_CLIENT_ID and HOST_OIDC_CLIENT_SECRET that is
   missing or empty there, and the sandbox's workflow endpoint ids as
   PIPEDREAM_WORKFLOW_ENDPOINTS, plus SANDBOX=true when SANDBOX is (a client ID turns the
   sandbox's default off). A value someone set is never changed; a list of endpoints is
   fine in any order and with more ids, and gets a warning only when it leaves out some
   of the sandbox's. A HOST_OIDC_CLIENT_ID naming another client is left alone, and the
   sandbox's provider then registers nothing for it.

Safe to run again: the second run finds everything in place and changes nothing. Each
file is replaced whole (written beside it, then renamed), never left half-written.
"""

import json
import os
import re
import secrets
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sandbox.bitbadges.siwbb import site_app_ensure
from sandbox.credentials import LIST_SETTINGS, SANDBOX_SETTINGS, SIWBB_SETTINGS, missing_entries
from sandbox.demo import demo_ensure
from sandbox.host.registry import SITE_CLIENT_ID, members_ensure, site_client_ensure
from sandbox.host.server import issuer

# One assignment, as django-environ's read_env matches it; the last one of a name wins.
ASSIGNMENT = re.compile(r"\A(?P<export>export )?(?P<name>[A-Za-z_0-9]+)=(?P<value>.*)\Z")
ENV_FILE_MAX_BYTES = 1024 * 1024  # an env file is a few KB; more is the wrong file
ENV_FILE_HEADER = (
    "# The sandbox's own credentials, written by `manage.py sandbox_setup` (make run). They\n"
    "# open nothing real. For a real Pipedream project and BitBadges key and app, put yours\n"
    "# in their place and set SANDBOX=false."
)


HOST_CLIENT_ID = "HOST_OIDC_CLIENT_ID"
HOST_CLIENT_SECRET = "HOST_OIDC_CLIENT_SECRET"  # noqa: S105 (a setting's name)


def env_values(host: dict[str, str] | None = None) -> dict[str, str]:
    """What the env file should hold for the product to use the sandbox (`host`: the host
    sign-on client's id and secret, when the sandbox's provider is used)."""
    return {**SANDBOX_SETTINGS, **SIWBB_SETTINGS, **(host or {}), "SANDBOX": "true"}


def env_file_value(text: str, name: str) -> str:
    """The value the env file gives `name` (its last assignment, unquoted), or ""."""
    value = ""
    for line in text.splitlines():
        match = ASSIGNMENT.match(line)
        if match and match["name"] == name:
            value = _unquoted(match["value"]).strip()
    return value


def _unquoted(value: str) -> str:
    for quote in ("'", '"'):
        if len(value) >= 2 and value[0] == value[-1] == quote:
            return value[1:-1]
    return value


def env_text_update(text: str, wanted: dict[str, str]) -> tuple[str, list[str], dict[str, str]]:
    """`text` with each name of `wanted` that is missing or empty set to its value.

    Returns the new text, the names written, and the names kept with the value they keep.
    An empty assignment is filled in where it stands; a missing one is appended.
    """
    lines = text.splitlines()
    last = {}
    for index, line in enumerate(lines):
        match = ASSIGNMENT.match(line)
        if match and match["name"] in wanted:
            last[match["name"]] = (index, match)
    written, kept, appended = [], {}, []
    for name, value in wanted.items():
        index, match = last.get(name, (None, None))
        if match is not None and _unquoted(match["value"]).strip():
            kept[name] = _unquoted(match["value"])
            continue
        if match is None:
            appended.append(f"{name}={value}")
        else:
            lines[index] = f"{match['export'] or ''}{name}={value}"
        written.append(name)
    if appended:
        if lines and lines[-1].strip():
            lines.append("")
        lines += [*ENV_FILE_HEADER.splitlines(), *appended]
    return ("\n".join(lines) + "\n" if lines else ""), written, kept


def _shown(path: Path) -> str:
    """The path as a person reads it: relative to the project when inside it."""
    try:
        return str(path.relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(path)


def _writable_file(path: Path, what: str, option: str) -> Path:
    """`path` resolved, or a CommandError saying why it cannot be written."""
    path = path.expanduser().resolve()
    if path.is_dir():
        raise CommandError(f"The {what} {path} is a directory; name a file with {option}.")
    folder = path.parent
    if not folder.is_dir():
        state = "is not a folder" if folder.exists() else "does not exist"
        raise CommandError(
            f"Cannot write the {what} {path}: its folder {folder} {state}. "
            f"Create it, or name another file with {option}."
        )
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise CommandError(
            f"Cannot write the {what} {path}: it is not readable and writable by this user."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CommandError(
            f"Cannot write the {what} {path}: its folder {folder} is not writable by this user "
            "(the file is replaced whole, through a new file beside it)."
        )
    return path


def _text_or_none(path: Path) -> str | None:
    """The file's text, or None when there is none to compare with."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _replace(path: Path, text: str, what: str) -> None:
    """Write `text` to `path` whole: into a new file beside it, then rename it over it."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(temporary, mode)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise CommandError(f"Cannot write the {what} {path}: {exc.strerror or exc}.") from exc


class Command(BaseCommand):
    help = (
        "Create the sandbox's demo upstream (BitBadges claims, store, star claim, this site's "
        "BitBadges app, its client at the host site's provider), write its parameters to the demo file seed_demo reads, and write the "
        "sandbox's credentials "
        "into the env file where they are missing or empty. Safe to run again."
    )
    # The credentials check (sandbox.W001) would warn about what this command fixes.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--env-file",
            type=Path,
            help="The env file to write the sandbox's credentials into. Default: the one the "
            "settings read (ENV_FILE, else .env beside manage.py).",
        )
        parser.add_argument(
            "--demo-file",
            type=Path,
            help="Where to write the demo's upstream parameters for seed_demo. Default: "
            "settings.SANDBOX_DEMO_FILE (tmp/sandbox-demo.json).",
        )

    def handle(self, *args, env_file=None, demo_file=None, **options):
        # Paths, or strings when called as call_command(..., env_file="...").
        env_path = self._env_path(Path(env_file) if env_file else None)
        demo_path = self._demo_path(Path(demo_file) if demo_file else None)
        env_text = self._env_text(env_path)

        demo = demo_ensure()
        self.stdout.write(
            f"Sandbox demo ready: BitBadges claims {', '.join(demo['claims'])} "
            f"and {len(demo['apps'])} catalogue apps."
        )
        demo_text = json.dumps(demo, indent=2) + "\n"
        if _text_or_none(demo_path) == demo_text:
            self.stdout.write(f"The demo's parameters in {_shown(demo_path)} are up to date.")
        else:
            _replace(demo_path, demo_text, "demo file")
            self.stdout.write(f"Wrote the demo's parameters for seed_demo to {_shown(demo_path)}.")
        app = site_app_ensure(settings.PUBLIC_URL)
        self.stdout.write(
            f"Sign In with BitBadges: the sandbox's app {app.client_id} may send members back "
            f"to {', '.join(app.redirect_uris)}."
        )
        self._env_write(env_path, env_text, self._host_client(env_text))

    def _host_client(self, env_text: str) -> dict[str, str]:
        """Register this site at the host's provider with the secret already set (the
        environment's wins, as it does in the settings), else a new one: the env values."""
        members = ", ".join(member.username for member in members_ensure())
        client_id = os.environ.get(HOST_CLIENT_ID) or env_file_value(env_text, HOST_CLIENT_ID)
        if client_id and client_id != SITE_CLIENT_ID:
            self.stdout.write(
                f"Host sign-on: {HOST_CLIENT_ID} is {client_id}, another provider's client: "
                "left as it is, and the sandbox's provider registers nothing for it."
            )
            return {}
        secret = (
            os.environ.get(HOST_CLIENT_SECRET)
            or env_file_value(env_text, HOST_CLIENT_SECRET)
            or secrets.token_urlsafe(32)
        )
        client = site_client_ensure(settings.PUBLIC_URL, secret)
        self.stdout.write(
            f"Host sign-on: the sandbox's provider {issuer()} (Sandbox Community, members "
            f"{members}) has client {client.client_id}, which may send members back to "
            f"{', '.join(client.redirect_uris)}."
        )
        return {HOST_CLIENT_ID: SITE_CLIENT_ID, HOST_CLIENT_SECRET: secret}

    def _env_path(self, option: Path | None) -> Path:
        if option is None:
            if not settings.ENV_FILE:
                raise CommandError(
                    "ENV_FILE is empty, so there is no env file to write the sandbox's "
                    "credentials into: name one with --env-file."
                )
            option = Path(settings.ENV_FILE)
        return _writable_file(option, "env file", "--env-file")

    def _demo_path(self, option: Path | None) -> Path:
        if option is None:
            option = Path(settings.SANDBOX_DEMO_FILE)
            try:  # the default folder (tmp/, which git ignores) is missing on a fresh checkout
                option.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CommandError(
                    f"Cannot make the folder of SANDBOX_DEMO_FILE {option}: "
                    f"{exc.strerror or exc}. Set SANDBOX_DEMO_FILE or --demo-file to a file "
                    "in a folder this user may write."
                ) from exc
        return _writable_file(option, "demo file", "--demo-file")

    def _env_text(self, path: Path) -> str:
        """The env file's text ("" when it does not exist yet), read before anything changes."""
        if not path.exists():
            return ""
        try:
            size = path.stat().st_size
            if size > ENV_FILE_MAX_BYTES:
                raise CommandError(
                    f"The env file {path} is {size} bytes, not an env file of KEY=value lines; "
                    "name the right one with --env-file."
                )
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise CommandError(
                f"The env file {path} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                "name the right one with --env-file."
            ) from exc
        except OSError as exc:
            raise CommandError(f"Cannot read the env file {path}: {exc.strerror or exc}.") from exc

    def _env_write(self, path: Path, text: str, host: dict[str, str]) -> None:
        wanted = env_values(host)
        new_text, written, kept = env_text_update(text, wanted)
        shown = _shown(path)
        if written:
            _replace(path, new_text, "env file")
            self.stdout.write(
                f"Wrote {', '.join(written)} to {shown}: the sandbox's own values, for every "
                "process Django starts from now on."
            )
        for name, value in kept.items():
            expected = wanted[name]
            if name in LIST_SETTINGS:
                self._warn_missing_entries(shown, name, value)
                continue
            if value == expected or name == "SANDBOX":
                continue
            self.stderr.write(
                self.style.WARNING(
                    f"Kept {name} in {shown}: it is set to another value than the sandbox's, "
                    "which the sandbox refuses. Empty it to have the sandbox's written."
                )
            )
        if not written:
            self.stdout.write(f"Left {shown} as it is: it sets every one of {', '.join(kept)}.")

    def _warn_missing_entries(self, shown: str, name: str, value: str) -> None:
        """A list the developer set is kept; it only needs the sandbox's entries among its own."""
        missing = missing_entries(name, value)
        if missing:
            self.stderr.write(
                self.style.WARNING(
                    f"Kept {name} in {shown}: it does not list the sandbox's {', '.join(missing)}, "
                    "so the app will not call them. Add them to it, or empty it to have the "
                    "sandbox's written."
                )
            )

"""Reading the environment for the settings: one `environ.Env()`, the .env file, and
the strict readers the settings modules share (config/settings.py, settings_limits.py).
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# ENV_FILE names another file, or none at all when empty (the test suite does that).
ENV_FILE = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    env.read_env(ENV_FILE)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """A strict boolean: a typo such as DEBUG=ture is an error, not a silent False."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def rate_limit(name: str, default: str) -> tuple[int, int]:
    """A "count/seconds" setting, e.g. 10/60, as (count, seconds)."""
    raw = env.str(name, default=default)
    try:
        count, seconds = (int(part) for part in raw.split("/"))
        if min(count, seconds) < 1:
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be count/seconds such as {default}, not {raw!r}."
        ) from None
    return count, seconds


def days(name: str, default: int) -> int:
    raw = env.str(name, default=str(default)).strip()
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 36500):
        raise ImproperlyConfigured(
            f"{name} must be a whole number of days from 1 to 36500, not {raw!r}."
        )
    return int(raw)

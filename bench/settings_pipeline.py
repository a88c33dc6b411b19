"""bench.settings plus the sandbox timings the Claims pipeline benchmark sets and prints.

The BitBadges sandbox reads these from settings only; this makes them environment
variables for the benchmark's processes (gunicorn serving the sandbox, the workers).
"""

import os

from bench.settings import *  # noqa: F403

SANDBOX_BITBADGES_ATTEMPT_DELAY = float(os.environ.get("SANDBOX_BITBADGES_ATTEMPT_DELAY", "1.0"))
SANDBOX_BITBADGES_STORE_LAG = float(os.environ.get("SANDBOX_BITBADGES_STORE_LAG", "1.5"))

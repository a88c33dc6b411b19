"""Settings for the benchmarks: the production settings, plus two things for bench/ only.

* ROOT_URLCONF is bench.urls: the site's URLs and one trivial logged-in view, the
  baseline the Pages benchmark compares against (never a URL of the real site).
* Static files are collected into the run's temp dir (BENCH_STATIC_ROOT), not into
  the checkout, since DEBUG is off and whitenoise serves them from a manifest.
"""

import os

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

if os.environ.get("BENCH_STATIC_ROOT"):
    STATIC_ROOT = os.environ["BENCH_STATIC_ROOT"]

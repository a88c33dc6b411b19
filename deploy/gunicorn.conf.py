"""gunicorn behind the repository's nginx (deploy/nginx.conf; README, "Running it at scale").

Passed with `-c deploy/gunicorn.conf.py` by deploy/edge.py; kept out of the repository's
root on purpose, where gunicorn would load it for every server started from there (the
benchmarks' and the tests' included).

nginx buffers whole requests and responses and times slow clients out, so a worker only
ever talks to nginx; threads let one slow upstream call (Pipedream, BitBadges) hold one
thread rather than a whole process.
"""

import os
import sys

worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
# A request that takes longer than this is stuck: its worker is restarted. nginx's
# proxy_read_timeout is a little longer, so nginx answers 504 rather than hanging.
timeout = 30
graceful_timeout = 10
keepalive = 5
# No access log: the request line holds paths and query strings, and paths hold keys
# (password resets, e-mail confirmations). Django writes one line per request with the
# URL pattern instead (config/observability.py); nginx one without the path.
accesslog = None
errorlog = "-"
# Several servers may run on one machine (the benchmarks, the tests): no shared
# control socket in ~/.gunicorn.
control_socket_disable = True


def on_starting(server):
    """Refuse to serve, with DEBUG off, on a cache that keeps nothing, on a cache of each
    process's own with several workers, or with EMAIL_URL unset.

    Rate limits, allauth's attempt counters and the OAuth state live in the cache: the
    dummy cache turns every limit off, and with a local-memory cache every worker would
    keep counts of its own, the limits multiplied by the number of workers. Emails carry
    the reset and confirmation links (settings refuse a console mailer outright). The
    same findings are `manage.py check --deploy`'s (config/checks.py), for a gunicorn
    started without this file. Task workers and manage.py are not web servers and are
    not refused.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        from config.checks import cache_findings, cache_kind, mail_findings

        debug = settings.DEBUG
        backend = settings.CACHES["default"]["BACKEND"]
        cache = cache_findings()
        mail = mail_findings()
    except ImproperlyConfigured as exc:
        sys.exit(f"Cannot start the web server: {exc}")
    count = server.cfg.workers
    if debug:
        return
    if cache_kind() == "dummy":
        sys.exit(f"Refusing to start the web server: {cache[0].msg} {cache[0].hint}")
    if cache_kind() == "locmem" and count > 1:
        sys.exit(
            f"Refusing to start {count} web workers with a cache of each process's own "
            f"({backend}): rate limits and sign-in state would not be shared between them. "
            "Set CACHE_URL to a shared cache, such as CACHE_URL=redis://127.0.0.1:6379/1, "
            "or run a single worker (WEB_CONCURRENCY=1)."
        )
    if mail:
        sys.exit(f"Refusing to start the web server: {mail[0].msg} {mail[0].hint}")

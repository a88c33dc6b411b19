"""Settings for what comes from outside: how often, how long kept, and from where.

Star-imported by config/settings.py; every variable is listed in `.env.example`.
"""

import re

from django.core.exceptions import ImproperlyConfigured

from config.environment import days, env, rate_limit

# --- Connecting: return visits, emailed links, a page's wait for upstreams ------------

# Visits to /connect/done/ and /connect/callback/ ("count/seconds"), per member and per
# session reference; past either, 429 with Retry-After and nothing asked upstream.
CONNECT_RETURN_RATE_LIMIT = rate_limit("CONNECT_RETURN_RATE_LIMIT", "30/60")
CONNECT_RETURN_SESSION_RATE_LIMIT = rate_limit("CONNECT_RETURN_SESSION_RATE_LIMIT", "10/60")
# Hours an emailed Connect link works at most (it stops once it has connected an
# account): 72 spans a weekend between the email and the click, and a forwarded or
# leaked link soon dies. A link asked for with a longer life gets this one.
CONNECT_EMAILED_LINK_HOURS = env.int("CONNECT_EMAILED_LINK_HOURS", default=72)
# Seconds a web request may spend on upstream calls, retries and backoff included; below
# gunicorn's 30 s worker timeout, so the page answers 503 + Retry-After instead of dying.
WEB_UPSTREAM_BUDGET = env.float("WEB_UPSTREAM_BUDGET", default=20.0)
# Per web process and upstream: calls waiting at once (one more waits up to QUEUE_WAIT
# seconds, then gets a 503), and seconds after a timeout during which pages get a 503
# at once instead of waiting on it again (0: never). Task workers are not limited.
WEB_UPSTREAM_CONCURRENCY = env.int("WEB_UPSTREAM_CONCURRENCY", default=3)
WEB_UPSTREAM_QUEUE_WAIT = env.float("WEB_UPSTREAM_QUEUE_WAIT", default=1.0)
WEB_UPSTREAM_BREAKER_SECONDS = env.float("WEB_UPSTREAM_BREAKER_SECONDS", default=10.0)
if not 0 < WEB_UPSTREAM_BUDGET < 30 or CONNECT_EMAILED_LINK_HOURS < 1:
    raise ImproperlyConfigured(
        "WEB_UPSTREAM_BUDGET must be between 0 and 30 seconds (gunicorn's worker timeout), "
        "and CONNECT_EMAILED_LINK_HOURS at least 1."
    )

# --- Retention and webhook limits (claims/retention.py, connections/webhooks.py) ------


# Days before `manage.py prune_records` (hourly) removes: refused deliveries (connection
# webhooks, trigger deliveries; kept as a digest and size); a processed delivery's raw body
# (the row stays); any stored delivery (never before its body); the values read upstream
# in a settled completion's evidence (the ledger row stays).
RETENTION_REFUSED_DAYS = days("RETENTION_REFUSED_DAYS", 7)
RETENTION_BODY_DAYS = days("RETENTION_BODY_DAYS", 14)
RETENTION_DELIVERY_DAYS = max(days("RETENTION_DELIVERY_DAYS", 90), RETENTION_BODY_DAYS)
RETENTION_EVIDENCE_DAYS = days("RETENTION_EVIDENCE_DAYS", 365)
# A claim job (an admin's dry run) and its rows, after this many days.
RETENTION_JOBS_DAYS = days("RETENTION_JOBS_DAYS", 30)
# Connection webhooks per window, "count/seconds", per Connect session and per member:
# Pipedream sends one event per session, retried on failure. Past either: 429 with
# Retry-After, nothing stored or queued.
CONNECT_WEBHOOK_RATE_LIMIT = rate_limit("CONNECT_WEBHOOK_RATE_LIMIT", "10/3600")
CONNECT_WEBHOOK_MEMBER_RATE_LIMIT = rate_limit("CONNECT_WEBHOOK_MEMBER_RATE_LIMIT", "30/3600")
# Refused deliveries (connection webhooks and trigger deliveries, each counted apart)
# recorded per window, "count/seconds": per client address, and for the whole site (an
# attacker with many addresses). Past either, the delivery gets the same refusal but is
# not stored (logged once per window), so a flood of forged deliveries adds few rows.
WEBHOOK_REFUSED_RATE_LIMIT = rate_limit("WEBHOOK_REFUSED_RATE_LIMIT", "60/60")
WEBHOOK_REFUSED_SITE_RATE_LIMIT = rate_limit("WEBHOOK_REFUSED_SITE_RATE_LIMIT", "300/60")
# Days before `manage.py prune_records` deletes a Connect session that has ended
# (connected, failed or expired) and that no stored delivery names any more. Never less
# than an emailed link lives (CONNECT_EMAILED_LINK_HOURS): its sessions tell it was used.
RETENTION_SESSION_DAYS = max(
    days("RETENTION_SESSION_DAYS", 90), -(-CONNECT_EMAILED_LINK_HOURS // 24) + 1
)

# --- Account changes: disconnecting an account, deleting one's own -------------------

# POSTs that ask Pipedream to delete something of a member's ("count/seconds"), per member
# and per action: disconnecting an account (/accounts/<id>/disconnect/) and deleting the
# account (/profile/delete/). While Pipedream fails, each try calls it again with retries;
# past the limit the page says how long to wait and nothing is asked upstream.
ACCOUNT_CHANGE_RATE_LIMIT = rate_limit("ACCOUNT_CHANGE_RATE_LIMIT", "10/60")

# --- The edge: client addresses behind a balancer (README, "Running it at scale") ------

# Which address a request came from, for every address-keyed limit (allauth's and ours,
# through core.ratelimit.client_ip). TRUSTED_PROXY_COUNT: how many proxies of this site's
# own append to X-Forwarded-For in front of gunicorn (the repository's nginx is one; a
# load balancer in front of it makes two); 0 reads the socket's address (REMOTE_ADDR).
# Or TRUSTED_CLIENT_IP_HEADER: the one header a trusted proxy sets to the client's address
# (such as X-Real-IP or CF-Connecting-IP), which then wins. Anything else a client sends
# in X-Forwarded-For is not believed.
_proxies = env.str("TRUSTED_PROXY_COUNT", default="0").strip()
if not (_proxies.isascii() and _proxies.isdigit() and int(_proxies) <= 10):
    raise ImproperlyConfigured(
        f"TRUSTED_PROXY_COUNT must be a whole number from 0 to 10 (your proxies in front of "
        f"gunicorn: 1 for nginx, 2 with a load balancer before it), not {_proxies!r}."
    )
TRUSTED_PROXY_COUNT = int(_proxies)
TRUSTED_CLIENT_IP_HEADER = env.str("TRUSTED_CLIENT_IP_HEADER", default="").strip() or None
if TRUSTED_CLIENT_IP_HEADER and not re.fullmatch(r"[A-Za-z0-9-]{1,64}", TRUSTED_CLIENT_IP_HEADER):
    raise ImproperlyConfigured(
        "TRUSTED_CLIENT_IP_HEADER must be a header name such as X-Real-IP, "
        f"not {TRUSTED_CLIENT_IP_HEADER!r}."
    )
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = TRUSTED_CLIENT_IP_HEADER

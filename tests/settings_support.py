"""Running manage.py in a fresh process with a chosen environment (settings are read once
at start), for the settings tests and the sandbox_setup tests."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# Variables a developer's shell or .env might hold; each case starts from none of them.
ALL_VARS = [
    "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CACHE_URL", "PUBLIC_URL",
    "PIPEDREAM_CLIENT_ID", "PIPEDREAM_CLIENT_SECRET", "PIPEDREAM_PROJECT_ID",
    "PIPEDREAM_PROJECT_ENVIRONMENT", "PIPEDREAM_API_URL", "PIPEDREAM_CONNECT_URL",
    "BITBADGES_API_URL", "BITBADGES_API_KEY", "EMAIL_URL", "DEFAULT_FROM_EMAIL",
    "SIGNUP_OPEN", "SANDBOX", "SANDBOX_FAULTS", "CONNECT_TOKEN_RATE_LIMIT",
    "CLAIM_SECRETS_KEYS", "CLAIMS_CHECK_RATE_LIMIT", "LOG_LEVEL", "LOG_FORMAT",
    "ACCESS_LOG", "LOG_REQUEST_ID_HEADER", "ALLOW_SANDBOX_WITHOUT_DEBUG",
    "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
    "SECURE_SSL_REDIRECT", "STAFF_MFA_REQUIRED", "PIPEDREAM_WORKFLOW_ENDPOINTS",
    "CLAIMS_READ_COMPONENTS", "CLAIMS_PROXY_HOSTS", "X_FRAME_OPTIONS", "TRUSTED_PROXY_COUNT",
    "TRUSTED_CLIENT_IP_HEADER", "CONNECT_RETURN_RATE_LIMIT", "CONNECT_RETURN_SESSION_RATE_LIMIT",
    "CONNECT_EMAILED_LINK_HOURS", "WEB_UPSTREAM_BUDGET", "WEB_UPSTREAM_CONCURRENCY",
    "WEB_UPSTREAM_QUEUE_WAIT", "WEB_UPSTREAM_BREAKER_SECONDS", "RETENTION_REFUSED_DAYS",
    "RETENTION_BODY_DAYS", "RETENTION_DELIVERY_DAYS", "RETENTION_EVIDENCE_DAYS",
    "CONNECT_WEBHOOK_RATE_LIMIT", "CONNECT_WEBHOOK_MEMBER_RATE_LIMIT",
    "ACCOUNT_CHANGE_RATE_LIMIT", "WEBHOOK_REFUSED_RATE_LIMIT", "WEBHOOK_REFUSED_SITE_RATE_LIMIT",
    "RETENTION_SESSION_DAYS", "RETENTION_JOBS_DAYS",
    "API_RATE_LIMIT", "API_AUTH_FAILURE_RATE_LIMIT",
    "HOST_SITE_NAME", "HOST_OIDC_ISSUER", "HOST_OIDC_CLIENT_ID", "HOST_OIDC_CLIENT_SECRET",
    "HOST_OIDC_TIMEOUT",
    "WEBHOOK_ATTEMPTS", "WEBHOOK_RETRY_BASE", "WEBHOOK_RETRY_MAX", "WEBHOOK_SEND_TIMEOUT",
    "WEBHOOK_SECRET_OVERLAP", "WEBHOOK_PASS_BUDGET", "WEBHOOK_LOG_DAYS",
]  # fmt: skip


def run(args, env_vars, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ALL_VARS}
    # The browser tests' fixture sets this in the test process; production never has it
    # (check --deploy says so), and these cases are production's processes.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    # A developer's .env must not leak into these cases.
    env["ENV_FILE"] = ""
    env.update(env_vars)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

"""Settings for Connect & Claim, read from the environment through one `environ.Env()`.

Every variable is listed, with a comment, in `.env.example`. A `.env` file beside
`manage.py` (or the file named by ENV_FILE) is read when present; real environment
variables win over it.
"""

import os
import re
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from claims import allowlists
from config.environment import ENV_FILE as ENV_FILE  # settings.ENV_FILE: sandbox_setup
from config.environment import env, env_bool, rate_limit
from config.logging_config import logging_dict

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Core ---------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment or in .env "
            "(for example: SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))')), "
            "or set DEBUG=true for local development."
        )
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if DEBUG and not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is empty. With DEBUG off, list the host names this site answers to, "
        "comma-separated (for example: ALLOWED_HOSTS=claims.example.com)."
    )

# Absolute base URL of this site, used for webhook and redirect URIs sent to Pipedream.
# Unset with DEBUG on, it follows where `make run` serves: http://HOST:PORT from the
# environment (127.0.0.1:8000), with a bind-all HOST (0.0.0.0, ::) read as 127.0.0.1.
# (scripts/run_dev.py, make run, reads _dev_public_url.)
_dev_host = os.environ.get("HOST", "").strip() or "127.0.0.1"
if _dev_host in ("0.0.0.0", "::", "[::]"):  # noqa: S104 (a bind address, read, not bound)
    _dev_host = "127.0.0.1"
elif ":" in _dev_host and not _dev_host.startswith("["):
    _dev_host = f"[{_dev_host}]"  # an IPv6 address in a URL
_dev_public_url = f"http://{_dev_host}:{os.environ.get('PORT', '').strip() or '8000'}"
PUBLIC_URL = env.str(
    "PUBLIC_URL", default=_dev_public_url if DEBUG else "http://127.0.0.1:8000"
).rstrip("/")
_public = urlsplit(PUBLIC_URL)
if _public.scheme not in ("http", "https") or not _public.netloc:
    raise ImproperlyConfigured(
        f"PUBLIC_URL must be an absolute http(s) URL such as https://claims.example.com, "
        f"not {PUBLIC_URL!r}."
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",  # Sign in with BitBadges only (users/siwbb/)
    "django_htmx",
    "django_tasks_db",
    "users",
    "users.siwbb",
    "connections",
    "claims",
    "notifications",
    "members",
    "operations",
    "branding",
    "config",  # the layout's deploy checks (config/checks.py)
]

MIDDLEWARE = [
    "config.observability.RequestIdMiddleware",
    "config.middleware.DatabaseConnectionMiddleware",
    "config.middleware.UpstreamBudgetMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.site",
            ],
        },
    },
]

# --- Data ---------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
_SUPPORTED_DATABASES = {"django.db.backends.sqlite3", "django.db.backends.postgresql"}
if DATABASES["default"].get("ENGINE") not in _SUPPORTED_DATABASES:
    raise ImproperlyConfigured(
        "DATABASE_URL must be sqlite:////absolute/path.sqlite3 or "
        "postgres://user:password@host:5432/name; "
        f"{DATABASES['default'].get('ENGINE') or 'its scheme'} is not supported."
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the task worker writes.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    # Tests use a file, one per process: with the in-memory default, live_server's
    # threads would share one connection, and two requests at once (a browser and a
    # webhook) would collide inside it.
    DATABASES["default"].setdefault("TEST", {}).setdefault(
        "NAME", os.path.join(tempfile.gettempdir(), f"connect-claim-test-{os.getpid()}.sqlite3")
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # No JIT: this site's queries are short, and the few big reports (the funnel, exports,
    # the admin home) paid more to compile than to run (0.7 s at 10,000 members).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://connect-and-claim")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # The same backend, with one redis-py client per pool instead of one per call.
    CACHES["default"]["BACKEND"] = "core.redis_cache.KeptClientRedisCache"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# --- Auth ---------------------------------------------------------------------------

AUTH_USER_MODEL = "users.User"
# allauth's backend (username or email), with our rule that an email shared by two
# members (possible only through the admin) names nobody.
AUTHENTICATION_BACKENDS = ["users.backends.UsernameOrEmailBackend"]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-allauth's accounts and social accounts: config/settings_members.py.

SIGNUP_OPEN = env_bool("SIGNUP_OPEN", default=True)

# Two-factor authentication (allauth.mfa) at /2fa/: an authenticator app (TOTP) and
# recovery codes. A wrong code counts against ACCOUNT_RATE_LIMITS["login_failed"].
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Connect & Claim"
# Their secrets are encrypted with CLAIM_SECRETS_KEYS (users/mfa.py).
MFA_ADAPTER = "users.mfa.MFAAdapter"
# The admin's login is allauth's (/admin/login/ sends people to /login/). When true, a
# staff member without an authenticator app is sent from every admin page to set one up.
STAFF_MFA_REQUIRED = env_bool("STAFF_MFA_REQUIRED", default=False)

# --- Email (Django 6.1 MAILERS, built from one EMAIL_URL) ---------------------------

_EMAIL_BACKENDS_OPTIONS = {
    # django-environ's names for the old EMAIL_* settings -> the backend's keyword arguments.
    "EMAIL_HOST": "host",
    "EMAIL_PORT": "port",
    "EMAIL_HOST_USER": "username",
    "EMAIL_HOST_PASSWORD": "password",
    "EMAIL_USE_TLS": "use_tls",
    "EMAIL_USE_SSL": "use_ssl",
    "EMAIL_FILE_PATH": "file_path",
    "EMAIL_TIMEOUT": "timeout",
}


def _mailer_from_url(url: str) -> dict:
    parsed = environ.Env.email_url_config(url)
    options = {
        _EMAIL_BACKENDS_OPTIONS[key]: value
        for key, value in parsed.items()
        if key in _EMAIL_BACKENDS_OPTIONS and value not in (None, "")
    }
    backend = parsed["EMAIL_BACKEND"]
    if backend == "django.core.mail.backends.console.EmailBackend":
        backend = "core.mail.ConsoleEmailBackend"  # its text decoded: links whole
    return {"BACKEND": backend, "OPTIONS": options}


# Emails carry bearer links (password resets, address confirmations, Connect links): on
# the console they would land in the log stream. With DEBUG off only the sandbox (whose
# default is then false) may print them: a console EMAIL_URL is refused, and an unset one
# is an SMTP server on this host (Django's own default), which gunicorn
# (deploy/gunicorn.conf.py) refuses and `check --deploy` (config/checks.py) reports.
_PRINTING_MAIL_ALLOWED = DEBUG or env_bool("SANDBOX", default=False)
EMAIL_URL_IS_DEFAULT = not env.str("EMAIL_URL", default="").strip()
EMAIL_URL = env.str("EMAIL_URL", default="").strip() or (
    "consolemail://" if _PRINTING_MAIL_ALLOWED else "smtp://localhost:25"
)
MAILERS = {"default": _mailer_from_url(EMAIL_URL)}
if not _PRINTING_MAIL_ALLOWED and MAILERS["default"]["BACKEND"] == "core.mail.ConsoleEmailBackend":
    raise ImproperlyConfigured(
        "EMAIL_URL is the console while DEBUG is off: every password-reset and confirmation "
        "link would be printed into the logs. Set EMAIL_URL to your mail server, such as "
        "EMAIL_URL=smtp+tls://user:password@smtp.example.com:587, or to "
        "filemail:////absolute/folder to keep each email in a file."
    )
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Connect & Claim <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- The owner's brand (branding app) -----------------------------------------------
# Defaults for every member page and email; what the admin's Brand page sets wins.
BRAND_NAME = env.str("BRAND_NAME", default="Connect & Claim")
BRAND_SUPPORT_EMAIL = env.str("BRAND_SUPPORT_EMAIL", default="")
# #rrggbb, with a contrast of 4.5:1 or more against white (checked at start-up).
BRAND_ACCENT_COLOUR = env.str("BRAND_ACCENT_COLOUR", default="#4f46e5")

# --- Pipedream Connect and BitBadges ------------------------------------------------

PIPEDREAM_CLIENT_ID = env.str("PIPEDREAM_CLIENT_ID", default="")
PIPEDREAM_CLIENT_SECRET = env.str("PIPEDREAM_CLIENT_SECRET", default="")
PIPEDREAM_PROJECT_ID = env.str("PIPEDREAM_PROJECT_ID", default="")
# The sandbox (an offline Pipedream + BitBadges) is on by default only for local
# development without real credentials. Production never mounts it. Its credentials come
# from the sandbox itself: `manage.py sandbox_setup` (make run) writes them into .env,
# with SANDBOX=true, and its system check warns when they are missing.
SANDBOX = env_bool("SANDBOX", default=DEBUG and not PIPEDREAM_CLIENT_ID)
# The sandbox answers anyone who holds the credentials published in this repository, and
# seed_demo makes accounts with a published password. With DEBUG off, neither runs unless
# this says so in the open: the test suite, the benchmarks and `make run-scaled` do.
ALLOW_SANDBOX_WITHOUT_DEBUG = env_bool("ALLOW_SANDBOX_WITHOUT_DEBUG", default=False)
if SANDBOX and not DEBUG and not ALLOW_SANDBOX_WITHOUT_DEBUG:
    raise ImproperlyConfigured(
        "SANDBOX is on while DEBUG is off: the sandbox is an unauthenticated stand-in for "
        "Pipedream and BitBadges with published credentials, never for production. Set "
        "SANDBOX=false and give real credentials, or, on a machine nobody else reaches "
        "(tests, benchmarks), set ALLOW_SANDBOX_WITHOUT_DEBUG=true."
    )
# Pipedream keeps each environment's users and accounts apart. Development allows 10
# external users, each signed in to pipedream.com in the same browser, and is not for
# production use (docs: connect/managed-auth/environments): so production is the default
# unless DEBUG or the sandbox is on.
PIPEDREAM_PROJECT_ENVIRONMENT = env.str(
    "PIPEDREAM_PROJECT_ENVIRONMENT", default="development" if DEBUG or SANDBOX else "production"
)
if PIPEDREAM_PROJECT_ENVIRONMENT not in ("development", "production"):
    raise ImproperlyConfigured(
        "PIPEDREAM_PROJECT_ENVIRONMENT must be 'development' or 'production', "
        f"not {PIPEDREAM_PROJECT_ENVIRONMENT!r}."
    )
# Where `sandbox_setup` leaves the demo's upstream parameters for `seed_demo` (JSON); a
# relative path is taken from the project's folder.
SANDBOX_DEMO_FILE = BASE_DIR / env.str("SANDBOX_DEMO_FILE", default="tmp/sandbox-demo.json")
if SANDBOX:
    INSTALLED_APPS.append("sandbox")
    _pipedream_default = f"{PUBLIC_URL}/sandbox/pipedream"
    _bitbadges_default = f"{PUBLIC_URL}/sandbox/bitbadges"
else:
    _pipedream_default = "https://api.pipedream.com"
    _bitbadges_default = "https://api.bitbadges.io"

PIPEDREAM_API_URL = env.str("PIPEDREAM_API_URL", default=_pipedream_default).rstrip("/")
PIPEDREAM_CONNECT_URL = env.str(
    "PIPEDREAM_CONNECT_URL",
    default=_pipedream_default if SANDBOX else "https://pipedream.com",
).rstrip("/")
# Seconds: (connect, read) for every call to Pipedream.
PIPEDREAM_TIMEOUT = env.float("PIPEDREAM_TIMEOUT", default=10.0)
PIPEDREAM_MAX_RETRIES = env.int("PIPEDREAM_MAX_RETRIES", default=3)
# Seconds to wait for an answer through the Connect proxy: Pipedream lets an upstream
# call run up to 30 s, then answers 504 itself (docs: connect/api-proxy, "Limits"), so
# the client waits that long plus a margin. A proxy call that timed out or got a 504 is
# never sent again: each try counts against the project's proxy rate limit.
PIPEDREAM_PROXY_TIMEOUT = env.float("PIPEDREAM_PROXY_TIMEOUT", default=35.0)


# Connect tokens a member may mint per window: "count/seconds". Pipedream allows 100 a
# minute per user; we allow far fewer, since each is a click.
CONNECT_TOKEN_RATE_LIMIT = rate_limit("CONNECT_TOKEN_RATE_LIMIT", "10/60")

# --- BitBadges --------------------------------------------------------------------------

BITBADGES_API_URL = env.str("BITBADGES_API_URL", default=_bitbadges_default).rstrip("/")
BITBADGES_API_KEY = env.str("BITBADGES_API_KEY", default="")

# Seconds: (connect, read) for every call to BitBadges; retries for idempotent calls.
BITBADGES_TIMEOUT = env.float("BITBADGES_TIMEOUT", default=10.0)
BITBADGES_MAX_RETRIES = env.int("BITBADGES_MAX_RETRIES", default=3)
# BitBadges' web app, for the links its answers give relative to it (the 402's topUpUrl).
BITBADGES_SITE_URL = env.str("BITBADGES_SITE_URL", default="https://bitbadges.io").rstrip("/")

# --- Claims ---------------------------------------------------------------------------

# Keys that encrypt claim secrets (passwords, store secrets) at rest: one or more
# strings of 32+ characters, comma-separated, newest first (older ones still decrypt,
# for rotation). Required with DEBUG off; development derives one from SECRET_KEY.
CLAIM_SECRETS_KEYS = env.list("CLAIM_SECRETS_KEYS", default=[])
if not CLAIM_SECRETS_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "CLAIM_SECRETS_KEYS is required when DEBUG is off: one or more random strings "
            "of 32+ characters that encrypt claim passwords and store secrets."
        )
    CLAIM_SECRETS_KEYS = [f"development-only:{SECRET_KEY}"]
if any(len(key) < 32 for key in CLAIM_SECRETS_KEYS):
    raise ImproperlyConfigured("Each CLAIM_SECRETS_KEYS entry must be at least 32 characters.")

# How a completion is retried after a transient failure: attempts in all, then failed.
CLAIMS_MAX_ATTEMPTS = env.int("CLAIMS_MAX_ATTEMPTS", default=6)
# Seconds: the first retry delay (doubled each time, with jitter) and its ceiling.
CLAIMS_RETRY_BASE = env.float("CLAIMS_RETRY_BASE", default=30.0)
CLAIMS_RETRY_MAX = env.float("CLAIMS_RETRY_MAX", default=3600.0)
# Seconds: how often and how long to poll a BitBadges claim attempt before calling
# its outcome unknown (it is then checked again before any resend).
CLAIMS_POLL_INTERVAL = env.float("CLAIMS_POLL_INTERVAL", default=2.0)
CLAIMS_POLL_DEADLINE = env.float("CLAIMS_POLL_DEADLINE", default=30.0)
# Seconds: the least wait after an unknown outcome before it is checked upstream (an
# attempt may sit in BitBadges' queue, a workflow may still be running).
CLAIMS_UNKNOWN_OUTCOME_WAIT = env.float("CLAIMS_UNKNOWN_OUTCOME_WAIT", default=300.0)
# Seconds: while BitBadges answers 402 (no credits), how often one cheap call checks
# whether the account was topped up; the wait doubles up to the ceiling.
BITBADGES_CREDITS_PROBE = env.float("BITBADGES_CREDITS_PROBE", default=60.0)
BITBADGES_CREDITS_PROBE_MAX = env.float("BITBADGES_CREDITS_PROBE_MAX", default=900.0)
# "Check again" presses a member may make per window: "count/seconds".
CLAIMS_CHECK_RATE_LIMIT = rate_limit("CLAIMS_CHECK_RATE_LIMIT", "5/60")
# What a claim may name, set here and never in the admin (claims/allowlists.py): the
# Pipedream components (criterion actions, trigger sources) and the hosts a criterion
# proxy URL may read. Unset or empty: a built-in read-only list; a list replaces it.
CLAIMS_READ_COMPONENTS = allowlists.parse_components(
    env.list("CLAIMS_READ_COMPONENTS", default=None)
)
CLAIMS_PROXY_HOSTS = allowlists.parse_hosts(env.list("CLAIMS_PROXY_HOSTS", default=None))
# The external user id under which the site's own accounts (connected by an operator,
# under Site accounts in the admin) live at Pipedream; claims' triggers on a shared
# resource run on them. Must not be a member's external id (members' are UUIDs).
PIPEDREAM_SITE_EXTERNAL_USER_ID = env.str("PIPEDREAM_SITE_EXTERNAL_USER_ID", default="site")
if not re.fullmatch(r"[A-Za-z0-9._:-]{1,100}", PIPEDREAM_SITE_EXTERNAL_USER_ID):
    raise ImproperlyConfigured(
        "PIPEDREAM_SITE_EXTERNAL_USER_ID must be 1-100 letters, digits, '.', '_', ':' or '-'."
    )
# The only Pipedream workflows a claim may deliver through, by endpoint id (the <id> of
# https://<id>.m.pipedream.net), comma-separated. The call carries the project's OAuth
# token, so no other URL ever receives it (connections/pipedream/actions.py). Empty:
# workflow delivery is off.
_endpoints = env.list("PIPEDREAM_WORKFLOW_ENDPOINTS", default=[])
PIPEDREAM_WORKFLOW_ENDPOINTS = [entry.strip() for entry in _endpoints if entry.strip()]
for _endpoint in PIPEDREAM_WORKFLOW_ENDPOINTS:
    if not re.fullmatch(r"e[no][a-z0-9-]{0,60}[a-z0-9]", _endpoint):
        raise ImproperlyConfigured(
            f"PIPEDREAM_WORKFLOW_ENDPOINTS lists {_endpoint!r}, which is not a workflow endpoint "
            "id: give the <id> of https://<id>.m.pipedream.net, such as en123abc (en or eo, "
            "then lowercase letters, digits and hyphens; at most 63 characters)."
        )
# How a trigger delivery's signature is verified: "none" (no public source confirms
# Pipedream's format, so a delivery to our signed URL is only a wake-up call: checks read
# the trigger's events list and the member's state upstream) or "pd-v1" (X-PD-Signature
# t=,v1= HMAC-SHA256 over "<t>.<X-PD-Event-Id>.<body>", refused when it does not match).
PIPEDREAM_TRIGGER_SIGNATURE = env.str("PIPEDREAM_TRIGGER_SIGNATURE", default="none")
if PIPEDREAM_TRIGGER_SIGNATURE not in ("none", "pd-v1"):
    raise ImproperlyConfigured(
        f"PIPEDREAM_TRIGGER_SIGNATURE must be 'none' or 'pd-v1', not {PIPEDREAM_TRIGGER_SIGNATURE!r}."
    )
# Checks one trigger deployment's deliveries may ask for per window: "count/seconds".
# Deliveries past it are acknowledged and ask for nothing (one wake-up runs after the window).
TRIGGER_CHECK_RATE_LIMIT = rate_limit("TRIGGER_CHECK_RATE_LIMIT", "10/60")
# Fault injection for the sandbox (see sandbox/common/faults.py): a JSON object keyed by
# endpoint name, e.g. {"pipedream.tokens.create": {"status": 500, "rate": 0.5}}.
SANDBOX_FAULTS = env.json("SANDBOX_FAULTS", default={})
# The emulated BitBadges' refusal texts: "docs" (BitBadges' 2026 docs) or "idx-2024" (its
# 2024 indexer's); and whether it still serves the success route BitBadges removed.
SANDBOX_BITBADGES_WORDING = env.str("SANDBOX_BITBADGES_WORDING", default="docs")
SANDBOX_BITBADGES_SUCCESS_ROUTE = env_bool("SANDBOX_BITBADGES_SUCCESS_ROUTE", default=False)
# The emulated Connect proxy: how long its upstream may take before it answers 504 (30 s,
# Pipedream's limit), and how long the emulated upstream APIs take to answer.
SANDBOX_PIPEDREAM_PROXY_LIMIT = env.float("SANDBOX_PIPEDREAM_PROXY_LIMIT", default=30.0)
SANDBOX_PIPEDREAM_PROXY_UPSTREAM_DELAY = env.float(
    "SANDBOX_PIPEDREAM_PROXY_UPSTREAM_DELAY", default=0.0
)
# The hosted Connect page's known quirk: "empty-error" makes it post {type: "error",
# error: ""} instead of success although the account was created
# (PipedreamHQ/pipedream-sdk-typescript#280). Empty: it posts success.
SANDBOX_PIPEDREAM_CONNECT_QUIRK = env.str("SANDBOX_PIPEDREAM_CONNECT_QUIRK", default="")
# How the sandbox signs trigger deliveries: "pd-v1" (X-PD-Signature t=,v1=, X-PD-Event-Id,
# X-PD-Timestamp), "none" (no signature headers) or "other" (X-Signature: sha256=<HMAC of
# the body>), so tests can show a format the product does not recognise.
SANDBOX_TRIGGER_SIGNATURE = env.str("SANDBOX_TRIGGER_SIGNATURE", default="pd-v1")

# --- Alerts (operations app: README, "Alerts", says what each does) -----------------
# Alert emails go to ALERT_EMAILS (comma-separated) or, when empty, to active staff who
# hold operations.receive_alerts and to superusers. Times are in seconds.
ALERT_EMAILS = env.list("ALERT_EMAILS", default=[])
ALERT_FAILURES = env.int("ALERT_FAILURES", default=5)
ALERT_FAILURE_WINDOW = env.float("ALERT_FAILURE_WINDOW", default=900.0)
ALERT_UNKNOWN_AFTER = env.float("ALERT_UNKNOWN_AFTER", default=1800.0)
ALERT_BACKLOG = env.int("ALERT_BACKLOG", default=500)
ALERT_BACKLOG_AGE = env.float("ALERT_BACKLOG_AGE", default=900.0)
ALERT_RESOLVE_AFTER = env.float("ALERT_RESOLVE_AFTER", default=600.0)
ALERT_ATTEMPTS = env.int("ALERT_ATTEMPTS", default=8)
ALERT_RETRY_BASE = env.float("ALERT_RETRY_BASE", default=30.0)
ALERT_RETRY_MAX = env.float("ALERT_RETRY_MAX", default=3600.0)
# One webhook try, whole (connect, send, the answer to its last byte); and how long one
# check_alerts pass may spend sending before it leaves the rest to the task worker.
ALERT_SEND_TIMEOUT = env.float("ALERT_SEND_TIMEOUT", default=15.0)
ALERT_PASS_BUDGET = env.float("ALERT_PASS_BUDGET", default=20.0)

# --- Internationalisation -----------------------------------------------------------

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security -----------------------------------------------------------------------

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "https:"],
    "connect-src": [CSP.SELF],
    "frame-src": [CSP.SELF, PIPEDREAM_CONNECT_URL],
    "frame-ancestors": [CSP.SELF],
    "form-action": [CSP.SELF, PIPEDREAM_CONNECT_URL],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
# Nothing of this site is framed except, in the sandbox, its emulated Connect page (which
# stands in for pipedream.com and lives on this origin): DENY, or SAMEORIGIN (which the
# sandbox needs). CSP's frame-ancestors says the same to browsers that read it.
X_FRAME_OPTIONS = env.str("X_FRAME_OPTIONS", default="SAMEORIGIN" if SANDBOX else "DENY")
X_FRAME_OPTIONS = X_FRAME_OPTIONS.strip().upper()
if X_FRAME_OPTIONS not in ("DENY", "SAMEORIGIN"):
    raise ImproperlyConfigured(
        f"X_FRAME_OPTIONS must be DENY or SAMEORIGIN, not {X_FRAME_OPTIONS!r}."
    )
if SANDBOX and X_FRAME_OPTIONS != "SAMEORIGIN":
    raise ImproperlyConfigured(
        "X_FRAME_OPTIONS must be SAMEORIGIN with the sandbox: it frames its own Connect page."
    )
if X_FRAME_OPTIONS == "DENY":
    SECURE_CSP["frame-ancestors"] = [CSP.NONE]
# The Connect OAuth step opens a popup from the iframe; `same-origin` would break it.
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin-allow-popups"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
if _public.scheme == "https":
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
    # Plain-HTTP requests are sent to https, except the health check: a load balancer
    # may probe a web process directly, without the proxy's X-Forwarded-Proto.
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    CSRF_TRUSTED_ORIGINS.append(f"{_public.scheme}://{_public.netloc}")

DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# Error pages (DEBUG) and error emails hide URLs with a password and nested passwords too.
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.error_reports.SettingsReporterFilter"

# Limits on what comes from outside, retention, and the client's address behind a
# balancer: config/settings_limits.py. Members: config/settings_members.py. Fitting into
# the host site (its sign-on, signed webhooks to it, the read API): settings_host.py.
from config.settings_host import *  # noqa: E402, F403
from config.settings_limits import *  # noqa: E402, F403
from config.settings_members import *  # noqa: E402, F403

INSTALLED_APPS += HOST_APPS  # noqa: F405

# --- Logging ------------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# json: one JSON object per line, for production log pipelines; plain: for people.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}.")
# Request ids: ours by default; behind a proxy that sets one, name its header here
# (as Django sees it, e.g. HTTP_X_REQUEST_ID). Every response carries X-Request-ID.
LOG_REQUEST_ID_HEADER = env.str("LOG_REQUEST_ID_HEADER", default="") or None
GENERATE_REQUEST_ID_IF_NOT_IN_HEADER = True
REQUEST_ID_RESPONSE_HEADER = "X-Request-ID"
# One line per request (method, URL pattern, status, member, time): on unless DEBUG.
ACCESS_LOG = env_bool("ACCESS_LOG", default=not DEBUG)
LOGGING = logging_dict(LOG_FORMAT, LOG_LEVEL)

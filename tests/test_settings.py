"""Settings come from the environment, and a wrong environment gets a clear refusal.

Each case starts a fresh `manage.py` process, since settings are read once at start.
"""

import json
from pathlib import Path

import pytest

from sandbox.management.commands.sandbox_setup import env_text_update, env_values
from tests.settings_support import ALL_VARS, ROOT, run

# Each case is a manage.py process of its own, on a database of its own.
pytestmark = pytest.mark.own_process

PRINT_SETTINGS = (
    "import json; from django.conf import settings as s; "
    "print(json.dumps({k: getattr(s, k) for k in %r}, default=str))"
)
# What production needs besides the variable a case is about.
PRODUCTION = {
    "SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "example.com",
    "CLAIM_SECRETS_KEYS": "k" * 40,
}


def read_settings(names, env_vars, tmp_path):
    result = run(["shell", "-c", PRINT_SETTINGS % (names,)], env_vars, tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_refuses_to_start_without_secret_key(tmp_path):
    result = run(["check"], {"ALLOWED_HOSTS": "example.com"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_refuses_to_start_without_allowed_hosts(tmp_path):
    result = run(["check"], {"SECRET_KEY": "x" * 50}, tmp_path)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is empty" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PIPEDREAM_PROJECT_ENVIRONMENT", "prod", "must be 'development' or 'production'"),
        ("PUBLIC_URL", "claims.example.com", "PUBLIC_URL must be an absolute http(s) URL"),
        ("DATABASE_URL", "nosuchdb://x", "nosuchdb"),
        ("DEBUG", "perhaps", "DEBUG"),
        ("SIGNUP_OPEN", "maybe", "SIGNUP_OPEN must be true or false"),
        ("CONNECT_TOKEN_RATE_LIMIT", "ten", "count/seconds such as 10/60"),
        ("CONNECT_TOKEN_RATE_LIMIT", "10/0", "count/seconds such as 10/60"),
        ("CLAIMS_CHECK_RATE_LIMIT", "5/60/1", "count/seconds such as 5/60"),
        ("CLAIM_SECRETS_KEYS", "short", "at least 32 characters"),
        ("CLAIM_SECRETS_KEYS", "", "CLAIM_SECRETS_KEYS is required when DEBUG is off"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be json or plain"),
        ("ACCESS_LOG", "sometimes", "ACCESS_LOG"),
        ("PIPEDREAM_SITE_EXTERNAL_USER_ID", "", "PIPEDREAM_SITE_EXTERNAL_USER_ID must be"),
        ("PIPEDREAM_SITE_EXTERNAL_USER_ID", "the site/../x", "PIPEDREAM_SITE_EXTERNAL_USER_ID"),
        ("PIPEDREAM_SITE_EXTERNAL_USER_ID", "s" * 101, "1-100 letters"),
        ("TRUSTED_PROXY_COUNT", "-1", "TRUSTED_PROXY_COUNT must be a whole number"),
        ("TRUSTED_PROXY_COUNT", "one", "TRUSTED_PROXY_COUNT must be a whole number"),
        ("TRUSTED_CLIENT_IP_HEADER", "X Real IP", "must be a header name"),
        ("WEB_UPSTREAM_BUDGET", "45", "WEB_UPSTREAM_BUDGET must be between 0 and 30"),
        ("RETENTION_BODY_DAYS", "0", "RETENTION_BODY_DAYS must be a whole number of days"),
        ("CONNECT_WEBHOOK_RATE_LIMIT", "lots", "count/seconds such as 10/3600"),
    ],
)
def test_malformed_values_are_named(tmp_path, name, value, says):
    env = {**PRODUCTION, name: value}
    result = run(["check"], env, tmp_path)
    assert result.returncode != 0
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_production_defaults(tmp_path):
    values = read_settings(
        ["DEBUG", "SANDBOX", "PIPEDREAM_API_URL", "PIPEDREAM_CONNECT_URL", "BITBADGES_API_URL"],
        PRODUCTION,
        tmp_path,
    )
    assert values == {
        "DEBUG": False,
        "SANDBOX": False,
        "PIPEDREAM_API_URL": "https://api.pipedream.com",
        "PIPEDREAM_CONNECT_URL": "https://pipedream.com",
        "BITBADGES_API_URL": "https://api.bitbadges.io",
    }


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (PRODUCTION, "production"),
        ({"DEBUG": "true"}, "development"),
        ({**PRODUCTION, "SANDBOX": "true", "ALLOW_SANDBOX_WITHOUT_DEBUG": "true"}, "development"),
        ({**PRODUCTION, "PIPEDREAM_PROJECT_ENVIRONMENT": "development"}, "development"),
        ({"DEBUG": "true", "PIPEDREAM_PROJECT_ENVIRONMENT": "production"}, "production"),
    ],
    ids=["debug-off", "debug-on", "sandbox", "set-development", "set-production"],
)
def test_the_pipedream_environment_is_production_unless_developing(tmp_path, env, expected):
    values = read_settings(["PIPEDREAM_PROJECT_ENVIRONMENT"], env, tmp_path)
    assert values == {"PIPEDREAM_PROJECT_ENVIRONMENT": expected}


def test_env_example_leaves_the_pipedream_environment_to_the_default():
    lines = (ROOT / ".env.example").read_text().splitlines()
    assert not [line for line in lines if line.startswith("PIPEDREAM_PROJECT_ENVIRONMENT=")]
    assert "# PIPEDREAM_PROJECT_ENVIRONMENT=production" in lines


@pytest.mark.parametrize(("value", "expected"), [(None, True), ("false", False), ("true", True)])
def test_signup_open_comes_from_the_environment(tmp_path, value, expected):
    env = {**PRODUCTION, **({"SIGNUP_OPEN": value} if value is not None else {})}
    assert read_settings(["SIGNUP_OPEN"], env, tmp_path) == {"SIGNUP_OPEN": expected}


def newcomers_env_file(tmp_path) -> Path:
    """A newcomer's .env after `make run`: .env.example, where no credential is set, with
    what the sandbox's own `sandbox_setup` writes into it (its credentials, SANDBOX=true);
    the settings no longer default to them."""
    text, _, _ = env_text_update((ROOT / ".env.example").read_text(), env_values())
    path = tmp_path / ".env"
    path.write_text(text)
    return path


def test_development_without_credentials_uses_the_sandbox(tmp_path):
    values = read_settings(
        ["SANDBOX", "PIPEDREAM_API_URL", "PIPEDREAM_CLIENT_ID", "INSTALLED_APPS"],
        {
            "DEBUG": "true",
            "PUBLIC_URL": "http://127.0.0.1:9000",
            "ENV_FILE": str(newcomers_env_file(tmp_path)),
        },
        tmp_path,
    )
    assert values["SANDBOX"] is True
    assert values["PIPEDREAM_API_URL"] == "http://127.0.0.1:9000/sandbox/pipedream"
    assert values["PIPEDREAM_CLIENT_ID"] == "sandbox-client-id"
    assert "sandbox" in values["INSTALLED_APPS"]


def test_development_with_real_credentials_does_not_use_the_sandbox(tmp_path):
    values = read_settings(
        ["SANDBOX", "PIPEDREAM_API_URL", "INSTALLED_APPS"],
        {"DEBUG": "true", "PIPEDREAM_CLIENT_ID": "real", "PIPEDREAM_CLIENT_SECRET": "s"},
        tmp_path,
    )
    assert values["SANDBOX"] is False
    assert values["PIPEDREAM_API_URL"] == "https://api.pipedream.com"
    assert "sandbox" not in values["INSTALLED_APPS"]


@pytest.mark.parametrize(
    ("url", "backend", "options"),
    [
        ("consolemail://", "core.mail.ConsoleEmailBackend", {}),  # the text decoded
        (
            "smtp+tls://mailer:s3cret@mail.example.com:587",
            "django.core.mail.backends.smtp.EmailBackend",
            {
                "host": "mail.example.com",
                "port": 587,
                "username": "mailer",
                "password": "s3cret",
                "use_tls": True,
            },
        ),
        (
            "filemail:////tmp/cc-mail",
            "django.core.mail.backends.filebased.EmailBackend",
            {"file_path": "/tmp/cc-mail"},
        ),
    ],
)
def test_email_url_becomes_mailers(tmp_path, url, backend, options):
    values = read_settings(["MAILERS"], {"DEBUG": "true", "EMAIL_URL": url}, tmp_path)
    assert values["MAILERS"] == {"default": {"BACKEND": backend, "OPTIONS": options}}


def test_env_example_lists_every_setting():
    text = (ROOT / ".env.example").read_text()
    for name in ALL_VARS:
        assert f"{name}=" in text, f"{name} is missing from .env.example"


def test_logs_are_json_in_production_and_plain_in_development(tmp_path):
    production = read_settings(["LOG_FORMAT", "ACCESS_LOG"], PRODUCTION, tmp_path)
    assert production == {"LOG_FORMAT": "json", "ACCESS_LOG": True}
    development = read_settings(["LOG_FORMAT", "ACCESS_LOG"], {"DEBUG": "true"}, tmp_path)
    assert development == {"LOG_FORMAT": "plain", "ACCESS_LOG": False}


def test_a_redis_cache_keeps_its_client_and_postgresql_runs_without_jit(tmp_path):
    values = read_settings(
        ["CACHES", "DATABASES"],
        {
            **PRODUCTION,
            "CACHE_URL": "redis://127.0.0.1:6379/3",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/connect_claim_unused",
        },
        tmp_path,
    )
    assert values["CACHES"]["default"]["BACKEND"] == "core.redis_cache.KeptClientRedisCache"
    assert values["DATABASES"]["default"]["OPTIONS"]["options"] == "-c jit=off"

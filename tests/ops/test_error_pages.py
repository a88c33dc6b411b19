"""What an error page shows (issue 17 f), and the frame and HTTPS settings (issue 17 e).

A DEBUG error page lists the settings and the request's META. Django hides a setting by
its name (KEY, SECRET, PASS...); URLs that carry a password (EMAIL_URL, a cache's
LOCATION, DATABASE_URL as a server copies the environment into META) have no such name.
"""

import json

import pytest
from django.core.cache.backends.locmem import LocMemCache

from tests.settings_support import ROOT, run

EMAIL_URL = "smtp+tls://claims:mail-pw-0f9e@smtp.example.com:587"
CACHE_URL = "redis://:cache-pw-7c1d@cache.internal:6379/0"
DATABASE_URL = "postgres://claims:db-pw-3b2a@db.internal:5432/claims"


@pytest.fixture
def debug_page(client, settings):
    """The DEBUG error page of a request that fails, with credentials in URL-shaped
    settings, nested options and META."""
    settings.DEBUG = True
    settings.EMAIL_URL = EMAIL_URL
    settings.MAILERS = {
        **settings.MAILERS,
        "backup": {
            "BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "OPTIONS": {"host": "smtp.example.com", "password": "nested-pw-55aa"},
        },
    }
    # A second cache whose LOCATION is a URL with a password (local memory: nothing
    # connects to it).
    settings.CACHES = {
        **settings.CACHES,
        "backup": {"BACKEND": f"{LocMemCache.__module__}.LocMemCache", "LOCATION": CACHE_URL},
    }
    settings.REPORT_TARGETS = [{"url": DATABASE_URL}]  # a list of dicts, a URL inside
    client.raise_request_exception = False
    response = client.get("/fails/", DATABASE_URL=DATABASE_URL)
    assert response.status_code == 500
    return response.content.decode()


@pytest.mark.urls("tests.ops.error_pages_support")
@pytest.mark.django_db
def test_the_debug_page_hides_passwords_in_urls_and_nested_options(debug_page):
    assert "this page fails on purpose" in debug_page  # it is the debug page
    for secret in ("mail-pw-0f9e", "cache-pw-7c1d", "db-pw-3b2a", "nested-pw-55aa"):
        assert secret not in debug_page, secret
    # What helps to debug stays: the scheme and the host.
    assert "smtp.example.com:587" in debug_page
    assert "cache.internal:6379" in debug_page
    assert "db.internal:5432" in debug_page


# --- the frame and HTTPS settings, read from the environment ---------------------------

PRODUCTION = {
    "SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "example.com",
    "CLAIM_SECRETS_KEYS": "k" * 40,
}
PRINT = (
    "import json; from django.conf import settings as s; "
    "print(json.dumps({k: getattr(s, k, None) for k in %r}))"
)
NAMES = [
    "X_FRAME_OPTIONS",
    "SECURE_CSP",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
]


def _settings(env, tmp_path) -> dict:
    result = run(["shell", "-c", PRINT % (NAMES,)], env, tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.own_process
def test_frame_options_and_https_come_from_the_environment(tmp_path):
    default = _settings(PRODUCTION, tmp_path)
    assert default["X_FRAME_OPTIONS"] == "DENY"
    assert default["SECURE_CSP"]["frame-ancestors"] == ["'none'"]

    chosen = _settings(
        {
            **PRODUCTION,
            "X_FRAME_OPTIONS": "sameorigin",
            "PUBLIC_URL": "https://claims.example.com",
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_HSTS_SECONDS": "31536000",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
            "SECURE_HSTS_PRELOAD": "true",
        },
        tmp_path,
    )
    assert chosen["X_FRAME_OPTIONS"] == "SAMEORIGIN"
    assert chosen["SECURE_CSP"]["frame-ancestors"] == ["'self'"]
    assert chosen["SECURE_SSL_REDIRECT"] is False
    assert chosen["SECURE_HSTS_SECONDS"] == 31536000
    assert chosen["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert chosen["SECURE_HSTS_PRELOAD"] is True


@pytest.mark.own_process
@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"X_FRAME_OPTIONS": "ALLOW-FROM https://evil.example"}, "must be DENY or SAMEORIGIN"),
        (
            {"X_FRAME_OPTIONS": "DENY", "SANDBOX": "true", "ALLOW_SANDBOX_WITHOUT_DEBUG": "true"},
            "SAMEORIGIN with the sandbox",
        ),
    ],
    ids=["unknown", "deny-in-the-sandbox"],
)
def test_a_wrong_frame_option_is_refused_with_a_sentence(tmp_path, env, says):
    result = run(["check"], {**PRODUCTION, **env}, tmp_path)
    assert result.returncode != 0
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_env_example_documents_the_frame_and_https_settings():
    text = (ROOT / ".env.example").read_text()
    for name in ("X_FRAME_OPTIONS", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS"):
        assert f"# {name}=" in text or f"\n{name}=" in text, name

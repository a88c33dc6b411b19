"""/healthz: database, cache, task backend and upstream configuration."""

import datetime

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {
        "database",
        "cache",
        "tasks",
        "claims",
        "deliveries",
        "upstream",
    }
    assert body["checks"]["deliveries"] == {"ok": True, "bitbadges": "flowing"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["tasks"]["backend"] == "DatabaseBackend"
    assert response["Cache-Control"].startswith("max-age=0")


def test_public_and_never_shows_secrets(client, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    text = response.content.decode()
    for secret in (
        settings.PIPEDREAM_CLIENT_SECRET,
        settings.BITBADGES_API_KEY,
        settings.SECRET_KEY,
    ):
        assert secret not in text


def test_missing_upstream_settings_are_named(client, settings):
    settings.PIPEDREAM_CLIENT_SECRET = ""
    settings.BITBADGES_API_KEY = ""
    response = client.get("/healthz")
    assert response.status_code == 503
    upstream = response.json()["checks"]["upstream"]
    assert upstream["ok"] is False
    assert upstream["missing"] == ["BITBADGES_API_KEY", "PIPEDREAM_CLIENT_SECRET"]


@pytest.mark.parametrize(
    ("environment", "public_url", "warns"),
    [
        ("development", "https://claims.example.com", True),
        ("development", "http://127.0.0.1:8000", False),
        ("development", "http://localhost:8000", False),
        ("production", "https://claims.example.com", False),
    ],
)
def test_development_on_a_public_url_is_a_warning_not_a_failure(
    client, settings, environment, public_url, warns
):
    settings.PIPEDREAM_PROJECT_ENVIRONMENT = environment
    settings.PUBLIC_URL = public_url

    response = client.get("/healthz")

    assert response.status_code == 200
    upstream = response.json()["checks"]["upstream"]
    assert upstream["ok"] is True
    if warns:
        assert "development on a public URL" in upstream["warning"]
        assert "signed in to pipedream.com" in upstream["warning"]
        assert "10 members" in upstream["warning"]
    else:
        assert "warning" not in upstream


def test_unreachable_cache_is_reported(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # Nothing listens on port 1: a real connection failure, quickly.
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5},
        }
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["cache"] == {"ok": False, "error": "ConnectionError"}
    assert body["checks"]["database"]["ok"] is True


def test_task_backlog_without_a_worker_is_unhealthy(client):
    from django_tasks_db.models import DBTaskResult

    from config.views import healthz  # any importable task path will do for the row

    DBTaskResult.objects.create(
        task_path=f"{healthz.__module__}.healthz",
        args_kwargs={"args": [], "kwargs": {}},
        queue_name="default",
        backend_name="default",
        run_after=datetime.datetime(9999, 1, 1, tzinfo=datetime.UTC),
    )
    DBTaskResult.objects.update(enqueued_at=timezone.now() - datetime.timedelta(hours=1))
    response = client.get("/healthz")
    assert response.status_code == 503
    tasks = response.json()["checks"]["tasks"]
    assert tasks["ok"] is False
    assert tasks["ready"] == 1
    assert "no worker" in tasks["error"]


def test_only_get(client):
    assert client.post("/healthz").status_code == 405

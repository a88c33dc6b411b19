"""/healthz: database, cache, task backend, upstream configuration and reachability."""

import datetime
import socket

import pytest
from django.core.cache import cache
from django.utils import timezone

from config import views
from tests.health_support import answering_server, answering_upstreams, closed_port_url

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def upstream_requests(settings):
    """Both upstreams answer, from a real HTTP server; the requests it got."""
    with answering_upstreams(settings) as requests:
        yield requests


@pytest.fixture
def staff_client(client, django_user_model):
    """A logged-in staff member: they see each check, not only the status."""
    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))
    return client


def test_healthy(staff_client):
    response = staff_client.get("/healthz")
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


def test_anonymous_callers_get_the_status_and_the_code_only(client, settings):
    """A balancer needs whether this host serves; what each check found is for staff."""
    healthy = client.get("/healthz")
    assert (healthy.status_code, healthy.json()) == (200, {"status": "ok"})

    settings.BITBADGES_API_KEY = ""
    broken = client.get("/healthz")
    assert (broken.status_code, broken.json()) == (503, {"status": "unavailable"})
    assert "BITBADGES_API_KEY" not in broken.text


def test_a_real_upstream_down_is_ok_to_a_balancer(client, settings):
    settings.SANDBOX = False
    settings.BITBADGES_API_URL = closed_port_url()
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_members_who_are_not_staff_see_the_status_only(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("alice"))
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_missing_upstream_settings_are_named(staff_client, settings):
    settings.PIPEDREAM_CLIENT_SECRET = ""
    settings.BITBADGES_API_KEY = ""
    response = staff_client.get("/healthz")
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
    staff_client, settings, environment, public_url, warns
):
    settings.PIPEDREAM_PROJECT_ENVIRONMENT = environment
    settings.PUBLIC_URL = public_url

    response = staff_client.get("/healthz")

    assert response.status_code == 200
    upstream = response.json()["checks"]["upstream"]
    assert upstream["ok"] is True
    if warns:
        assert "development on a public URL" in upstream["warning"]
        assert "signed in to pipedream.com" in upstream["warning"]
        assert "10 members" in upstream["warning"]
    else:
        assert "warning" not in upstream


def test_unreachable_cache_is_reported(staff_client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # Nothing listens on port 1: a real connection failure, quickly.
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5},
        }
    }
    response = staff_client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["cache"] == {"ok": False, "error": "ConnectionError"}
    assert body["checks"]["database"]["ok"] is True


def test_task_backlog_without_a_worker_is_unhealthy(staff_client):
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
    response = staff_client.get("/healthz")
    assert response.status_code == 503
    tasks = response.json()["checks"]["tasks"]
    assert tasks["ok"] is False
    assert tasks["ready"] == 1
    assert "no worker" in tasks["error"]


def test_only_get(client):
    assert client.post("/healthz").status_code == 405


def test_an_upstream_nobody_listens_on_is_named_and_nothing_more(staff_client, settings):
    settings.BITBADGES_API_URL = closed_port_url()
    response = staff_client.get("/healthz")
    assert response.status_code == 503
    upstream = response.json()["checks"]["upstream"]
    assert upstream["ok"] is False
    assert upstream["unreachable"] == ["bitbadges"]
    assert upstream["error"] == "no answer from bitbadges"
    # The page is public: neither the URL nor the error's text.
    text = response.content.decode()
    assert settings.BITBADGES_API_URL.rsplit(":", 1)[1] not in text
    assert "refused" not in text.lower()


def test_both_upstreams_unreachable_are_both_named(staff_client, settings):
    settings.PIPEDREAM_API_URL = closed_port_url() + "/sandbox/pipedream"
    settings.BITBADGES_API_URL = closed_port_url() + "/sandbox/bitbadges"
    response = staff_client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["upstream"]["unreachable"] == ["pipedream", "bitbadges"]


def test_an_upstream_that_never_answers_counts_as_unreachable(staff_client, settings, monkeypatch):
    monkeypatch.setattr(views, "UPSTREAM_PROBE_TIMEOUT_SECONDS", 0.3)
    with socket.socket() as silent:  # accepts connections (the kernel does), says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings.PIPEDREAM_API_URL = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        response = staff_client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["upstream"]["unreachable"] == ["pipedream"]


def test_any_http_answer_counts_and_each_upstream_is_asked_once(client, upstream_requests):
    # The answering server says 404 to everything: still an upstream that is there.
    assert client.get("/healthz").status_code == 200
    assert sorted(upstream_requests) == [("HEAD", "/bitbadges"), ("HEAD", "/pipedream")]


def test_the_answer_is_kept_for_a_while_so_polls_never_hammer_upstream(
    client, settings, upstream_requests
):
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
    assert len(upstream_requests) == 2  # once each, for all five polls

    # An upstream that was not there stays "not there" for the same while, then is
    # asked again.
    settings.BITBADGES_API_URL = closed = closed_port_url()
    assert client.get("/healthz").status_code == 503
    with answering_server(port=int(closed.rsplit(":", 1)[1])) as (_, later_requests):
        assert client.get("/healthz").status_code == 503
        assert later_requests == []
        cache.clear()  # the while is over
        assert client.get("/healthz").status_code == 200
        assert later_requests == [("HEAD", "/")]


def test_a_real_upstream_down_is_degraded_not_a_failure(staff_client, settings, upstream_requests):
    """Without the sandbox the upstreams are Pipedream and BitBadges themselves: their
    outage would fail every host alike, so it is reported and the answer stays 200."""
    settings.SANDBOX = False
    settings.BITBADGES_API_URL = closed_port_url()

    response = staff_client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    upstream = body["checks"]["upstream"]
    assert upstream["ok"] is True
    assert upstream["unreachable"] == ["bitbadges"]
    assert upstream["error"] == "no answer from bitbadges"


def test_one_request_asks_at_a_time_and_the_others_do_not_wait(
    staff_client, settings, upstream_requests
):
    """While one request is asking (its marker in the cache), another asks nothing and
    reports nothing unreachable, so polls cannot multiply calls upstream."""
    cache.set("healthz:asking", 1, timeout=30)

    response = staff_client.get("/healthz")

    assert response.status_code == 200
    assert "unreachable" not in response.json()["checks"]["upstream"]
    assert upstream_requests == []
    cache.delete("healthz:asking")
    assert staff_client.get("/healthz").status_code == 200
    assert len(upstream_requests) == 2

"""Every page's upstream calls share one budget, below gunicorn's 30 s worker timeout
(config.middleware.UpstreamBudgetMiddleware); task workers keep their full retries.

Pipedream hangs (the sandbox over real HTTP, live_server); what it receives is counted
as it arrives, so the tries a page makes are seen whether they time out or not.
"""

import pytest
from django.core.signals import request_started

from connections import pipedream
from connections.models import App
from tests.live_support import wait_until_served

pytestmark = pytest.mark.django_db(transaction=True)

APPS_PATH = "/sandbox/pipedream/v1/connect/apps/"


@pytest.fixture
def arrivals():
    """Paths of the requests the sandbox's Pipedream receives, in order."""
    seen = []

    def count(sender, environ=None, **kwargs):
        path = (environ or {}).get("PATH_INFO", "")
        if path.startswith(APPS_PATH):
            seen.append(path)

    request_started.connect(count, weak=False, dispatch_uid="budget-arrivals")
    yield seen
    request_started.disconnect(dispatch_uid="budget-arrivals")


@pytest.fixture
def hanging(upstreams, apps, settings):
    settings.SANDBOX_FAULTS = {"pipedream.apps.*": {"hang_seconds": 0.6}}
    # What a task worker would spend on each app: 4 tries of up to 0.3 s, with backoff.
    settings.PIPEDREAM_TIMEOUT = 0.3
    settings.PIPEDREAM_MAX_RETRIES = 3
    settings.WEB_UPSTREAM_BUDGET = 0.5
    yield
    wait_until_served(0.7)  # the sandbox's hung answers finish before the next test


def sync_all(client):
    ids = [str(pk) for pk in App.objects.values_list("pk", flat=True)]
    return client.post(
        "/admin/connections/app/",
        {"action": "sync_from_pipedream", "_selected_action": ids},
        follow=True,
    )


def test_an_admin_action_against_a_hanging_pipedream_stops_at_the_page_budget(
    hanging, admin_client, arrivals
):
    page = sync_all(admin_client)
    assert page.status_code == 200
    text = page.content.decode()
    # Each app is named with what went wrong; none was refreshed.
    for slug in ("github", "discord", "slack"):
        assert f"{slug}: " in text
    assert "Refreshed" not in text
    # Without the budget: 3 apps x 4 tries. Within 0.5 s at most 2 tries of 0.3 s
    # start, and the apps after them are not asked at all.
    assert 1 <= len(arrivals) <= 2, arrivals


def test_the_same_calls_outside_a_web_request_keep_their_retries(hanging, arrivals, settings):
    settings.PIPEDREAM_MAX_RETRIES = 1  # a try and a retry, each its full 0.3 s
    with pytest.raises(pipedream.PipedreamError):
        pipedream.get_client().get_app("github")
    assert len(arrivals) == 2

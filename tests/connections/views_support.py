"""Helpers for the connections views tests: Pipedream settings and a JSON post."""

import json
from urllib.parse import urlsplit

from sandbox.pipedream import webhooks as sandbox_webhooks

API = "https://api.pipedream.test"
PROJECT = "proj_views"
CTOK = "ctok_0123456789abcdef0123456789abcdef"
TOKENS_URL = f"{API}/v1/connect/{PROJECT}/tokens"
ACCOUNTS_URL = f"{API}/v1/connect/{PROJECT}/accounts"


def post_json(client, url, body, **extra):
    return client.post(url, data=json.dumps(body), content_type="application/json", **extra)


def local(url: str) -> str:
    """A live_server URL as the test client asks for it."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def deliver_webhooks(worker):
    sandbox_webhooks.wait_for_deliveries()
    worker()


def connect_by_link(client, path, name, *, webhook_first=False, worker=None):
    """Open our link, Allow on the hosted page with `name`, come back; the last page."""
    hand_off = client.get(path)
    assert hand_off.status_code == 302, hand_off.content
    answer = client.post(local(hand_off["Location"]), {"action": "allow", "name": name})
    assert answer.status_code == 302, answer.content
    if webhook_first:  # CONNECTION_SUCCESS lands before the member is back
        deliver_webhooks(worker)
    return client.get(local(answer["Location"]), follow=True)

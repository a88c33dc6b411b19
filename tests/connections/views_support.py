"""Helpers for the connections views tests: Pipedream settings and a JSON post."""

import json

API = "https://api.pipedream.test"
PROJECT = "proj_views"
CTOK = "ctok_0123456789abcdef0123456789abcdef"
TOKENS_URL = f"{API}/v1/connect/{PROJECT}/tokens"
ACCOUNTS_URL = f"{API}/v1/connect/{PROJECT}/accounts"


def post_json(client, url, body, **extra):
    return client.post(url, data=json.dumps(body), content_type="application/json", **extra)

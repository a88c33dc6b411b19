"""connections.services test helpers: settings for a Pipedream answered by `responses`,
payloads, and a Connect session. The `pd` fixture that uses them is in tests/conftest.py;
`github` and `received` are in tests/connections/conftest.py."""

import datetime
import hashlib

from connections.models import ConnectSession

API = "https://api.pipedream.test"
PROJECT = "proj_test123"
CTOK = "ctok_0123456789abcdef0123456789abcdef"
PUBLIC = "https://claims.example.com"
TOKENS_URL = f"{API}/v1/connect/{PROJECT}/tokens"
ACCOUNTS_URL = f"{API}/v1/connect/{PROJECT}/accounts"


def app_data(slug="github", name="GitHub"):
    return {
        "id": f"app_{slug}",
        "name_slug": slug,
        "name": name,
        "auth_type": "oauth",
        "img_src": f"https://assets.example/{slug}.png",
        "custom_fields_json": "[]",
        "categories": [],
        "featured_weight": 1,
    }


def account_data(pid="apn_abc123", external_id="user-1", *, app="github", **fields):
    return {
        "id": pid,
        "name": "octocat",
        "external_id": str(external_id),
        "healthy": True,
        "dead": False,
        "app": app_data(app, app.title()),
        "created_at": "2025-08-01T04:04:03.000Z",
        "updated_at": "2025-08-01T04:04:03.000Z",
        "error": None,
        **fields,
    }


def page(items, end_cursor=None):
    return {"data": items, "page_info": {"count": len(items), "end_cursor": end_cursor}}


def token_body(token=CTOK):
    return {
        "token": token,
        "expires_at": "2030-01-01T04:00:00.000Z",
        "connect_link_url": f"https://pipedream.test/_static/connect.html?token={token}&connectLink=true",
    }


def make_session(member, app, token=CTOK, **fields):
    return ConnectSession.objects.create(
        member=member,
        app=app,
        mode=ConnectSession.Mode.IFRAME,
        token_digest=hashlib.sha256(token.encode()).hexdigest(),
        expires_at=datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC),
        **fields,
    )

"""Fixtures for the fault suite: a member's browser as a `requests` session against
live_server, and database drops. The claims fixtures (both sandboxes over real HTTP)
come from tests/conftest.py."""

import re

import pytest
import requests

from tests.faults.dbdrop_support import DropPlan

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def dbdrop():
    plan = DropPlan()
    plan.install()
    yield plan
    plan.uninstall()


class Browser:
    """A member's browser over real HTTP: session cookie, CSRF header on POSTs, and a
    record of every status it saw."""

    def __init__(self, base_url: str, client, member):
        self.base = base_url
        self.http = requests.Session()
        self.seen: list[tuple[str, str, int]] = []
        if member is not None:
            client.force_login(member)
            self.http.cookies.set("sessionid", client.cookies["sessionid"].value)
            # The next member logs in on a client of their own: logging another member
            # in on this one would end this member's session.
            client.cookies.clear()

    def request(self, method: str, path: str, **kwargs):
        url = path if path.startswith("http") else f"{self.base}{path}"
        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("allow_redirects", False)
        if method != "GET":
            token = self.http.cookies.get("csrftoken")
            if token is None:
                self.get("/accounts/")
                token = self.http.cookies.get("csrftoken")
            kwargs.setdefault("headers", {})["X-CSRFToken"] = token
        try:
            response = self.http.request(method, url, **kwargs)
        finally:
            # A fresh connection each time: a kept-alive one pins a live_server thread
            # (and its database connection) past the test. The cookies stay.
            self.http.close()
        self.seen.append((method, path, response.status_code))
        return response

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.request("POST", path, **kwargs)

    def close(self):
        self.http.close()


@pytest.fixture
def browser(upstreams, client):
    """browser(member) -> Browser logged in as `member` on live_server."""
    opened = []

    def make(member):
        session = Browser(upstreams.url, client, member)
        opened.append(session)
        return session

    yield make
    for session in opened:
        session.close()

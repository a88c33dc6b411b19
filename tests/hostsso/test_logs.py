"""What is logged while members sign on from the host site, at LOG_LEVEL=DEBUG (and
Authlib's own loggers, the sandbox provider's, at DEBUG too): never the client secret, a
code, a state, a nonce, an access token or an id_token, whether the sign-on works, the
host refuses this site's secret, or its id_token fails a check. Nor is the secret on the
member admin, the logins' admin or the /sandbox/ page."""

import logging
import logging.config
import re

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from config.logging_config import logging_dict
from tests.hostsso.host_support import CLIENT_SECRET, at_host, back, query, sign_on, start

pytestmark = pytest.mark.django_db(transaction=True)

WRONG_SECRET = "not-the-secret-the-host-knows-0123"  # noqa: S105 (a test value)


class Keep(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(f"{record.name} {record.getMessage()} {record.__dict__!r}")


@pytest.fixture
def debug_logs():
    config = logging_dict("plain", "DEBUG")
    config["loggers"]["authlib"] = {"level": "DEBUG"}
    logging.config.dictConfig(config)
    keep = Keep()
    logging.getLogger().addHandler(keep)
    yield keep.lines
    logging.getLogger().removeHandler(keep)
    logging.config.dictConfig(django_settings.LOGGING)


def test_no_secret_code_or_token_in_the_logs_at_debug(client, host, settings, debug_logs):
    said = []  # what crossed the wire and must not be logged
    for secret, faults in (
        (CLIENT_SECRET, {}),
        (WRONG_SECRET, {}),
        (CLIENT_SECRET, {"host.id_token.bad_signature": {}}),
        (CLIENT_SECRET, {"host.token": {"status": 500}}),
    ):
        client.logout()
        settings.HOST_OIDC_CLIENT_SECRET = secret
        settings.SANDBOX_FAULTS = faults
        authorize_url = start(client)
        sent = query(authorize_url)
        location = at_host(authorize_url)
        said += [sent["state"], sent["nonce"], sent["code_challenge"], query(location)["code"]]
        back(client, location)
    assert client.get("/profile/").wsgi_request.user.is_anonymous  # the last one failed
    logged = "\n".join(debug_logs)
    assert "Host sign-on: config (status 401)" in logged  # the failures were logged, at all
    assert "Host sign-on: token" in logged
    for text in (CLIENT_SECRET, WRONG_SECRET, *said):
        assert text not in logged
    assert not re.search(r"eyJ[\w-]{10,}", logged)  # no JWT (id_token)
    assert "access_token" not in logged


def test_no_secret_in_the_admin_or_the_sandbox_page(client, host, admin_client):
    sign_on(client, member="alice")
    member = get_user_model().objects.get(username="alice")
    pages = [
        admin_client.get(reverse("admin:users_user_change", args=[member.pk])),
        admin_client.get(reverse("admin:socialaccount_socialaccount_changelist")),
        admin_client.get(reverse("sandbox:index")),
    ]
    for page in pages:
        assert page.status_code == 200
        assert CLIENT_SECRET not in page.content.decode()
    assert "host-alice-0001" in pages[0].content.decode()  # the host id is shown

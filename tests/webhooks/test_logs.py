"""What the site logs about its webhooks, at LOG_LEVEL=DEBUG, holds no secret.

An endpoint is added and its secret rotated in the admin, then messages are sent by the
real task worker: delivered, answered 500, refused at send time, and signed with a secret
no key reads. No log record (its message, arguments and extra fields) holds a signing
secret, the URL's path or query (where a token often is), or the webhook-signature.
"""

import logging
import logging.config

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from config.logging_config import logging_dict
from tests.claims.claims_support import run_worker
from webhooks import events
from webhooks.models import Delivery, Endpoint, EventType

pytestmark = pytest.mark.django_db(transaction=True)


class Keep(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(f"{record.name} {record.getMessage()} {record.__dict__!r}")


@pytest.fixture
def debug_logs():
    """Every record the site's loggers write with LOG_LEVEL=DEBUG."""
    logging.config.dictConfig(logging_dict("plain", "DEBUG"))
    keep = Keep()
    logging.getLogger().addHandler(keep)
    yield keep.lines
    logging.getLogger().removeHandler(keep)
    logging.config.dictConfig(django_settings.LOGGING)


def test_no_secret_or_url_path_in_the_logs_at_debug(settings, admin_client, receiver, debug_logs):
    hook = receiver(statuses=[500])
    url = hook.url.replace("/hooks/connect", "/hooks/TOKENPATH42?key=TOKENQUERY42")
    added = admin_client.post(
        reverse("admin:webhooks_endpoint_add"), {"name": "Site", "url": url, "enabled": "on"}
    )
    endpoint = Endpoint.objects.get()
    rotated = admin_client.post(reverse("admin:webhooks_endpoint_rotate", args=[endpoint.pk]))
    secrets = [added.context["secret"], rotated.context["secret"]]

    events.emit(EventType.MEMBER_DELETED, {"member": None, "deleted_at": None})  # 500
    admin_client.post(reverse("admin:webhooks_endpoint_test", args=[endpoint.pk]))
    run_worker()
    settings.SANDBOX = settings.DEBUG = False  # plain http to this machine: refused
    events.emit(EventType.MEMBER_DELETED, {"member": None, "deleted_at": None})
    run_worker()
    settings.SANDBOX = True
    settings.CLAIM_SECRETS_KEYS = ["a-key-that-reads-nothing-here-0123456789"]
    events.emit(EventType.MEMBER_DELETED, {"member": None, "deleted_at": None})
    run_worker()

    assert len(hook.requests) == 2  # the 500 and the test
    assert Delivery.objects.filter(error__startswith="Not sent").exists()
    assert Delivery.objects.filter(error__contains="cannot be decrypted").exists()
    logged = "\n".join(debug_logs)
    assert "try 1 failed" in logged  # the tries were logged, at all
    signatures = [headers["webhook-signature"] for headers, _ in hook.requests]
    for secret in secrets:
        assert secret.removeprefix("whsec_")[:20] not in logged
    for text in ("TOKENPATH42", "TOKENQUERY42", *signatures):
        assert text not in logged

"""Helpers for the notifications tests: a member's accounts broken or mended in the
Pipedream sandbox and told to the site by a real accounts_sync, and the emails' parts."""

import re
from email import message_from_bytes
from email.policy import default as default_policy
from urllib.parse import urlsplit

from django.core import mail

from connections import services as connections_services
from sandbox.pipedream import services as pd_sandbox
from sandbox.pipedream.models import Account


def set_health(member, *accounts, state: str) -> None:
    """Each account turns `state` at Pipedream; one sync tells the site."""
    for account in accounts:
        upstream = Account.objects.get(account_id=account.pipedream_id)
        pd_sandbox.account_set_health(upstream, state=state, error="invalid_grant")
    connections_services.accounts_sync(member=member)


def html_of(message) -> str:
    return next(body for body, kind in message.alternatives if kind == "text/html")


def links(text: str) -> list[str]:
    return re.findall(r"https?://[^\s<>\"]+", text)


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def unsubscribe_url(message) -> str:
    header = message.extra_headers["List-Unsubscribe"]
    assert header.startswith("<") and header.endswith(">"), header
    return header[1:-1]


def as_sent(message):
    """The message as the mail server gets it (headers and MIME parts)."""
    return message_from_bytes(message.message().as_bytes(), policy=default_policy)


def outbox_to(address: str) -> list:
    return [message for message in mail.outbox if address in message.to]

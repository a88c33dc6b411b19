"""Every claim transition is logged once, with its context and without secrets."""

import logging

import pytest

from claims.models import Completion, CompletionEvent
from tests.claims.claims_support import run_worker

pytestmark = pytest.mark.django_db(transaction=True)


def _transition_records(caplog):
    return [
        r for r in caplog.records if r.name == "claims.engine.ledger" and hasattr(r, "to_state")
    ]


@pytest.mark.parametrize("slug", ["github-starter", "github-builders", "github-workflow"])
def test_each_transition_is_logged_once(demo_claims, alice, connect, caplog, slug):
    caplog.set_level(logging.INFO, logger="claims")
    claim = demo_claims[slug]
    connect(alice, "github", "octo-pro")
    run_worker()

    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "completed", completion.reason
    events = list(
        CompletionEvent.objects.filter(completion=completion)
        .order_by("pk")
        .values_list("from_state", "to_state", "actor_kind", "reason")
    )
    logged = [
        (r.from_state, r.to_state, r.actor_kind, r.why)
        for r in _transition_records(caplog)
        if r.completion == completion.pk
    ]
    assert logged == events
    for record in _transition_records(caplog):
        assert record.claim == claim.pk or record.completion != completion.pk
        if record.completion == completion.pk:
            assert record.member == alice.pk


def test_the_log_never_carries_secrets(demo_claims, alice, connect, caplog, settings):
    caplog.set_level(logging.DEBUG)
    connect(alice, "github", "octo-pro")
    run_worker()
    text = "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records).lower()

    assert _transition_records(caplog)  # the run did log transitions
    secrets = [
        settings.BITBADGES_API_KEY.lower(),
        settings.PIPEDREAM_CLIENT_SECRET.lower(),
        *(key.lower() for key in settings.CLAIM_SECRETS_KEYS),
    ]
    store_claim = demo_claims["github-builders"]
    secrets.append(store_claim.store_secret().lower())
    for secret in secrets:
        assert secret not in text

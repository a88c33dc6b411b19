"""Fixtures for the claims tests: both sandboxes over real HTTP, members, accounts, claims."""

import secrets

import pytest
from django.core.management import call_command

from claims.models import Claim
from connections import services as connections_services
from core.addresses import eth_checksum
from members.management.commands.seed_demo import _claim_upsert, demo_claim_specs
from sandbox import bitbadges as bb_sandbox
from sandbox import catalogue
from sandbox import services as pd_sandbox
from tests.members_support import verify_email

ALICE_ADDRESS = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"


def random_address() -> str:
    return eth_checksum(secrets.token_hex(20))


def run_worker():
    """The real task worker, once through the queue (it closes its connection after)."""
    call_command("db_worker", batch=True, no_startup_delay=True, verbosity=0)


@pytest.fixture
def upstreams(live_server, settings):
    """The app talks HTTP to both sandboxes served by live_server; nothing waits long."""
    settings.PUBLIC_URL = live_server.url
    settings.PIPEDREAM_API_URL = f"{live_server.url}/sandbox/pipedream"
    settings.PIPEDREAM_CONNECT_URL = f"{live_server.url}/sandbox/pipedream"
    settings.BITBADGES_API_URL = f"{live_server.url}/sandbox/bitbadges"
    settings.SANDBOX_FAULTS = {}
    settings.SANDBOX_BITBADGES_ATTEMPT_DELAY = 0.2
    settings.SANDBOX_BITBADGES_STORE_LAG = 0.2
    settings.BITBADGES_TIMEOUT = 5
    settings.PIPEDREAM_TIMEOUT = 5
    settings.BITBADGES_MAX_RETRIES = 1
    settings.PIPEDREAM_MAX_RETRIES = 1
    settings.CLAIMS_POLL_INTERVAL = 0.1
    settings.CLAIMS_POLL_DEADLINE = 5
    settings.CLAIMS_RETRY_BASE = 1
    settings.CLAIMS_RETRY_MAX = 5
    settings.CLAIMS_MAX_ATTEMPTS = 4
    return live_server


@pytest.fixture
def apps(db):
    """The demo apps, enabled, as sync_apps would record them."""
    recorded = {}
    for order, slug in enumerate(["github", "discord", "slack"]):
        app, _ = connections_services.app_upsert_from_pipedream(
            data=catalogue.get_catalogue_app(slug), enabled=True, order=order
        )
        recorded[slug] = app
    return recorded


@pytest.fixture
def demo_claims(upstreams, apps):
    """The seed's three demo claims (one per delivery method), keyed by slug."""
    specs = demo_claim_specs(bb_sandbox.demo_claims_ensure())
    return {spec["slug"]: _claim_upsert(spec)[0] for spec in specs}


@pytest.fixture
def make_claim():
    """make_claim(slug, apps=[...], enabled=..., **fields): a claim needing no upstream
    (dynamic store delivery, no criterion) unless the fields say otherwise."""

    def make(slug, *, apps=(), enabled=True, name=None, **fields):
        claim = Claim(
            slug=slug,
            name=name or slug.replace("-", " ").title(),
            enabled=enabled,
            delivery="dynamic_store",
            store_id="s",
            **fields,
        )
        claim.set_store_secret("x")
        claim.save()
        claim.required_apps.set(apps)
        return claim

    return make


@pytest.fixture
def alice(django_user_model):
    return verify_email(
        django_user_model.objects.create_user(
            username="alice",
            email="alice@example.com",
            password="connect-demo",
            address=ALICE_ADDRESS,
        )
    )


@pytest.fixture
def connect(upstreams):
    """connect(member, "github", name) -> ConnectedAccount: the account is created in the
    Pipedream sandbox and recorded through the app's own service (which fetches it over
    HTTP and sends account_connected on commit)."""

    def connect(member, app_slug="github", name="octo"):
        raw, token = pd_sandbox.connect_token_create(
            project_id="proj_sandbox",
            environment="development",
            external_user_id=str(member.external_id),
        )
        upstream = pd_sandbox.account_connect(token=token, app_slug=app_slug, name=name)
        return connections_services.account_record(member=member, pipedream_id=upstream.account_id)

    return connect


@pytest.fixture
def worker():
    return run_worker

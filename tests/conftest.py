"""Fixtures shared by the whole suite.

The claims fixtures (both sandboxes over real HTTP, members, accounts, claims) are here
rather than in tests/claims/conftest.py because the attack and fault suites use them too.
"""

import importlib
import os
import tempfile
import uuid
from pathlib import Path

import pytest
import responses
from django.conf import settings
from django.core.cache import cache, caches
from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper
from django.db.models.signals import post_migrate

from claims.bitbadges.client import BitBadgesBase
from claims.models import Claim
from connections import services as connections_services
from connections.pipedream.client import PipedreamBase
from members.management.commands.seed_demo import _claim_upsert, demo_claim_specs
from sandbox.bitbadges import demo as bb_sandbox
from sandbox.pipedream import catalogue
from sandbox.pipedream import services as pd_sandbox
from tests.claims.claims_support import ALICE_ADDRESS, require, run_worker
from tests.connections.services_support import API, PROJECT, PUBLIC
from tests.members_support import verify_email

_truncate = PostgresOperations.sql_flush
SQLiteOperations = SQLiteWrapper.ops_class
_sqlite_flush = SQLiteOperations.sql_flush

# Rows the post_migrate signal makes again after every flush, the same each time (a
# content type per model, its permissions): a flush that keeps them leaves post_migrate
# only reading. Deleted, they were inserted again (some 500 rows, a commit per app) after
# every transactional test: half of each flush's time, about 0.035 s on PostgreSQL and
# 0.025 s on SQLite on a quiet machine, far more on a busy one. A row a test removed (a
# migration run backwards) is made again by post_migrate as before; no test adds any.
_KEPT_BY_FLUSH = frozenset({"django_content_type", "auth_permission"})


def _flush_keeping_content_types(tables):
    return [table for table in tables if table not in _KEPT_BY_FLUSH]


def _sql_flush_by_delete(self, style, tables, *, reset_sequences=False, allow_cascade=False):
    """Empty every table but the content types and permissions with DELETE, not one
    TRUNCATE, after each transactional test on PostgreSQL.

    The end state is the same (every table empty, sequences left as they are: the test
    flush asks for no reset), and Django's foreign keys there are DEFERRABLE INITIALLY
    DEFERRED, so the DELETEs in the flush's transaction may come in any order (a key
    made NOT DEFERRABLE would make the flush fail loudly, not leave rows). But a TRUNCATE
    of every table cost 0.4-1.5 s each time on a busy machine (new files per table), the
    DELETEs of a test's few rows about 0.02 s, and a few hundred tests flush. A flush that
    resets sequences or cascades keeps Django's TRUNCATE of every table.
    """
    if reset_sequences or allow_cascade:
        return _truncate(
            self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
    return [
        f"{style.SQL_KEYWORD('DELETE')} {style.SQL_KEYWORD('FROM')} "
        f"{style.SQL_FIELD(self.quote_name(table))};"
        for table in _flush_keeping_content_types(tables)
    ]


def _sqlite_flush_keeping_content_types(
    self, style, tables, *, reset_sequences=False, allow_cascade=False
):
    """SQLite's own flush (a DELETE per table) of every table but the content types and
    permissions; one that resets sequences or cascades empties them all, as Django's."""
    if not (reset_sequences or allow_cascade):
        tables = _flush_keeping_content_types(tables)
    return _sqlite_flush(
        self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
    )


# The data migrations that make the staff roles (groups with their permissions), in order.
_ROLE_MIGRATIONS = (
    ("claims.migrations.0011_staff_roles", "create_roles"),
    ("claims.migrations.0015_roles_for_requirements", "add_permissions"),
    ("claims.migrations.0019_completion_staff_actions", "add_permission"),
)


# Each role's name and its permissions as (app label, codename), once the migrations'
# own functions have made them in this process: putting them back is then two INSERTs.
_roles_made: list[tuple[str, list[tuple[str, str]]]] = []


def _roles_back_after_a_flush(sender, plan=None, using="default", **kwargs):
    """Put back the staff roles migrate made, after a transactional test's flush emptied
    the groups (its post_migrate comes with no plan; migrate's comes with one).

    Without it, a test that reads a role would pass or fail by what ran before it in the
    same process: the parallel run (pytest-xdist) hands each process whole files, so a
    transactional test's flush may come before any other file's test.
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.models import Group, Permission

    if plan is not None or sender.label != "claims" or Group.objects.using(using).exists():
        return
    if not _roles_made:
        for module, function in _ROLE_MIGRATIONS:
            getattr(importlib.import_module(module), function)(global_apps, None)
        for group in Group.objects.using(using).prefetch_related("permissions__content_type"):
            held = [(p.content_type.app_label, p.codename) for p in group.permissions.all()]
            _roles_made.append((group.name, held))
        return
    # Permissions are looked up again: one deleted by a test and made again has a new id.
    ids = {
        (app_label, codename): pk
        for pk, app_label, codename in Permission.objects.using(using).values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    groups = Group.objects.using(using).bulk_create([Group(name=name) for name, _ in _roles_made])
    Group.permissions.through.objects.using(using).bulk_create(
        Group.permissions.through(group_id=group.pk, permission_id=ids[held])
        for group, (_, permissions) in zip(groups, _roles_made, strict=True)
        for held in permissions
    )


def pytest_configure(config):
    # Tests serve static files from the source folders (no collectstatic step), the way
    # DEBUG does, while every other setting stays as in production.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    settings.STATIC_ROOT = tempfile.mkdtemp(prefix="cc-static-")
    # Hashing a password the production way takes most of a second; tests make many.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    PostgresOperations.sql_flush = _sql_flush_by_delete
    SQLiteOperations.sql_flush = _sqlite_flush_keeping_content_types
    post_migrate.connect(_roles_back_after_a_flush, dispatch_uid="tests-roles-after-flush")


@pytest.fixture(autouse=True)
def _close_upstream_connections():
    """A kept-alive connection to live_server would pin one of its request threads, and
    that thread's database connection, past the test (PostgreSQL then cannot drop the
    test database)."""
    yield
    from claims.bitbadges import close_shared_session as close_bitbadges_session
    from connections.pipedream import close_shared_session

    close_shared_session()
    close_bitbadges_session()


@pytest.fixture(autouse=True, scope="session")
def _executor_migrations_turn_the_data_version_off():
    """`manage.py migrate` sends pre_migrate and post_migrate, whose receivers turn the
    data version's triggers off and on again (claims/funnel/version.py); the tests that
    drive MigrationExecutor themselves get the same. On PostgreSQL the triggers' events
    still pending in the test's transaction fire first: a table with pending trigger
    events cannot be altered."""
    from django.db.migrations.executor import MigrationExecutor  # patched for the run

    from claims.funnel import version as data_version

    original = MigrationExecutor.migrate

    def migrate(self, *args, **kwargs):
        connection = self.connection
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        data_version.uninstall(connection.alias)
        try:
            return original(self, *args, **kwargs)
        finally:
            data_version.install(connection.alias)
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    MigrationExecutor.migrate = migrate
    yield
    MigrationExecutor.migrate = original


@pytest.fixture
def shared_cache(settings):
    """The default cache on the local Redis, shared as production's is between processes
    (core/shared_version.py keeps nothing on the local-memory cache), under a prefix of
    this test's own. Skipped without Redis, except in CI (CI=true), where it fails."""
    import redis  # only the tests that ask for this fixture need it

    url = os.environ.get("RATELIMIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs Redis for the shared cache: {exc}")
        pytest.skip(f"Redis is not reachable: {exc}")
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "core.redis_cache.KeptClientRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
        }
    }
    yield caches["default"]
    # This test's keys only (clear() would empty the Redis database other runs share).
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (tokens, rate limits)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _close_upstream_breakers():
    """A timeout in one test's page does not make the next test's pages fail fast."""
    from core.client import breakers_reset

    breakers_reset()
    yield
    breakers_reset()


@pytest.fixture
def member(django_user_model):
    """alice, with her email address confirmed (as seed_demo's members are)."""
    return verify_email(
        django_user_model.objects.create_user(
            username="alice", email="alice@example.com", password="connect-demo"
        )
    )


@pytest.fixture
def unverified_member(django_user_model):
    """carol, who signed up but has not opened the confirmation link yet."""
    from allauth.account.models import EmailAddress

    user = django_user_model.objects.create_user(
        username="carol", email="carol@example.com", password="connect-demo"
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    return user


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium through Playwright, one for the whole run.

    One only: Playwright's sync API runs an event loop in the main thread for as long as
    it is open, and a second one started beside it refuses to start.
    """
    from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, MISSING

    if not Path(CHROMIUM).exists():
        pytest.fail(MISSING)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    """A page in a fresh browser context (its own cookies), desktop-sized."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


# --- connections: Pipedream answered by `responses` ---------------------------------------


@pytest.fixture
def pd(settings):
    """Pipedream answered by `responses`; the OAuth token is always granted."""
    settings.PUBLIC_URL = PUBLIC
    settings.PIPEDREAM_API_URL = API
    settings.PIPEDREAM_CONNECT_URL = "https://pipedream.test"
    settings.PIPEDREAM_CLIENT_ID = "client-id"
    settings.PIPEDREAM_CLIENT_SECRET = "client-secret"
    settings.PIPEDREAM_PROJECT_ID = PROJECT
    settings.PIPEDREAM_MAX_RETRIES = 0
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(
            f"{API}/v1/oauth/token",
            json={"access_token": "oauth", "token_type": "Bearer", "expires_in": 3600},
        )
        yield mock


# --- claims: both sandboxes over real HTTP, members, accounts, claims ---------------------


@pytest.fixture
def upstreams(live_server, settings, monkeypatch):
    """The app talks HTTP to both sandboxes served by live_server; nothing waits long.

    A retried call waits a tenth of its production backoff (0.05-0.1 s before the
    first retry, not 0.5-1 s): these tests are about what happens after an upstream's
    fault, not how long the client waits (tests/connections/test_pipedream_retries.py
    and tests/claims/bitbadges_client/test_retries.py check that, with their own
    clients); a Retry-After is still honoured as sent.
    """
    monkeypatch.setattr(PipedreamBase, "backoff_base", PipedreamBase.backoff_base / 10)
    monkeypatch.setattr(BitBadgesBase, "backoff_base", BitBadgesBase.backoff_base / 10)
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
    (dynamic store delivery, an account of each app and no check) unless the fields say
    otherwise."""

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
        require(claim, *apps)
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


# Fixtures that open the suite's database to a test (pytest-django blocks it otherwise).
_DATABASE_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "live_server"}
# Fixtures whose test commits, and so may meet other connections (live_server's threads).
_COMMITTING_FIXTURES = {"transactional_db", "django_db_reset_sequences", "live_server"}

# The sandbox's own tests: the sandbox stands in for Pipedream and BitBadges, and these
# check what it answers (shapes, statuses, errors, pages, its faults), through Django's
# test client inside one transaction that is rolled back. Its storage is not the
# product's; on PostgreSQL the product's own tests drive it over HTTP all the time (the
# claims, connections, attack and fault suites). Its tests that commit (live_server,
# threads, concurrency, webhooks sent after a commit) still run on both databases.
_SANDBOX_FIDELITY = (
    "tests/sandbox/",
    "tests/contract/test_bitbadges_sandbox_contract.py",
    "tests/contract/test_pipedream_sandbox_triggers_contract.py",
)


def _commits(item) -> bool:
    marker = item.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get(
        "transaction", bool(marker.args and marker.args[0])
    ):
        return True
    return bool(_COMMITTING_FIXTURES & set(getattr(item, "fixturenames", ())))


def _one_database(item) -> bool:
    if item.get_closest_marker("one_database") is not None:
        return True
    return item.nodeid.startswith(_SANDBOX_FIDELITY) and not _commits(item)


def pytest_collection_modifyitems(config, items):
    """With DATABASE_TESTS_ONLY=true (CI's second database), keep only the tests that can
    reach the database: pytest-django refuses database access to every other test, so
    they behave the same whatever DATABASE_URL says and ran on the first database. Tests
    marked `one_database` (what pages and emails say, in words and translations: the
    database engine decides none of it) ran on the first database too, and so did the
    sandbox's own tests that do not commit (_SANDBOX_FIDELITY above)."""
    if os.environ.get("DATABASE_TESTS_ONLY", "").lower() != "true":
        return
    kept, left = [], []
    for item in items:
        uses_database = item.get_closest_marker("django_db") is not None or bool(
            _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        )
        if _one_database(item):
            uses_database = False
        (kept if uses_database else left).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test databases, and at the end of the run, on PostgreSQL, the
    sessions still open on them closed first: a thread a test left behind (a live
    server's, a pool's) may keep its connection, and PostgreSQL will not drop a database
    anyone is connected to (the run ended with a warning and left the database behind)."""
    from django.db import connections

    yield
    with django_db_blocker.unblock():
        for connection in connections.all():
            if connection.vendor != "postgresql":
                continue
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )

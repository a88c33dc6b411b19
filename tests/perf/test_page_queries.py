"""The member pages run a constant number of queries whatever the number of accounts and
claims (issue 24): the same for a member with 1 account and 1 claim as for one with 9
accounts and 7 claims, served from the page cache (core/pagecache.py) and rendered with
it off; and each table a rendered page reads is one the cache's digest covers."""

import re

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core import pagecache
from tests.perf.pages_support import PAGES, populate

pytestmark = pytest.mark.django_db

# Tables a page reads that are not page content: the session and the member (the key
# holds the member's row), and the state of a queued re-read of the accounts (asked on
# each request while it runs, never kept; on a cache every process shares the worker's
# word in the cache answers instead: connections/freshness.py).
NOT_CONTENT = {"django_session", "users_user", "django_tasks_database_dbtaskresult"}


def _queries(client, path: str) -> list[str]:
    client.get(path)  # a first request fills what it fills
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, path
    return [query["sql"] for query in ctx.captured_queries]


def _member_page_queries(django_user_model, apps, client, settings, *, accounts, claims, cached):
    settings.PAGE_CACHE = cached
    member = django_user_model.objects.create_user(
        username=f"m{accounts}x{claims}", email=f"m{accounts}@example.com", password="pw"
    )
    populate(member, apps, accounts=accounts, claims=claims)
    client.force_login(member)
    return {path: len(_queries(client, path)) for path in PAGES}


@pytest.mark.parametrize("cached", [True, False], ids=["served", "rendered"])
def test_each_page_runs_the_same_queries_for_few_and_many_rows(
    django_user_model, apps, client, settings, cached
):
    few = _member_page_queries(
        django_user_model, apps, client, settings, accounts=1, claims=1, cached=cached
    )
    client.logout()
    many = _member_page_queries(
        django_user_model, apps, client, settings, accounts=9, claims=7, cached=cached
    )
    assert few == many
    if cached:
        # The session, the member, the digest: nothing else (fresh accounts: no re-read).
        assert set(few.values()) == {3}, few


def test_what_a_page_reads_the_digest_covers(django_user_model, apps, client, settings):
    settings.PAGE_CACHE = False
    member = django_user_model.objects.create_user(username="reader", password="pw")
    populate(member, apps, accounts=3, claims=3)
    client.force_login(member)
    covered = {django_apps.get_model(source.model)._meta.db_table for source in pagecache.SOURCES}
    for path in PAGES:
        read = set()
        for sql in _queries(client, path):
            read.update(re.findall(r'(?:FROM|JOIN) "([a-z_0-9]+)"', sql))
        assert read - NOT_CONTENT <= covered, (path, read - NOT_CONTENT - covered)

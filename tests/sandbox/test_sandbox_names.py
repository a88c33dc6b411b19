"""The sandbox page names the site's members by username, external id small beside it.

The person running the demo follows the README ("star as alice"): the page must say who
each account, trigger and Connect token belongs to without a UUID lookup. Ids that name
nobody stay ids; the site's own external user reads "the site". The page's queries do
not grow with its rows.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sandbox.bitbadges.claims import claim_create
from sandbox.bitbadges.models import BitBadgesAttempt, BitBadgesStore
from sandbox.pipedream import triggers
from sandbox.pipedream.catalogue import DEMO_STARRED_REPO
from sandbox.pipedream.components import TRIGGERS

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(client, django_user_model):
    user = django_user_model.objects.create_user(
        username="ops", password="connect-demo", is_staff=True, is_superuser=True
    )
    client.force_login(user)
    return client


def _member(django_user_model, username):
    return django_user_model.objects.create_user(username=username, password="x")


def _star_trigger(account, webhook_url="https://site.example/hooks/pd"):
    trigger, _ = triggers.deploy(
        component=TRIGGERS["github-new-star"],
        account=account,
        configured_props={
            "github": {"authProvisionId": account.account_id},
            "repoFullname": DEMO_STARRED_REPO,
        },
        webhook_url=webhook_url,
    )
    return trigger


def test_accounts_tokens_and_triggers_read_by_username(
    superuser, make_account, django_user_model, settings
):
    alice = _member(django_user_model, "alice")
    bob = _member(django_user_model, "bob")
    site = make_account(settings.PIPEDREAM_SITE_EXTERNAL_USER_ID, "github", "bitbadges-org")
    make_account(str(alice.external_id), "github", "alice-gh")
    make_account(str(bob.external_id), "github", "octo-few")
    make_account("someone-else-9f3", "slack", "stranger")
    _star_trigger(site)

    html = superuser.get("/sandbox/").content.decode()

    # Accounts and the Connect tokens that made them: the username, the id small beside it.
    assert html.count('<strong class="sbx-member">alice</strong>') >= 2
    assert html.count('<strong class="sbx-member">bob</strong>') >= 2
    assert str(alice.external_id)[:10] in html
    # The site's trigger belongs to "the site"; its Star as choice names who stars.
    assert '<strong class="sbx-member">the site</strong>' in html
    assert ">alice-gh (alice)</option>" in html or "(alice)</option>" in html
    assert "(bob)</option>" in html
    # An id that names no member is shown as it is.
    assert "<code" in html and "someone-else-9f3" in html
    assert '<strong class="sbx-member">someone-else-9f3' not in html


def test_an_id_that_looks_like_a_uuid_but_names_nobody_stays_an_id(
    superuser, make_account, django_user_model
):
    _member(django_user_model, "alice")
    make_account("00000000-0000-4000-8000-000000000000", "github", "ghost")

    html = superuser.get("/sandbox/").content.decode()

    assert "00000000-0000-4000-8000-000000000000" in html
    assert 'class="sbx-member">alice' not in html


def _page_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/sandbox/").status_code == 200
    return len(queries)


def _add_rows(make_account, django_user_model, settings, n, start):
    for i in range(start, start + n):
        member = _member(django_user_model, f"member{i}")
        account = make_account(str(member.external_id), "github", f"gh-{i}")
        trigger = _star_trigger(account)
        triggers.emit(trigger)
        triggers.emit(trigger)
        store = BitBadgesStore.objects.create(dynamic_data_id=f"{i + 256:032x}", data_secret="s")
        claim = claim_create(claim_id=f"{i:032x}", store=store)
        for n in range(2):
            BitBadgesAttempt.objects.create(
                attempt_id=f"a{i}-{n}",
                claim=claim,
                address=f"bb1member{i}x{n}",
                status=BitBadgesAttempt.Status.SUCCESS,
                due_at=timezone.now(),
            )


def test_the_page_queries_do_not_grow_with_its_rows(
    superuser, make_account, django_user_model, settings
):
    _add_rows(make_account, django_user_model, settings, 1, 0)
    _page_queries(superuser)  # the first view creates the BitBadges credits row
    few = _page_queries(superuser)
    _add_rows(make_account, django_user_model, settings, 6, 1)
    many = _page_queries(superuser)

    assert many == few
    html = superuser.get("/sandbox/").content.decode()
    assert "bb1member6x1" in html and "gh-6" in html

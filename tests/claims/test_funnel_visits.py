"""Anonymous visits of a claim's landing page, counted per claim and day for the funnel."""

from unittest import mock

import pytest
from django.db.models import QuerySet
from django.utils import timezone

from claims.models import Claim, ClaimVisit
from tests.claims.admin_support import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def claim():
    return Claim.objects.create(
        slug="starter", name="Starter", delivery=Claim.Delivery.WORKFLOW, enabled=True
    )


def visits(claim) -> dict:
    return dict(ClaimVisit.objects.filter(claim=claim).values_list("day", "count"))


def test_each_anonymous_get_counts_one_visit_today(client, claim):
    for _ in range(3):
        assert client.get("/c/starter/").status_code == 200
    assert visits(claim) == {timezone.localdate(): 3}


def test_members_partial_updates_and_head_are_not_visits(client, claim):
    assert client.get("/c/starter/", headers={"HX-Request": "true"}).status_code == 200
    assert client.head("/c/starter/").status_code == 405
    client.force_login(make_member("alice"))
    assert client.get("/c/starter/").status_code == 200
    assert visits(claim) == {}


def test_no_visit_for_a_missing_or_hidden_claim(client, claim):
    Claim.objects.filter(pk=claim.pk).update(enabled=False)
    assert client.get("/c/starter/").status_code == 404
    assert client.get("/c/nothing-here/").status_code == 404
    assert client.get("/c/" + "x" * 200 + "/").status_code == 404
    assert not ClaimVisit.objects.exists()


def test_a_racing_first_visit_is_counted_not_lost(client, claim):
    """Another visit made today's row between our update (which found none) and our
    insert: the insert fails on the unique day, and the visit is added to that row."""
    ClaimVisit.objects.create(claim=claim, day=timezone.localdate(), count=1)  # theirs
    real_update = QuerySet.update
    calls = []

    def update_before_the_row(self, **fields):
        if self.model is ClaimVisit:
            calls.append(fields)
            if len(calls) == 1:
                return 0  # as it was when we looked
        return real_update(self, **fields)

    with mock.patch.object(QuerySet, "update", update_before_the_row):
        assert client.get("/c/starter/").status_code == 200
    assert len(calls) == 2  # missed, then after the refused insert
    assert visits(claim) == {timezone.localdate(): 2}
    assert client.get("/c/starter/").status_code == 200
    assert visits(claim) == {timezone.localdate(): 3}

"""The proof follows the address on every save (users.models.User.save): a save that moves
the address to another account drops it, whoever saves (the profile, the claims page,
the admin), unless the same save sets a new proof."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests.siwbb.siwbb_support import ALICE_BB, ALICE_EIP55, BOB_BB

pytestmark = pytest.mark.django_db


@pytest.fixture
def proven(django_user_model):
    member = django_user_model.objects.create_user(username="dora", password="x")
    member.address = ALICE_EIP55
    member.address_proven_at = timezone.now()
    member.save()
    return get_user_model().objects.get(pk=member.pk)


def reread(member):
    return get_user_model().objects.get(pk=member.pk)


def test_another_account_drops_the_proof(proven):
    proven.address = BOB_BB
    proven.save()
    assert reread(proven).address == BOB_BB and not reread(proven).address_proven


def test_another_account_saved_by_its_field_alone_drops_the_proof_too(proven):
    proven.address = BOB_BB
    proven.save(update_fields=["address"])
    assert reread(proven).address_proven_at is None


def test_the_same_account_in_its_other_spelling_keeps_it(proven):
    proven.address = ALICE_BB
    proven.save()
    assert reread(proven).address_proven


def test_a_save_that_sets_a_new_proof_keeps_it(proven):
    proven.address = BOB_BB
    proven.address_proven_at = timezone.now()
    proven.save()
    assert reread(proven).address_proven


def test_a_save_of_other_fields_leaves_the_proof_alone(proven):
    proven.address = BOB_BB  # changed in memory, not saved
    proven.save(update_fields=["last_login"])
    assert reread(proven).address == ALICE_EIP55 and reread(proven).address_proven

"""A proof names the address it proved (User.proven_address): the address is proven only
while it is exactly that one, however `address` is written (a form, the admin,
QuerySet.update, a save of a partly loaded row, a stale copy). The same account typed in
its other spelling keeps the proof; proven_q() says the same in SQL."""

import pytest
from django.contrib.auth import get_user_model

from tests.siwbb.siwbb_support import ALICE_0X, ALICE_BB, ALICE_EIP55, BOB_BB
from users.models import proven_q
from users.siwbb import proof

pytestmark = pytest.mark.django_db

OTHER = "0x1111111111111111111111111111111111111111"


@pytest.fixture
def proven(django_user_model):
    member = django_user_model.objects.create_user(username="dora", password="x")
    proof.set_proven(member, {"bitbadgesAddress": ALICE_BB, "address": ALICE_0X})
    member.save()
    return get_user_model().objects.get(pk=member.pk)


def reread(member):
    return get_user_model().objects.get(pk=member.pk)


def in_sql(member) -> bool:
    return get_user_model().objects.filter(proven_q(), pk=member.pk).exists()


def test_a_proof_names_its_address(proven):
    assert proven.address == ALICE_EIP55 and proven.proven_address == ALICE_EIP55
    assert proven.address_proven and in_sql(proven)


def test_another_account_is_not_proven(proven):
    proven.address = BOB_BB
    proven.save()
    assert reread(proven).address == BOB_BB and not reread(proven).address_proven
    assert not in_sql(proven)


def test_another_account_saved_by_its_field_alone_is_not_proven(proven):
    proven.address = BOB_BB
    proven.save(update_fields=["address"])
    assert not reread(proven).address_proven and not in_sql(proven)


def test_a_queryset_update_is_not_proven(proven):
    get_user_model().objects.filter(pk=proven.pk).update(address=OTHER)
    assert not reread(proven).address_proven and not in_sql(proven)


def test_a_save_of_a_partly_loaded_row_is_not_proven(proven):
    partial = get_user_model().objects.only("pk", "username", "address").get(pk=proven.pk)
    partial.address = OTHER
    partial.save()
    assert not reread(proven).address_proven and not in_sql(proven)


def test_a_stale_copy_saved_after_a_new_proof_is_not_proven(django_user_model):
    member = django_user_model.objects.create_user(username="eli", password="x")
    stale = get_user_model().objects.get(pk=member.pk)
    proof.prove(member, {"bitbadgesAddress": ALICE_BB, "address": ALICE_0X})
    stale.address = OTHER
    stale.save(update_fields=["address"])
    assert not reread(member).address_proven and not in_sql(member)


def test_the_same_account_in_its_other_spelling_keeps_it(proven):
    proven.address = ALICE_BB
    proven.save()
    assert reread(proven).address_proven and in_sql(proven)
    proven.address = ALICE_EIP55
    proven.save(update_fields=["address"])
    assert reread(proven).address_proven and in_sql(proven)


def test_a_save_of_other_fields_leaves_the_proof_alone(proven):
    proven.address = BOB_BB  # changed in memory, not saved
    proven.save(update_fields=["last_login"])
    assert reread(proven).address == ALICE_EIP55 and reread(proven).address_proven


def test_no_address_is_never_proven(proven):
    get_user_model().objects.filter(pk=proven.pk).update(address="", proven_address="")
    assert not reread(proven).address_proven and not in_sql(proven)


def test_proven_q_reaches_a_member_from_another_model(proven):
    from allauth.socialaccount.models import SocialAccount

    SocialAccount.objects.create(user=proven, provider="bitbadges", uid=ALICE_BB)
    assert SocialAccount.objects.filter(proven_q("user__")).count() == 1
    get_user_model().objects.filter(pk=proven.pk).update(address=OTHER)
    assert SocialAccount.objects.filter(proven_q("user__")).count() == 0


def test_typing_another_account_then_the_proven_one_again_is_not_proven(proven):
    proven.address = OTHER
    proven.save()
    assert reread(proven).proven_address == "" and reread(proven).address_proven_at is None
    proven.address = ALICE_EIP55
    proven.save()
    assert not reread(proven).address_proven and not in_sql(proven)

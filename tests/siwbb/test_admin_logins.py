"""BitBadges logins in the admin: read-only, whatever the staff member may do.

A BitBadges login is a way into its account: a staff member who could add one to a
superuser (or move one) would log in as them with their own wallet. And whatever
removes a login drops the proof of its address, so no two accounts are proven for one.
"""

import re

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.models import Permission
from django.test import Client

from tests.members_support import verify_email
from tests.siwbb.siwbb_support import ALICE_0X, ALICE_BB, BOB_BB, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

ADMIN = "/admin/socialaccount/socialaccount/"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def eve(django_user_model):
    """Staff, holding every permission on social accounts (and nothing else)."""
    member = django_user_model.objects.create_user(
        username="eve", email="eve@example.com", password="eve-password-123", is_staff=True
    )
    member.user_permissions.add(*Permission.objects.filter(content_type__app_label="socialaccount"))
    return verify_email(member)


@pytest.fixture
def member(siwbb, django_user_model):
    browser = Client()
    sign_in(browser, address=ALICE_0X)
    return django_user_model.objects.get(address__iexact=ALICE_0X)


def test_staff_with_every_permission_cannot_add_a_login(client, siwbb, eve, django_user_model):
    boss = django_user_model.objects.create_superuser(
        username="boss", email="boss@example.com", password="boss-password-123"
    )
    client.force_login(eve)
    assert client.get(ADMIN + "add/").status_code == 403
    response = client.post(
        ADMIN + "add/",
        {"user": boss.pk, "provider": "bitbadges", "uid": BOB_BB, "extra_data": "{}"},
    )
    assert response.status_code == 403
    assert not SocialAccount.objects.exists()
    # So eve's wallet signs up a new member; it never logs in as the boss.
    client.logout()
    sign_in(client, address=BOB_BB)
    assert client.get("/profile/").wsgi_request.user.username.startswith("bb-")
    assert client.get("/admin/users/user/").status_code == 302


def test_staff_with_every_permission_can_read_but_not_change_or_delete(
    client, eve, member, django_user_model
):
    login = SocialAccount.objects.get()
    boss = django_user_model.objects.create_superuser(
        username="boss", email="boss@example.com", password="boss-password-123"
    )
    client.force_login(eve)
    listing = client.get(ADMIN)
    assert listing.status_code == 200 and ALICE_BB in listing.content.decode()
    assert "delete_selected" not in listing.content.decode()
    page = client.get(f"{ADMIN}{login.pk}/change/")
    assert page.status_code == 200
    assert 'name="uid"' not in page.content.decode() and 'name="user"' not in page.content.decode()
    changed = client.post(
        f"{ADMIN}{login.pk}/change/",
        {"user": boss.pk, "provider": "bitbadges", "uid": BOB_BB, "extra_data": "{}"},
    )
    assert changed.status_code == 403
    assert client.get(f"{ADMIN}{login.pk}/delete/").status_code == 403
    assert client.post(f"{ADMIN}{login.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = client.post(ADMIN, {"action": "delete_selected", "_selected_action": [login.pk]})
    assert bulk.status_code in (200, 302)
    login.refresh_from_db()
    assert (login.user_id, login.uid) == (member.pk, ALICE_BB)
    member.refresh_from_db()
    assert member.address_proven


def test_a_superuser_cannot_change_or_delete_one_either(client, member, django_user_model):
    login = SocialAccount.objects.get()
    boss = django_user_model.objects.create_superuser(
        username="boss", email="boss@example.com", password="boss-password-123"
    )
    client.force_login(boss)
    assert client.get(ADMIN + "add/").status_code == 403
    assert client.post(f"{ADMIN}{login.pk}/delete/", {"post": "yes"}).status_code == 403
    assert SocialAccount.objects.filter(pk=login.pk).exists()


def test_a_login_removed_any_other_way_drops_the_proof(member, django_user_model):
    assert member.address_proven
    SocialAccount.objects.filter(user=member).delete()  # a shell, a script, a cascade
    member.refresh_from_db()
    assert not member.address_proven
    # The same wallet now signs up a new account: only that one is proven.
    sign_in(Client(), address=ALICE_0X)
    proven = [m.username for m in django_user_model.objects.all() if m.address_proven]
    assert len(proven) == 1 and proven[0] != member.username


def test_removing_a_login_of_another_address_keeps_the_proof(member):
    SocialAccount.objects.create(user=member, provider="bitbadges", uid=BOB_BB)
    SocialAccount.objects.get(uid=BOB_BB).delete()
    member.refresh_from_db()
    assert member.address_proven

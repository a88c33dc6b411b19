"""The member model, login by username or email, and the address in the admin."""

import uuid

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def test_external_id_is_a_random_uuid4_and_not_the_primary_key(member, django_user_model):
    other = django_user_model.objects.create_user(username="bob", password="x-pass-123456")
    assert isinstance(member.external_id, uuid.UUID)
    assert member.external_id.version == 4
    assert member.external_id != other.external_id
    assert get_user_model()._meta.pk.name == "id"
    assert not get_user_model()._meta.get_field("external_id").editable


@pytest.mark.parametrize("login", ["alice", "alice@example.com", "ALICE@EXAMPLE.COM"])
def test_login_with_username_or_email(client, member, login):
    response = client.post("/login/", {"login": login, "password": "connect-demo"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_wrong_password_is_refused_with_a_message(client, member):
    response = client.post("/login/", {"login": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"do not match" in response.content
    assert "_auth_user_id" not in client.session


def test_email_shared_by_two_members_logs_in_nobody(client, member, django_user_model):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.filter(user=member).delete()  # nobody has confirmed it
    django_user_model.objects.create_user(
        username="alice2", email="alice@example.com", password="connect-demo"
    )
    response = client.post("/login/", {"login": "alice@example.com", "password": "connect-demo"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_shared_email_names_the_member_who_confirmed_it(client, member, django_user_model):
    django_user_model.objects.create_user(
        username="alice2", email="alice@example.com", password="connect-demo"
    )
    response = client.post("/login/", {"login": "alice@example.com", "password": "connect-demo"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(member.pk)


def test_pages_need_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_does_not_redirect_off_site(client, member):
    response = client.post(
        "/login/?next=https://evil.example/steal",
        {"login": "alice", "password": "connect-demo", "next": "https://evil.example/steal"},
    )
    assert response.status_code == 302
    assert not response["Location"].startswith("https://evil.example")


def _admin_change(admin_client, user, address):
    return admin_client.post(
        f"/admin/users/user/{user.pk}/change/",
        {
            "username": user.username,
            "email": user.email,
            "address": address,
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            # The read-only inlines' management forms, as the rendered page posts them.
            **{
                f"{prefix}-{field}": value
                for prefix in ("connected_accounts", "completions")
                for field, value in (
                    ("TOTAL_FORMS", "0"),
                    ("INITIAL_FORMS", "0"),
                    ("MIN_NUM_FORMS", "0"),
                    ("MAX_NUM_FORMS", "1000"),
                )
            },
        },
    )


def test_admin_refuses_a_bad_address_with_the_reason(admin_client, member):
    response = _admin_change(admin_client, member, "0x742d35cC6634c0532925A3b844bc9E7595F0beb1")
    assert response.status_code == 200
    assert b"EIP-55 checksum" in response.content
    member.refresh_from_db()
    assert member.address == ""


def test_admin_stores_the_checksummed_address(admin_client, member):
    response = _admin_change(admin_client, member, "0x742d35cc6634c0532925a3b844bc9e7595f0beb1")
    assert response.status_code == 302, response.content[:2000]
    member.refresh_from_db()
    assert member.address == "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"


def test_admin_shows_external_id_read_only(admin_client, member):
    response = admin_client.get(f"/admin/users/user/{member.pk}/change/")
    assert response.status_code == 200
    assert str(member.external_id).encode() in response.content
    assert b'name="external_id"' not in response.content


def test_a_confirmed_email_counts_for_its_own_member_only(
    member, unverified_member, django_user_model, django_assert_num_queries
):
    """users.selectors.member_email_verified, written out: one query, the member's own
    rows, and only a verified address counts."""
    from allauth.account.models import EmailAddress

    from users.selectors import member_email_verified, member_identity_confirmed

    nobody = django_user_model.objects.create_user(username="dave", password="x-pass-123456")
    with django_assert_num_queries(1):
        assert member_email_verified(member=member) is True
    assert member_email_verified(member=unverified_member) is False
    assert member_email_verified(member=nobody) is False
    assert member_identity_confirmed(member=unverified_member) is False
    EmailAddress.objects.filter(user=unverified_member).update(verified=True)
    assert member_identity_confirmed(member=unverified_member) is True

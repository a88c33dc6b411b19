"""The members admin: accounts and completions inline, counts, search by address.

users.admin is the User admin users knows; members.admin re-registers it with what the
other apps add (the inlines and counts).
"""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission

from claims.models import Claim, Completion
from connections.models import App, ConnectedAccount
from members.admin import CompletionInline, ConnectedAccountInline, MemberAdmin
from users.admin import UserAdmin
from users.models import User

pytestmark = pytest.mark.django_db

ADDRESS = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"


@pytest.fixture
def alice(django_user_model):
    alice = django_user_model.objects.create_user(
        username="alice", email="alice@example.com", password="x", address=ADDRESS
    )
    github = App.objects.create(slug="github", name="GitHub", enabled=True)
    ConnectedAccount.objects.create(member=alice, app=github, pipedream_id="apn_1", name="octo")
    claim = Claim(slug="starter", name="Starter", delivery="dynamic_store", store_id="s")
    claim.set_store_secret("x")
    claim.save()
    Completion.objects.create(claim=claim, member=alice, state="completed", reason="Completed.")
    return alice


def test_the_list_counts_accounts_and_completions_in_constant_queries(
    admin_client, alice, django_user_model, django_assert_max_num_queries
):
    for number in range(5):
        django_user_model.objects.create_user(username=f"member{number}", password="x")
    with django_assert_max_num_queries(8):
        response = admin_client.get("/admin/users/user/")
    assert response.status_code == 200
    row = next(line for line in response.text.split("<tr") if ">alice<" in line)
    assert '<td class="field-accounts">1</td>' in row
    assert '<td class="field-completed">1</td>' in row
    assert (
        'class="field-email_verified"><img src="/static/admin/img/icon-no.svg" alt="False"' in row
    )


def test_the_list_shows_who_confirmed_an_email(admin_client, alice):
    from tests.members_support import verify_email

    verify_email(alice)
    response = admin_client.get("/admin/users/user/", {"emailaddress__verified__exact": "1"})
    row = next(line for line in response.text.split("<tr") if ">alice<" in line)
    assert 'alt="True"' in row


def test_search_by_address_finds_the_member(admin_client, alice):
    response = admin_client.get("/admin/users/user/", {"q": ADDRESS[:20]})
    assert ">alice<" in response.text and "1 user" in response.text


def test_the_member_page_shows_accounts_and_completions_read_only(admin_client, alice):
    response = admin_client.get(f"/admin/users/user/{alice.pk}/change/")
    assert response.status_code == 200
    assert "octo" in response.text and "apn_1" in response.text
    assert "Starter" in response.text and "Completed." in response.text
    assert 'name="connected_accounts-0-name"' not in response.text  # not editable


def test_the_user_admin_is_the_members_one_built_on_users_own():
    registered = admin.site._registry[User]
    assert type(registered) is MemberAdmin and isinstance(registered, UserAdmin)
    assert registered.inlines == [ConnectedAccountInline, CompletionInline]
    # users' own admin names no other app.
    assert "accounts" not in UserAdmin.list_display and not UserAdmin.inlines


def test_staff_with_only_view_permissions_sees_the_member_with_inlines(
    client, alice, django_user_model
):
    viewer = django_user_model.objects.create_user(username="viewer", password="x", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(viewer)

    listing = client.get("/admin/users/user/")
    assert listing.status_code == 200
    row = next(line for line in listing.text.split("<tr") if ">alice<" in line)
    assert '<td class="field-accounts">1</td>' in row
    assert '<td class="field-completed">1</td>' in row

    response = client.get(f"/admin/users/user/{alice.pk}/change/")
    assert response.status_code == 200
    assert "octo" in response.text and "apn_1" in response.text
    assert "Starter" in response.text and "Completed." in response.text
    assert 'name="connected_accounts-0-name"' not in response.text
    assert 'name="_save"' not in response.text  # view only

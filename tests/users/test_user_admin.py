"""The members admin: accounts and completions inline, counts, search by address."""

import pytest

from claims.models import Claim, Completion
from connections.models import App, ConnectedAccount

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
    from tests.members import verify_email

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

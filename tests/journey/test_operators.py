"""Operators see the proof: the member's admin page (whether and when the address was
proven, the BitBadges login) for staff with only the view permission, the list's
"proven" column and filter, the Users CSV export, and the member's own data download
(the proof time and the BitBadges login: its address, never a token)."""

import json
import re

import pytest
from allauth.socialaccount.models import SocialAccount
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.addresses import to_bitbadges_address
from tests.core.exports_support import as_dicts, export_action, read_csv, staff
from tests.journey.journey_support import PROVEN_ADDRESS, address_for, html_text, proven_member
from tests.members_support import reauthenticate

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/users/user/"
TOKEN = "bb-token-never-shown-0123456789"


@pytest.fixture
def bea():
    member = proven_member()
    # What BitBadges answered, as a provider might keep it: never shown or exported.
    SocialAccount.objects.filter(user=member).update(
        extra_data={"signed_up": True, "access_token": TOKEN, "chain": "Ethereum"}
    )
    return member


@pytest.fixture
def tom(django_user_model):
    return django_user_model.objects.create_user(username="tom", address=address_for("tom"))


def row_of(page: str, username: str) -> str:
    return next(line for line in page.split("<tr") if f">{username}<" in line)


def test_the_member_page_shows_the_proof_and_the_login_to_a_viewer(client, bea, tom):
    staff(client, "viewer", "users.view_user")
    page = html_text(client.get(f"{CHANGELIST}{bea.pk}/change/"))
    when = timezone.localtime(bea.address_proven_at).strftime("%Y-%m-%d %H:%M")
    assert f"Yes, with Sign in with BitBadges, on {when}" in page
    assert "BitBadges login" in page
    assert to_bitbadges_address(PROVEN_ADDRESS).lower() in page
    assert TOKEN not in page
    # Read-only: nothing to type the proof or the login into.
    assert 'name="address_proven_at"' not in page and 'name="bitbadges_login"' not in page
    typed = html_text(client.get(f"{CHANGELIST}{tom.pk}/change/"))
    assert "No: typed by the member, or none" in typed


def test_an_editor_cannot_set_the_proof_by_hand(admin_client, tom):
    page = html_text(admin_client.get(f"{CHANGELIST}{tom.pk}/change/"))
    assert 'name="address"' in page  # the address stays editable
    assert 'name="address_proven_at"' not in page


def test_the_list_has_a_proven_column_and_filter(client, bea, tom):
    staff(client, "viewer", "users.view_user")
    page = html_text(client.get(CHANGELIST))
    assert 'class="field-proven"><img src="/static/admin/img/icon-yes.svg" alt="True"' in row_of(
        page, bea.username
    )
    assert 'class="field-proven"><img src="/static/admin/img/icon-no.svg" alt="False"' in row_of(
        page, "tom"
    )
    assert "By address proven" in page
    proven = html_text(client.get(CHANGELIST, {"proven": "yes"}))
    assert f">{bea.username}<" in proven and ">tom<" not in proven
    unproven = html_text(client.get(CHANGELIST, {"proven": "no"}))
    assert ">tom<" in unproven and f">{bea.username}<" not in unproven


@pytest.mark.parametrize("value", ["maybe", "", "<script>", "1" * 3000])
def test_a_bad_filter_value_filters_nothing_and_is_no_error(client, bea, tom, value):
    staff(client, "viewer", "users.view_user")
    response = client.get(CHANGELIST, {"proven": value})
    assert response.status_code == 200
    page = html_text(response)
    assert f">{bea.username}<" in page and ">tom<" in page
    assert "<script>" not in page.split("<body", 1)[1].split("<script", 1)[0]


def test_the_list_reads_in_constant_queries(admin_client, django_user_model):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(CHANGELIST).status_code == 200
        return len(captured)

    proven_member("one", address=address_for("one"))
    few = queries()
    for number in range(6):
        proven_member(f"p{number}", address=address_for(f"p{number}"))
        django_user_model.objects.create_user(username=f"t{number}")
    assert queries() == few


def test_the_users_export_says_whether_and_when_the_address_was_proven(client, bea, tom):
    staff(client, "auditor", "users.view_user")
    rows = read_csv(export_action(client, CHANGELIST, [bea.pk, tom.pk]), "members")
    header = rows[0]
    assert header[header.index("address") + 1 : header.index("address") + 3] == [
        "address proven",
        "address proven at",
    ]
    lines = {line["username"]: line for line in as_dicts(rows)}
    assert lines[bea.username]["address proven"] == "yes"
    proven_at = lines[bea.username]["address proven at"]
    assert proven_at.startswith(timezone.localtime(bea.address_proven_at).strftime("%Y-%m-%d"))
    assert (lines["tom"]["address proven"], lines["tom"]["address proven at"]) == ("no", "")
    assert TOKEN not in json.dumps(rows)


def test_the_data_download_has_the_proof_and_the_login_address_only(client, bea):
    bea.set_password("connect-demo")
    bea.save(update_fields=["password"])
    client.force_login(bea)
    reauthenticate(client)
    response = client.post("/profile/data/")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200
    data = json.loads(body)
    assert data["member"]["address_proven"] is True
    assert data["member"]["address_proven_at"].startswith(
        bea.address_proven_at.strftime("%Y-%m-%dT%H:%M")
    )
    (login,) = data["bitbadges_logins"]
    assert login["address"] == to_bitbadges_address(PROVEN_ADDRESS).lower()
    assert login["provider"] == "bitbadges"
    assert "extra_data" not in login
    assert TOKEN not in body.decode() and '"chain"' not in body.decode()
    assert any("keeps no BitBadges token" in line for line in data["not_included"])
    assert not re.search(r"access_token", body.decode())


def test_a_proof_of_another_address_is_no_proof_for_operators(client, bea, django_user_model):
    """An address written around User.save (QuerySet.update, an import): the proof time
    stays but names another address, so the filter, the column, the export and the
    funnel's stage 2 say "not proven" (users.models.proven_q, as User.address_proven)."""
    stale = django_user_model.objects.create_user(
        username="stale",
        address=address_for("stale"),
        proven_address=address_for("stale"),
        address_proven_at=timezone.now(),
    )
    django_user_model.objects.filter(pk=stale.pk).update(address=address_for("moved"))
    stale.refresh_from_db()
    assert stale.address_proven_at is not None and not stale.address_proven
    staff(client, "auditor", "users.view_user")
    proven = html_text(client.get(CHANGELIST, {"proven": "yes"}))
    assert f">{bea.username}<" in proven and ">stale<" not in proven
    unproven = html_text(client.get(CHANGELIST, {"proven": "no"}))
    assert ">stale<" in unproven and f">{bea.username}<" not in unproven
    assert 'alt="False"' in row_of(html_text(client.get(CHANGELIST)), "stale")
    lines = {
        line["username"]: line
        for line in as_dicts(read_csv(export_action(client, CHANGELIST, [stale.pk]), "members"))
    }
    assert (lines["stale"]["address proven"], lines["stale"]["address proven at"]) == ("no", "")
    from claims import funnel

    assert stale.pk not in set(funnel.reached()["email_confirmed"])
    assert bea.pk in set(funnel.reached()["email_confirmed"])


def test_the_users_export_reads_in_one_query_whatever_the_size(client, django_user_model):
    staff(client, "auditor", "users.view_user")

    def queries() -> int:
        pks = list(django_user_model.objects.filter(is_staff=False).values_list("pk", flat=True))
        with CaptureQueriesContext(connection) as captured:
            response = export_action(client, CHANGELIST, pks)
            rows = read_csv(response, "members")
        assert len(rows) == len(pks) + 1
        return len(captured)

    proven_member("one", address=address_for("one"))
    few = queries()
    for number in range(6):
        proven_member(f"p{number}", address=address_for(f"p{number}"))
    assert queries() == few

"""Members as CSV from the member admin: the columns an operator needs, no password hash
or MFA data, formulas neutralised, view permission only, queries that do not grow."""

import pytest
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from claims.models import Claim, Completion
from connections.models import App, ConnectedAccount
from tests.core.exports_support import as_dicts, export_action, read_csv, staff
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/users/user/"
EXPORT_ALL = "/admin/users/user/export/"
User = get_user_model()


@pytest.fixture
def claims():
    made = []
    for slug in ("one", "two"):
        claim = Claim(slug=slug, name=slug, delivery="dynamic_store", store_id="s")
        claim.set_store_secret("x")
        claim.save()
        made.append(claim)
    return made


def member(username, claims=(), *, accounts=0, completed=0, **fields):
    user = User.objects.create_user(username=username, email=f"{username}@example.com", **fields)
    app, _ = App.objects.get_or_create(slug="github", defaults={"name": "GitHub"})
    ConnectedAccount.objects.bulk_create(
        ConnectedAccount(member=user, app=app, pipedream_id=f"apn_{username}_{i}")
        for i in range(accounts)
    )
    for index, claim in enumerate(claims):
        state = "completed" if index < completed else "failed"
        Completion.objects.create(claim=claim, member=user, state=state)
    return user


def test_members_with_counts_and_confirmation(client, claims):
    staff(client, "auditor", "users.view_user")
    ada = verify_email(
        member("ada", claims, accounts=2, completed=1, address="0xabc", password="pw-123456!")
    )
    bob = member("bob", is_active=False)
    # Ada signs on from the host site, which knows her as host-ada-1.
    SocialAccount.objects.create(user=ada, provider="host", uid="host-ada-1")
    type(ada).objects.filter(pk=ada.pk).update(signup_method="host")

    response = export_action(client, CHANGELIST, [ada.pk, bob.pk])
    rows = read_csv(response, "members")

    assert rows[0] == [
        "id",
        "username",
        "email",
        "email confirmed",
        "signed up with",
        "host id",
        "address",
        "address proven",
        "address proven at",
        "date joined",
        "last login",
        "active",
        "accounts",
        "completions",
        "completed",
    ]
    lines = {line["username"]: line for line in as_dicts(rows)}
    assert lines["ada"]["id"] == str(ada.pk)
    assert lines["ada"]["email"] == "ada@example.com"
    assert (lines["ada"]["email confirmed"], lines["bob"]["email confirmed"]) == ("yes", "no")
    assert (lines["ada"]["signed up with"], lines["ada"]["host id"]) == ("host", "host-ada-1")
    assert (lines["bob"]["signed up with"], lines["bob"]["host id"]) == ("", "")
    assert lines["ada"]["address"] == "0xabc"
    assert (lines["ada"]["address proven"], lines["ada"]["address proven at"]) == ("no", "")
    assert (lines["ada"]["active"], lines["bob"]["active"]) == ("yes", "no")
    assert [lines["ada"][n] for n in ("accounts", "completions", "completed")] == ["2", "2", "1"]
    assert [lines["bob"][n] for n in ("accounts", "completions", "completed")] == ["0", "0", "0"]
    assert lines["bob"]["last login"] == ""


def test_no_password_hash_or_mfa_secret(client):
    staff(client, "auditor", "users.view_user")
    ada = member("ada", password="pw-123456!")
    Authenticator.objects.create(
        user=ada, type=Authenticator.Type.TOTP, data={"secret": "TOTPSECRETNEVEREXPORTED"}
    )

    body = str(read_csv(client.get(EXPORT_ALL), "members"))

    assert User.objects.get(pk=ada.pk).password.split("$")[0] not in body
    assert User.objects.get(pk=ada.pk).password not in body
    assert "TOTPSECRETNEVEREXPORTED" not in body
    assert str(ada.external_id) not in body


def test_usernames_that_would_be_formulas_are_text(client):
    staff(client, "auditor", "users.view_user")
    member("+1-800-CALL-ME")

    lines = as_dicts(read_csv(client.get(EXPORT_ALL, {"q": "CALL"}), "members"))

    assert [line["username"] for line in lines] == ["'+1-800-CALL-ME"]


def test_export_all_follows_the_search(client):
    staff(client, "auditor", "users.view_user")
    member("ada")
    member("adam")
    member("bob")

    page = client.get(CHANGELIST, {"q": "ada"})
    assert 'href="/admin/users/user/export/?q=ada"' in page.content.decode()
    lines = as_dicts(read_csv(client.get(EXPORT_ALL, {"q": "ada"}), "members"))

    assert sorted(line["username"] for line in lines) == ["ada", "adam"]


def test_without_the_view_permission_nothing_is_exported(client):
    staff(client, "ledger-only", "claims.view_completion")
    ada = member("ada")

    assert client.get(EXPORT_ALL).status_code == 403
    assert export_action(client, CHANGELIST, [ada.pk]).status_code == 403


def _export_queries(client, claims, members: int) -> int:
    User.objects.filter(is_staff=False).delete()
    made = [member(f"m{members}-{i}", claims, accounts=1, completed=1) for i in range(members)]
    with CaptureQueriesContext(connection) as queries:
        lines = read_csv(export_action(client, CHANGELIST, [m.pk for m in made]), "members")
    assert len(lines) == 1 + members
    return len(queries)


def test_queries_do_not_grow_with_the_members(client, claims):
    staff(client, "auditor", "users.view_user")

    assert _export_queries(client, claims, 10) == _export_queries(client, claims, 50)

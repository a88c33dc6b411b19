"""The requirements inline under a claim is a way in of its own (issue 16, requirements).

Its post names rows by id, and each row's fields are free text: a requirement of another
claim named in this claim's post is neither moved nor changed nor deleted, a hostile
value in any field is a form error (never a 500, which the attack suite's watch fails),
staff who may only view claims change no requirement, and a writing action in any
requirement, not only the first, is refused when saved and never run when written around
the admin.
"""

import dataclasses

import pytest
import requests
from django.contrib.auth.models import Permission
from django.forms.models import model_to_dict
from django.urls import reverse

from claims.models import Completion, CompletionEvent, Requirement
from sandbox.bitbadges import stores as bb_sandbox
from sandbox.pipedream import components as pd_components
from tests.claims.admin_support import claim_form_data, form_errors, make_member
from tests.claims.claims_support import add_check, run_worker

pytestmark = pytest.mark.django_db(transaction=True)

WRITER = "github-create-issue"


@pytest.fixture
def two_claims(make_claim, apps, upstreams):
    """Mine (an account of GitHub) and theirs (a check of the Discord account), both on
    the sandbox's dynamic store "s"."""
    bb_sandbox.store_create(store_id="s", secret="x")
    mine = make_claim("mine", apps=[apps["github"]], enabled=False)
    theirs = make_claim("theirs", enabled=False)
    add_check(
        theirs,
        apps["discord"],
        proxy_url="https://discord.com/api/users/@me",
        path="verified",
        comparison="truthy",
    )
    return mine, theirs


def rows():
    return {r.pk: model_to_dict(r) for r in Requirement.objects.all()}


def mine_row(claim):
    [stored] = claim.requirements.all()
    return {"id": stored.pk, "app": stored.app_id, "kind": "account", "group": "all"}


def change(client, claim, data):
    return client.post(reverse("admin:claims_claim_change", args=[claim.pk]), data)


@pytest.mark.parametrize("how", ["changed", "deleted", "as-a-new-row"])
def test_another_claims_requirement_cannot_be_moved_changed_or_deleted(
    admin_client, apps, two_claims, how
):
    mine, theirs = two_claims
    [target] = theirs.requirements.all()
    before = rows()
    hijack = {
        "id": target.pk,
        "app": apps["github"],
        "kind": "account",
        "group": "all",
        "text": "moved",
    }
    if how == "deleted":
        hijack = {**model_to_dict(target), "DELETE": True}
    data = claim_form_data(mine, requirements=[mine_row(mine), hijack])
    if how == "as-a-new-row":
        data["requirements-INITIAL_FORMS"] = "1"  # mine stored, theirs posted as new

    response = change(admin_client, mine, data)

    assert response.status_code in (200, 302)
    # Theirs stays theirs, as it was; mine keeps its own. (Posted as a new row, the
    # fields become a new requirement of mine: nothing of theirs is taken.)
    after = rows()
    assert {pk: after[pk] for pk in before} == before
    assert list(theirs.requirements.all()) == [target]
    new = [row for pk, row in after.items() if pk not in before]
    assert all(row["claim"] == mine.pk for row in new)
    assert len(new) == (1 if how == "as-a-new-row" else 0)


# (field, posted value, the words of its error). The base row is a valid proxy read.
HOSTILE = [
    ("group", "everyone", "Select a valid choice"),
    ("group", "all\x00", "Select a valid choice"),
    ("app", "not-a-number", "Select a valid choice"),
    ("app", "-1", "Select a valid choice"),
    ("app", "99999999999999999999999", "Select a valid choice"),
    ("kind", "shell", "Select a valid choice"),
    ("action", "a\x00b", "Null characters are not allowed"),
    ("action", "x" * 5000, "at most 200 characters"),
    ("props", "{", "Enter a valid JSON"),
    ("props", "[" * 100000, "at most 20,000 characters"),
    ("props", "[" * 30 + "]" * 30, "nest at most 20 levels"),
    ("props", "[1, 2]", "Props are a JSON object"),
    ("proxy_url", "javascript:alert(1)", "over https only"),
    ("proxy_url", "https://api.github.com/\x00", "Null characters are not allowed"),
    ("proxy_url", "https://api.github.com:99999999999/", "This is not a URL"),
    ("path", "p\x00", "Null characters are not allowed"),
    ("path", "p" * 1000, "at most 200 characters"),
    ("comparison", "__import__('os')", "Select a valid choice"),
    ("value", "v\x00", "Null characters are not allowed"),
    ("value", "v" * 1000, "at most 200 characters"),
    ("text", "<script>alert(1)</script>\x00", "Null characters are not allowed"),
    ("text", "t" * 1000, "at most 200 characters"),
    ("identity_path", "i\x00", "Null characters are not allowed"),
    ("identity_path", "i" * 1000, "at most 200 characters"),
    ("id", "not-a-number", "Select a valid choice"),
    ("id", "99999999999999999999999", "Select a valid choice"),
]


@pytest.mark.parametrize(("field", "value", "said"), HOSTILE, ids=lambda v: str(v)[:30])
def test_a_hostile_value_in_any_requirement_field_is_a_form_error(
    admin_client, apps, two_claims, field, value, said
):
    mine, _ = two_claims
    before = rows()
    row = {
        **mine_row(mine),
        "kind": "proxy",
        "proxy_url": "https://api.github.com/user",
        "path": "login",
        "comparison": "truthy",
    }
    if field == "props":
        row.update(kind="action", action="github-get-current-user", proxy_url="")
    row[field] = value

    errors = form_errors(change(admin_client, mine, claim_form_data(mine, requirements=[row])))

    assert field in errors, errors
    assert said in errors[field]
    assert rows() == before


@pytest.mark.parametrize("total", ["abc", "-1", "99999999999999"])
def test_a_forged_management_form_is_a_form_error(admin_client, two_claims, total):
    mine, _ = two_claims
    before = rows()
    data = {**claim_form_data(mine), "requirements-TOTAL_FORMS": total}
    response = change(admin_client, mine, data)
    assert response.status_code == 200
    assert rows() == before


def _staff(client, *codenames):
    user = make_member("staffer", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="claims", codename__in=codenames)
    )
    client.force_login(user)
    return user


def _edits(claim, apps):
    """A post that changes the stored requirement, adds one and would delete the first."""
    [stored] = claim.requirements.all()
    return claim_form_data(
        claim,
        requirements=[
            {**mine_row(claim), "app": apps["discord"], "text": "changed"},
            {"app": apps["slack"]},
        ],
    ) | {"requirements-0-id": str(stored.pk)}


def test_staff_who_may_only_view_claims_change_no_requirement(client, apps, two_claims):
    mine, _ = two_claims
    _staff(client, "view_claim", "view_requirement")
    before = rows()
    page = client.get(reverse("admin:claims_claim_change", args=[mine.pk]))
    assert page.status_code == 200
    assert 'name="requirements-0-app"' not in page.text  # shown, not editable

    assert change(client, mine, _edits(mine, apps)).status_code == 403
    assert rows() == before


def test_staff_who_may_change_claims_but_only_view_requirements_change_none(
    client, apps, two_claims
):
    mine, _ = two_claims
    _staff(client, "view_claim", "change_claim", "view_requirement")
    before = rows()
    delete = claim_form_data(mine, requirements=[{**mine_row(mine), "DELETE": True}])
    for data in (_edits(mine, apps), delete):
        response = change(client, mine, data)
        assert response.status_code in (200, 302)
        assert rows() == before


@pytest.fixture
def sandbox_knows_a_writer(monkeypatch):
    reader = pd_components.COMPONENTS["github-get-current-user"]
    writer = dataclasses.replace(reader, key=WRITER, name="Create Issue")
    for registry in (pd_components.COMPONENTS, pd_components.ACTIONS):
        monkeypatch.setitem(registry, WRITER, writer)


@pytest.mark.parametrize("group", ["all", "any", "none"])
def test_a_write_action_in_a_later_requirement_is_refused(
    admin_client, apps, upstreams, two_claims, sandbox_knows_a_writer, group
):
    mine, _ = two_claims
    before = rows()
    writer = {
        "app": apps["github"],
        "kind": "action",
        "action": WRITER,
        "path": "login",
        "comparison": "truthy",
        "group": group,
    }
    reader = {**writer, "action": "github-get-current-user", "group": "any"}
    data = claim_form_data(mine, requirements=[mine_row(mine), reader, writer])
    said = form_errors(change(admin_client, mine, data))
    assert "CLAIMS_READ_COMPONENTS" in said["action"]
    assert rows() == before


@pytest.fixture
def sent(monkeypatch):
    """The URL and body of every HTTP request the app sends."""
    calls: list[str] = []
    real_send = requests.adapters.HTTPAdapter.send

    def send(self, request, *args, **kwargs):
        body = request.body or b""
        calls.append(f"{request.url} {body.decode() if isinstance(body, bytes) else body}")
        return real_send(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    return calls


def test_a_write_action_in_a_later_requirement_written_to_the_database_is_never_run(
    apps, upstreams, make_claim, alice, connect, sandbox_knows_a_writer, sent
):
    claim = make_claim("direct")
    add_check(
        claim,
        apps["github"],
        action="github-get-current-user",
        path="user.login",
        comparison="truthy",
    )
    add_check(claim, apps["github"], action=WRITER, path="user.login", comparison="truthy")
    connect(alice, "github", "writer-target")
    run_worker()

    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state == "failed"
    events = " ".join(
        str(details)
        for details in CompletionEvent.objects.filter(completion=completion).values_list(
            "details", flat=True
        )
    )
    assert "CLAIMS_READ_COMPONENTS" in events
    assert [call for call in sent if "github-get-current-user" in call]  # the first ran
    assert not [call for call in sent if WRITER in call]


@pytest.mark.parametrize("value", ["[" * 100000, "{" + '"a":{' * 30 + "}" * 31])
def test_the_claims_own_trigger_props_refuse_deep_json_with_a_sentence(
    admin_client, two_claims, value
):
    mine, _ = two_claims
    before = rows()

    errors = form_errors(change(admin_client, mine, claim_form_data(mine, trigger_props=value)))

    assert "trigger_props" in errors, errors
    assert "at most" in errors["trigger_props"]
    assert rows() == before


def test_more_requirements_than_a_claim_holds_are_refused_with_a_sentence(
    admin_client, apps, two_claims
):
    from claims.admin.requirements import MAX_REQUIREMENTS  # the cap the inline holds to

    mine, _ = two_claims
    before = rows()
    many = [{"app": apps["github"]} for _ in range(MAX_REQUIREMENTS + 1)]

    errors = form_errors(change(admin_client, mine, claim_form_data(mine, requirements=many)))

    assert f"at most {MAX_REQUIREMENTS}" in errors["requirements"]
    assert rows() == before


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ('{"x": NaN}', "NaN, which JSON has not"),
        ('{"x": Infinity}', "Infinity, which JSON has not"),
        ('{"x": "a\\u0000b"}', "NUL character"),
    ],
)
def test_props_json_cannot_store_is_a_form_error(admin_client, two_claims, value, said):
    mine, _ = two_claims
    before = rows()
    row = {
        **mine_row(mine),
        "kind": "action",
        "action": "github-get-current-user",
        "path": "login",
        "comparison": "truthy",
        "props": value,
    }

    errors = form_errors(change(admin_client, mine, claim_form_data(mine, requirements=[row])))

    assert said in errors["props"]
    assert rows() == before

"""The ledger's CSV export from the admin: completions with their evidence, streamed;
members' values only with their permission; no secret; guarded against formulas; for
staff with the view permission only; bad input answered, never a 500."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from claims.models import Completion
from tests.claims.admin_support import make_member
from tests.core.exports_support import as_dicts, export_action, messages_of, read_csv, staff

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/claims/completion/"
EXPORT_ALL = "/admin/claims/completion/export/"
AT = "2026-11-30T10:00:00+00:00"


def evidence(followers: str, passed: bool) -> list[dict]:
    return [
        {
            "rule": "email",
            "label": "Email address confirmed",
            "passed": True,
            "value": "confirmed",
            "detail": "",
            "at": AT,
        },
        {
            "rule": "criterion:7",
            "label": "GitHub followers",
            "passed": passed,
            "value": followers,
            "detail": "" if passed else f"Needs 5 followers; yours is {followers}",
            "at": AT,
        },
    ]


@pytest.fixture
def claim(make_claim):
    return make_claim("starter", name="Starter badge")


def completion(claim, member, *, followers="12", passed=True, **fields) -> Completion:
    state = Completion.State.COMPLETED if passed else Completion.State.INELIGIBLE
    return Completion.objects.create(
        claim=claim,
        member=member,
        state=fields.pop("state", state),
        address="0x742d35cc6634c0532925a3b844bc9e7595f0beb1",
        attempts=1,
        reason="" if passed else f"Needs 5 followers; yours is {followers}",
        evidence=evidence(followers, passed),
        completed_at=timezone.now() if passed else None,
        **fields,
    )


def test_selected_completions_one_line_per_evidence_with_values(client, claim):
    staff(client, "auditor", "claims.view_completion", "claims.view_member_values")
    done = completion(claim, make_member("ada"), followers="12")
    completion(claim, make_member("bob"), followers="3", passed=False)  # not selected

    rows = read_csv(export_action(client, CHANGELIST, [done.pk]), "completions")

    assert rows[0][:6] == ["completion", "claim", "claim slug", "delivery", "member id", "member"]
    lines = as_dicts(rows)
    assert [line["requirement"] for line in lines] == [
        "Email address confirmed",
        "GitHub followers",
    ]
    followers = lines[1]
    assert followers["completion"] == str(done.pk)
    assert followers["claim"] == "Starter badge"
    assert followers["delivery"] == "dynamic_store"
    assert (followers["member id"], followers["member"]) == (str(done.member_id), "ada")
    assert followers["address"] == "0x742d35cc6634c0532925a3b844bc9e7595f0beb1"
    assert (followers["state"], followers["attempts"]) == ("completed", "1")
    assert (followers["rule"], followers["met"], followers["value seen"]) == (
        "criterion:7",
        "yes",
        "12",
    )
    assert followers["checked at"] == "2026-11-30 10:00:00"


def test_members_values_hidden_without_their_permission(client, claim):
    staff(client, "viewer", "claims.view_completion")
    failed = completion(claim, make_member("bob"), followers="3", passed=False)

    text = str(read_csv(export_action(client, CHANGELIST, [failed.pk]), "completions"))
    lines = as_dicts(read_csv(export_action(client, CHANGELIST, [failed.pk]), "completions"))

    assert "yours is 3" not in text
    check = lines[1]
    assert (check["met"], check["value seen"], check["detail"]) == ("no", "(hidden)", "Not met.")
    assert check["reason"] == "GitHub followers: Not met."
    assert lines[0]["value seen"] == "confirmed"  # the site's own rule: not a member's value


def test_no_secret_of_the_claim_in_the_file(client, make_claim):
    staff(client, "auditor", "claims.view_completion", "claims.view_member_values")
    claim = make_claim("secretive")
    claim.set_store_secret("store-secret-never-exported")
    claim.save()
    row = completion(claim, make_member("ada"), delivery_reference="ref-kept-in-the-ledger")

    body = str(read_csv(export_action(client, CHANGELIST, [row.pk]), "completions"))

    assert "store-secret-never-exported" not in body
    assert "ref-kept-in-the-ledger" not in body


def test_cells_that_would_be_formulas_are_text(client, claim):
    staff(client, "auditor", "claims.view_completion", "claims.view_member_values")
    row = completion(claim, make_member("=HYPERLINK(1)"), followers="@SUM(A1)")

    lines = as_dicts(read_csv(export_action(client, CHANGELIST, [row.pk]), "completions"))

    assert lines[1]["member"] == "'=HYPERLINK(1)"
    assert lines[1]["value seen"] == "'@SUM(A1)"
    assert lines[1]["attempts"] == "1"


def test_a_completion_without_evidence_or_member_has_one_line(client, claim):
    staff(client, "auditor", "claims.view_completion")
    row = Completion.objects.create(claim=claim, member=None, state="waiting")

    lines = as_dicts(read_csv(export_action(client, CHANGELIST, [row.pk]), "completions"))

    assert len(lines) == 1
    assert (lines[0]["member id"], lines[0]["member"]) == ("", "(deleted member)")
    assert lines[0]["requirement"] == lines[0]["met"] == ""


def test_export_all_follows_the_changelist_filters(client, claim):
    staff(client, "auditor", "claims.view_completion")
    for name in ("ada", "cy"):
        completion(claim, make_member(name))
    completion(claim, make_member("bob"), followers="3", passed=False)

    page = client.get(CHANGELIST, {"state": "completed"})
    assert 'href="/admin/claims/completion/export/?state=completed"' in page.content.decode()
    lines = as_dicts(read_csv(client.get(EXPORT_ALL, {"state": "completed"}), "completions"))

    assert sorted({line["member"] for line in lines}) == ["ada", "cy"]
    everyone = as_dicts(read_csv(client.get(EXPORT_ALL), "completions"))
    assert {line["member"] for line in everyone} == {"ada", "bob", "cy"}


def test_select_across_exports_every_filtered_row(client, claim):
    staff(client, "auditor", "claims.view_completion")
    first, _ = (completion(claim, make_member(name)) for name in ("ada", "cy"))

    # The page's boxes are all ticked, then "Select all": the browser posts the page's IDs.
    response = export_action(client, CHANGELIST, [first.pk], select_across=True)

    assert {line["member"] for line in as_dicts(read_csv(response, "completions"))} == {
        "ada",
        "cy",
    }


def _export_queries(client, claim, members: int) -> int:
    Completion.objects.all().delete()
    rows = [
        completion(claim, make_member(f"m{members}-{i}"), followers=str(i)) for i in range(members)
    ]
    with CaptureQueriesContext(connection) as queries:
        lines = read_csv(export_action(client, CHANGELIST, [row.pk for row in rows]), "completions")
    assert len(lines) == 1 + 2 * members
    return len(queries)


def test_queries_do_not_grow_with_the_rows(client, claim):
    staff(client, "auditor", "claims.view_completion", "claims.view_member_values")

    assert _export_queries(client, claim, 10) == _export_queries(client, claim, 50)


def test_without_the_view_permission_nothing_is_exported(client, claim):
    staff(client, "claims-only", "claims.view_claim")
    row = completion(claim, make_member("ada"))

    assert client.get(EXPORT_ALL).status_code == 403
    response = export_action(client, CHANGELIST, [row.pk])
    assert response.status_code == 403  # the changelist itself is refused
    assert "text/csv" not in response.get("Content-Type", "")


def test_no_selection_says_so(client, claim):
    staff(client, "auditor", "claims.view_completion")
    completion(claim, make_member("ada"))

    response = export_action(client, CHANGELIST, [])

    assert response.status_code == 302
    assert "Items must be selected" in messages_of(response)


def test_a_forged_huge_selection_is_refused_not_a_500(client, claim):
    staff(client, "auditor", "claims.view_completion")

    response = export_action(client, CHANGELIST, range(1, 5001))

    assert response.status_code == 400


def test_a_selection_that_is_not_ids_is_refused_not_a_500(client, claim):
    staff(client, "auditor", "claims.view_completion")
    completion(claim, make_member("ada"))

    response = export_action(client, CHANGELIST, ["1 OR 1=1"])

    assert response.status_code == 302
    assert "not a row's ID" in messages_of(response)


def test_a_bad_filter_in_the_link_is_a_message_not_a_500(client, claim):
    staff(client, "auditor", "claims.view_completion")

    response = client.get(EXPORT_ALL, {"updated_at__year": "not-a-year"})

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:claims_completion_changelist")
    assert "Nothing was exported" in messages_of(response)


def test_export_all_takes_get_only(client, claim):
    staff(client, "auditor", "claims.view_completion")

    assert client.post(EXPORT_ALL).status_code == 405


def test_times_are_local_to_the_site(client, claim, settings):
    settings.TIME_ZONE = "Europe/Paris"
    staff(client, "auditor", "claims.view_completion")
    row = completion(claim, make_member("ada"))
    moment = datetime.datetime(2026, 7, 1, 12, 0, tzinfo=datetime.UTC)
    Completion.objects.filter(pk=row.pk).update(created_at=moment)

    lines = as_dicts(read_csv(export_action(client, CHANGELIST, [row.pk]), "completions"))

    assert lines[0]["created"] == "2026-07-01 14:00:00"


def test_each_export_is_logged_with_who_not_the_filters(client, claim, caplog):
    auditor = staff(client, "auditor", "claims.view_completion")
    completion(claim, make_member("ada"))

    with caplog.at_level("INFO", logger="core.csv_stream"):
        read_csv(client.get(EXPORT_ALL, {"q": "ada@example.com"}), "completions")

    (record,) = [r for r in caplog.records if r.name == "core.csv_stream"]
    assert (record.export, record.scope, record.actor) == (
        "completions",
        "all (filtered)",
        auditor.pk,
    )
    assert "ada" not in record.getMessage()

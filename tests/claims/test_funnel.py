"""The admin's funnel through the test client: members by sign-up cohort, stage by stage,
overall and per claim, with the landing pages' visits apart; its CSV; its queries."""

import csv
import datetime
import io

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from claims import funnel
from claims.models import Claim, Completion
from connections.models import ConnectedAccount
from tests.claims import funnel_support as seed
from tests.claims.admin_support import make_member
from tests.core.exports_support import BOM, read_csv

pytestmark = pytest.mark.django_db

URL = "/admin/claims/claim/funnel/"
CSV_URL = "/admin/claims/claim/funnel/csv/"


def counts(stages) -> list[int]:
    return [stage["count"] for stage in stages]


def body_rows(response) -> list[list[str]]:
    """A streamed CSV download's rows, after its byte order mark."""
    body = b"".join(response.streaming_content)
    assert body.startswith(BOM)
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def never_grow(numbers: list[int]) -> bool:
    return all(after <= before for before, after in zip(numbers, numbers[1:], strict=False))


def test_urls_are_the_admins():
    assert reverse("admin:claims_claim_funnel") == URL
    assert reverse("admin:claims_claim_funnel_csv") == CSV_URL


# --- 10,000 members, every path ------------------------------------------------------------


def test_stages_never_grow_on_ten_thousand_members(admin_client):
    claims = seed.seed_claims()
    taken = seed.seed_members(claims, scale=100)
    members = sum(taken[path.name] for path in seed.PATHS if not path.staff)
    assert members + taken["staff, everything"] == 10_000
    # Visitors of the claims' pages who never signed up: visits, not members.
    seed.seed_visits(claims, [timezone.localdate()], 250)

    # The raw facts do not nest: a member may hold an account without an address, or a
    # completed claim and no confirmed email address any more. Only the stages do.
    with_accounts = set(ConnectedAccount.objects.values_list("member", flat=True))
    with_address = set(get_user_model().objects.exclude(address="").values_list("pk", flat=True))
    assert with_accounts - with_address
    completed = set(Completion.objects.completed().values_list("member", flat=True))
    confirmed = set(EmailAddress.objects.filter(verified=True).values_list("user", flat=True))
    assert completed - confirmed

    response = admin_client.get(URL)
    assert response.status_code == 200
    data = response.context["funnel"]
    overall = counts(data.stages)
    assert overall == seed.expected(taken, lambda path: path.overall)
    assert overall[0] == members  # staff are not members
    assert never_grow(overall) and overall[-1] > 0
    assert data.visits == 250 * len(claims)  # apart from the stages
    granted = sum(taken[path.name] for path in seed.PATHS if path.outside)
    assert data.completed_outside == granted
    assert f"granted by hand without meeting the requirements: {granted} " in response.text

    rows = {row["slug"]: row for row in data.claims}
    assert set(rows) == set(seed.CLAIMS)
    for slug, row in rows.items():
        numbers = counts(row["stages"])
        assert numbers == seed.expected(taken, lambda path, s=slug: seed.per_claim(path, s))
        assert never_grow(numbers), slug
        assert numbers[:3] == overall[:3]
    # Each delivery method's completions are in its claim's last stage.
    assert counts(rows["gh-badge"]["stages"])[-1] == (
        taken["completed: BitBadges claim"]
        + taken["two claims, one completed"]
        + taken["eligible, failed, then granted"]
    )
    assert counts(rows["flow-any"]["stages"])[-1] == taken["completed: workflow"]
    assert counts(rows["store-pass"]["stages"])[-1] == (
        taken["completed: dynamic store"]
        + taken["completed, then removed everything"]
        + taken["completed, then re-issued"]
    )
    assert counts(rows["no-rules"]["stages"])[3] == 0  # nothing to meet: nobody meets it

    # From the data, not from the nesting: each stage's own fact, read alone, holds only
    # for members of the stage before, but for the routes the product leaves out of order
    # (each seeded path declares them). The page's stages are these facts nested.
    path_of = dict(funnel.cohort().values_list("pk", "first_name"))  # members, not staff
    shown = {"": overall} | {slug: counts(row["stages"]) for slug, row in rows.items()}
    # The page shows each stage's out-of-order members ("ahead"), per scope.
    shown_ahead = {"": data.stages} | {slug: row["stages"] for slug, row in rows.items()}
    common: list[set] = []  # stages 1 to 3 are the same in every scope: read once
    for scope, claim in [("", None), *((slug, claims[slug]) for slug in seed.CLAIMS)]:
        read = list(funnel.reached(claim=claim).values())
        common = common or [set(members) for members in read[:3]]
        facts = common + [set(members) for members in read[3:]]
        stage = facts[0]
        assert len(stage) == shown[scope][0]
        for number, fact in enumerate(facts[1:], start=2):
            ahead = fact - stage
            documented = {path.name for path in seed.PATHS if seed.ahead(path, scope) == number}
            where = (scope or "overall", funnel.STAGES[number - 1])
            assert {path_of[pk] for pk in ahead} == documented, where
            assert len(ahead) == sum(taken[name] for name in documented), where
            assert shown_ahead[scope][number - 1]["ahead"] == len(ahead), where
            stage = stage & fact  # a new set: `common` serves every scope
            assert len(stage) == shown[scope][number - 1], (scope, number)
        if not scope:
            # Completed outside the stages: completions the "Completed" fact does not hold.
            outside = {path_of[pk] for pk in completed - facts[-1] if pk in path_of}
            assert outside == {path.name for path in seed.PATHS if path.outside}


def test_conversion_between_adjacent_stages(admin_client):
    claims = seed.seed_claims()
    seed.seed_members(claims, scale=1)
    data = admin_client.get(URL).context["funnel"]
    stages = data.stages
    assert stages[0]["rate"] is None
    for before, after in zip(stages, stages[1:], strict=False):
        assert after["rate"] == round(100 * after["count"] / before["count"])
    text = admin_client.get(URL).text
    assert f"{stages[1]['rate']}%" in text
    # The admin home's function agrees with the page.
    assert funnel.member_funnel() == data.pairs()
    gh_badge = next(row for row in data.claims if row["slug"] == "gh-badge")
    assert [n for _, n in funnel.member_funnel(claim=claims["gh-badge"])] == counts(
        gh_badge["stages"]
    )


def test_an_empty_programme_shows_zeros_and_no_rates(admin_client):
    response = admin_client.get(URL)
    assert response.status_code == 200
    stages = response.context["funnel"].stages
    assert counts(stages) == [0] * 6
    assert [stage["rate"] for stage in stages] == [None] * 6
    assert "No claims yet." in response.text
    overall = read_csv(admin_client.get(CSV_URL), "funnel")[1]
    # No rate where there is no whole; then out of order, then signed up with BitBadges.
    assert overall[6:] == ["0"] * 6 + [""] * 5 + ["0"] * 5 + ["0"] * 6


# --- Cohort and visits by date ------------------------------------------------------------


def test_the_range_picks_members_by_sign_up_date_and_visits_by_day(admin_client):
    claims = seed.seed_claims()
    june = timezone.make_aware(datetime.datetime(2026, 6, 15, 12))
    july = timezone.make_aware(datetime.datetime(2026, 7, 15, 12))
    in_june = seed.seed_members(claims, scale=1, joined=june)
    seed.seed_members(claims, scale=2, joined=july)
    seed.seed_visits(claims, [datetime.date(2026, 6, 30), datetime.date(2026, 7, 1)], 5)

    response = admin_client.get(URL, {"since": "2026-06-01", "until": "2026-06-30"})
    data = response.context["funnel"]
    assert counts(data.stages) == seed.expected(in_june, lambda path: path.overall)
    assert data.visits == 5 * len(claims)  # the 30th is in, the 1st of July is not
    assert {row["visits"] for row in data.claims} == {5}
    assert "from 2026-06-01" in response.text and "to 2026-06-30" in response.text

    everyone = admin_client.get(URL).context["funnel"]
    assert everyone.stages[0]["count"] == 3 * data.stages[0]["count"]
    assert everyone.visits == 10 * len(claims)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "2026-13-45"}, "Enter the start date as YYYY-MM-DD"),
        ({"until": "yesterday"}, "Enter the end date as YYYY-MM-DD"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "must not be after the end date"),
        ({"until": "9999-12-31"}, "Choose dates between 1970 and 9000"),
        ({"since": "0001-01-01"}, "Choose dates between 1970 and 9000"),
    ],
)
def test_bad_dates_give_a_message(admin_client, params, message):
    make_member("alice")
    response = admin_client.get(URL, params)
    assert response.status_code == 200
    assert message in response.text
    assert response.context["funnel"].stages[0]["count"] == 1  # the whole history
    csv_response = admin_client.get(CSV_URL, params)
    assert csv_response.status_code == 400
    assert message in csv_response.content.decode()


# --- CSV -------------------------------------------------------------------------------------


def test_csv_has_the_pages_numbers(admin_client):
    claims = seed.seed_claims()
    taken = seed.seed_members(claims, scale=1)
    seed.seed_visits(claims, [timezone.localdate()], 3)
    page = admin_client.get(URL)
    assert f'href="{CSV_URL}"' in page.text and "Download CSV" in page.text

    # Written like every export (core/csv_stream.py): streamed, BOM, dated name.
    rows = read_csv(admin_client.get(CSV_URL), "funnel")
    header = rows[0]
    assert header[:6] == ["scope", "claim", "claim slug", "from", "until", "landing page visits"]
    assert header[6:12] == funnel.STAGES
    assert header[12] == "Email confirmed or address proven (% of Signed up)"
    assert len(rows) == 2 + len(claims)
    overall = rows[1]
    assert overall[:6] == ["overall", "", "", "", "", str(3 * len(claims))]
    expected = seed.expected(taken, lambda path: path.overall)
    assert [int(cell) for cell in overall[6:12]] == expected
    assert [int(cell) for cell in overall[12:17]] == [
        round(100 * after / before) for before, after in zip(expected, expected[1:], strict=False)
    ]
    # Per stage, the members who reached its fact without the stage before.
    assert header[17:22] == [f"{stage}: also reached out of order" for stage in funnel.STAGES[1:]]
    assert header[22:] == [f"{stage}: signed up with BitBadges" for stage in funnel.STAGES]

    def out_of_order(scope: str) -> list[int]:
        return [
            sum(taken[path.name] for path in seed.PATHS if seed.ahead(path, scope) == stage)
            for stage in range(2, 7)
        ]

    assert [int(cell) for cell in overall[17:22]] == out_of_order("")
    assert overall[22:] == ["0"] * 6  # the seed has no BitBadges sign-up (tests/journey)
    assert out_of_order("")[1] > 0  # the seed has such members
    page = admin_client.get(URL)
    for stage, number in zip(funnel.STAGES[2:], out_of_order("")[1:], strict=True):
        assert f"also reached out of order: {number}<" in page.text, stage
    by_slug = {row[2]: row for row in rows[2:]}
    gh = by_slug["gh-badge"]
    assert gh[:2] == ["claim", "Gh Badge"] and gh[5] == "3"
    assert [int(cell) for cell in gh[6:12]] == seed.expected(
        taken, lambda path: seed.per_claim(path, "gh-badge")
    )
    assert [int(cell) for cell in gh[17:22]] == out_of_order("gh-badge")


def test_csv_follows_the_range_and_names_it(admin_client):
    response = admin_client.get(CSV_URL, {"since": "2026-01-01", "until": "2026-01-31"})
    assert response["Content-Disposition"] == (
        'attachment; filename="funnel-from-2026-01-01-to-2026-01-31.csv"'
    )
    rows = body_rows(response)
    assert rows[1][3:5] == ["2026-01-01", "2026-01-31"]
    page = admin_client.get(URL, {"since": "2026-01-01", "until": "2026-01-31"})
    assert f"{CSV_URL}?since=2026-01-01&amp;until=2026-01-31" in page.text


def test_csv_quotes_names_and_keeps_them_whole(admin_client):
    name = 'Café, "Ünïcode" 🎉\nsecond line'
    Claim.objects.create(slug="cafe", name=name, delivery=Claim.Delivery.WORKFLOW)
    response = admin_client.get(CSV_URL)
    rows = read_csv(response, "funnel")
    assert rows[2][:3] == ["claim", name, "cafe"]
    assert len(rows) == 3 and all(len(row) == len(rows[0]) for row in rows)


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_csv_cells_never_run_as_formulas(admin_client, start):
    name = f'{start}HYPERLINK("http://evil.example","x")'
    Claim.objects.create(slug="evil", name=name, delivery=Claim.Delivery.WORKFLOW)
    rows = body_rows(admin_client.get(CSV_URL))
    assert rows[2][1] == "'" + name
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


# --- Queries -----------------------------------------------------------------------------


def test_constant_number_of_queries_whatever_the_size(admin_client):
    claims = seed.seed_claims()
    seed.seed_members(claims, scale=1)
    admin_client.get(URL)
    admin_client.get(CSV_URL)
    with CaptureQueriesContext(connection) as small_page:
        small = admin_client.get(URL).context["funnel"]
    with CaptureQueriesContext(connection) as small_csv:
        admin_client.get(CSV_URL)
    for index in range(5):
        claims[f"more-{index}"] = Claim.objects.create(
            slug=f"more-{index}", name=f"More {index}", delivery=Claim.Delivery.WORKFLOW
        )
    seed.seed_members(claims, scale=4)
    seed.seed_visits(claims, [timezone.localdate()], 2)
    with CaptureQueriesContext(connection) as large_page:
        large = admin_client.get(URL).context["funnel"]
    with CaptureQueriesContext(connection) as large_csv:
        admin_client.get(CSV_URL)
    assert large.stages[0]["count"] == 5 * small.stages[0]["count"]
    assert len(large.claims) == len(small.claims) + 5
    assert len(large_page) == len(small_page)
    assert len(large_csv) == len(small_csv)
    with CaptureQueriesContext(connection) as api:
        funnel.member_funnel(claim=claims["gh-badge"])
    assert len(api) == 1  # one query: every figure at once (claims/funnel/counts.py)


# --- Who may see it ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_staff_only(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))
    client.force_login(make_member("plain"))
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_needs_the_claims_view_permission(client, url):
    client.force_login(make_member("staffer", is_staff=True))
    assert client.get(url).status_code == 403


def test_with_view_permission_only(client):
    staff = make_member("viewer", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename="view_claim"))
    client.force_login(staff)
    assert client.get(URL).status_code == 200
    assert client.get(CSV_URL).status_code == 200
    changelist = client.get(reverse("admin:claims_claim_changelist"))
    assert URL in changelist.text

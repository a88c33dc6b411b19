"""The admin home (/admin/): the programme's figures, what needs attention with links to
the filtered lists, the chart, the funnel's summary and the admin's models in groups;
each only for staff whose permissions allow it, in a constant number of queries."""

import datetime
import re

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from claims.models import Completion, DeliveryPause
from operations.models import Incident
from tests.operations.home_support import (
    State,
    accounts,
    claims,
    completions,
    members,
    staff,
)

pytestmark = pytest.mark.django_db


HOME = "/admin/"


def home_of(client, user):
    client.force_login(user)
    response = client.get(HOME)
    assert response.status_code == 200
    return response


def section(html: str, section_id: str) -> str:
    """The HTML of the page's <section id=...>, or "" when the page has none."""
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, re.S)
    return match.group(0) if match else ""


def seed(size: int):
    """A programme of `size`: members (old and new), accounts of each health, claims and
    completions in each state. Returns the claims."""
    old = members(3 * size)
    recent = members(size, joined_days_ago=3)
    members(size, joined_days_ago=20, active=False)
    accounts(old[: 2 * size])
    accounts(old[2 * size : 2 * size + size], healthy=False)
    accounts(recent, healthy=False, dead=True)
    made = claims(max(2, size))
    completions(made[0], old[:size], State.COMPLETED, days_ago=1)
    completions(made[1], old[size : 2 * size], State.COMPLETED, days_ago=10)
    completions(made[0], recent, State.FAILED, days_ago=2)
    completions(made[1], recent, State.WAITING, event=False)
    later = timezone.now() + datetime.timedelta(hours=1)
    completions(made[1], old[:size], State.WAITING, event=False, next_attempt_at=later)
    completions(made[0], old[2 * size :], State.INELIGIBLE, days_ago=40, outcome_unknown=True)
    return made


def test_the_home_shows_the_programme_with_links_to_the_filtered_lists(client):
    seed(2)
    admin = staff("root", superuser=True)
    response = home_of(client, admin)
    page = response.text

    members_html = section(page, "home-members")
    # 6 old (active), 2 recent, 2 inactive; staff are not members.
    assert re.search(r"<dt>Members</dt><dd><a [^>]+>10</a>", members_html)
    assert re.search(r"<dt>Active \(may log in\)</dt><dd><a [^>]+>8</a>", members_html)
    assert re.search(r"<dt>Joined in the last 7 days</dt><dd><a [^>]+>2</a>", members_html)
    assert re.search(r"<dt>Joined in the last 30 days</dt><dd><a [^>]+>4</a>", members_html)
    first_short = timezone.localdate() - datetime.timedelta(days=6)
    assert f"date_joined__gte={first_short.isoformat()}T00%3A00%3A00" in members_html

    accounts_html = section(page, "home-accounts")
    for health, count in (("healthy", 4), ("unhealthy", 2), ("dead", 2)):
        assert f'?health={health}">{count}</a>' in accounts_html

    rows = {row.state: row for row in response.context["home"].completions}
    assert (rows["completed"].now, rows["completed"].short, rows["completed"].long) == (4, 2, 4)
    assert (rows["failed"].now, rows["failed"].short, rows["failed"].long) == (2, 2, 2)
    # Reached 40 days ago: in neither window; and no event took these to waiting.
    assert (rows["ineligible"].now, rows["ineligible"].long) == (2, 0)
    assert (rows["waiting"].now, rows["waiting"].long) == (4, 0)  # 2 due, 2 later
    assert 'data-state="failed"' in section(page, "home-completions")

    attention = {item.label: item for item in response.context["home"].attention}
    assert attention["Failed completions"].count == 2
    assert attention["Outcomes unknown"].count == 2
    assert attention["Backlog: completions due now"].count == 2
    assert attention["Dead accounts"].count == 2
    assert attention["Unhealthy accounts"].count == 2
    assert not any(label.startswith("Paused") for label in attention)

    # Each link opens the admin list it counts, filtered to exactly those rows.
    for label, expected in (
        ("Failed completions", 2),
        ("Outcomes unknown", 2),
        ("Backlog: completions due now", 2),
        ("Dead accounts", 2),
        ("Unhealthy accounts", 2),
    ):
        listed = client.get(attention[label].url)
        assert listed.status_code == 200, label
        assert listed.context["cl"].result_count == expected, label
        assert attention[label].url.replace("&", "&amp;") in section(page, "home-attention")
    joined = client.get(response.context["home"].members[2].url)
    assert joined.context["cl"].result_count == 2

    funnel_html = section(page, "home-funnel")
    assert reverse("admin:claims_claim_funnel") in funnel_html
    assert "Signed up" in funnel_html and "Completed" in funnel_html


def test_a_pause_shows_as_the_banner_and_as_something_needing_attention(client):
    made = seed(1)
    people = members(3)
    now = timezone.now()
    completions(made[0], people, State.WAITING, event=False, paused_at=now)
    DeliveryPause.objects.create(
        upstream="bitbadges", reason="Out of credits.", next_probe_at=now, started_at=now
    )
    response = home_of(client, staff("root", superuser=True))
    assert "Deliveries through BitBadges are paused" in response.text
    attention = {item.label: item for item in response.context["home"].attention}
    paused = attention["Paused: BitBadges out of credits"]
    assert paused.count == 3
    assert client.get(paused.url).context["cl"].result_count == 3


def test_each_section_needs_the_permission_of_what_it_counts(client):
    seed(1)
    # Only members' accounts: their figures and links, nothing of members or completions.
    accounts_only = staff("acc", "connections.view_connectedaccount")
    response = home_of(client, accounts_only)
    page = response.text
    assert section(page, "home-accounts")
    assert section(page, "home-attention")
    for absent in ("home-members", "home-completions", "home-chart", "home-funnel"):
        assert not section(page, absent), absent
    assert "/admin/claims/completion/" not in page
    assert "/admin/users/user/" not in page
    assert "The site&#x27;s accounts" not in page  # view_siteaccount not held
    labels = [item.label for item in response.context["home"].attention]
    assert labels == ["Dead accounts", "Unhealthy accounts"]
    groups = [group["name"] for group in response.context["app_groups"]]
    assert groups == ["Connections"]

    # Completions only: the ledger's figures, chart and attention; no accounts, members,
    # funnel (claims.view_claim), nor links to claims.
    ledger = staff("ledger", "claims.view_completion")
    page = home_of(client, ledger).text
    assert section(page, "home-completions") and section(page, "home-chart")
    for absent in ("home-members", "home-accounts", "home-funnel"):
        assert not section(page, absent), absent
    assert "/admin/connections/" not in page
    assert "/admin/claims/claim/" not in page

    # Nothing at all: the page says so, with no figure.
    nobody = staff("nobody")
    page = home_of(client, nobody).text
    assert "may not see any of the programme" in page
    assert "You don’t have permission to view or edit anything." in page
    for absent in ("home-members", "home-accounts", "home-completions", "home-attention"):
        assert not section(page, absent), absent


def test_the_staff_roles_see_what_their_role_allows(client):
    seed(1)
    support = staff("support")
    support.groups.add(Group.objects.get(name="Support"))
    page = home_of(client, support).text
    assert section(page, "home-members") and section(page, "home-accounts")
    assert section(page, "home-completions")

    editor = staff("editor")
    editor.groups.add(Group.objects.get(name="Claims editor"))
    page = home_of(client, editor).text
    assert section(page, "home-completions") and section(page, "home-funnel")
    assert not section(page, "home-members") and not section(page, "home-accounts")


def test_the_models_are_grouped_and_nothing_is_lost(client):
    admin = staff("root", superuser=True)
    response = home_of(client, admin)
    groups = response.context["app_groups"]
    names = [group["name"] for group in groups]
    assert names[:6] == ["Programme", "Claims", "Members", "Connections", "Operations", "Staff"]
    assert "Sandbox" in names  # the test settings run the sandbox
    grouped = {model["admin_url"] for group in groups for model in group["models"]}
    stock = {model["admin_url"] for app in response.context["app_list"] for model in app["models"]}
    assert grouped == stock
    programme = [model["object_name"] for model in groups[0]["models"]]
    assert programme[:3] == ["Claim", "ClaimJob", "App"]
    assert "caption>Programme</caption>" in response.text


def test_the_home_reads_in_the_same_number_of_queries_at_any_size(client):
    admin = staff("root", superuser=True)
    client.force_login(admin)
    client.get(HOME)  # the session, the permissions cache and the brand settle

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(HOME).status_code == 200
        return len(queries)

    seed(2)
    small = count()
    seed(40)
    Completion.objects.update(completed_at=timezone.now())
    large = count()
    assert small == large, (small, large)


def test_open_alert_incidents_show_to_staff_who_may_see_them(client):
    now = timezone.now()
    Incident.objects.create(
        kind=Incident.Kind.FAILING, summary="12 completions failed since 10:02.", count=12
    )
    Incident.objects.create(
        kind=Incident.Kind.CREDITS, summary="Out of credits.", opened_at=now, resolved_at=now
    )
    watcher = staff("watcher", "operations.view_incident")
    response = home_of(client, watcher)
    attention = section(response.text, "home-attention")
    assert "12 completions failed since 10:02." in attention
    assert "Out of credits." not in attention  # resolved
    assert '<strong class="attention-count">1</strong> Open alert incident<' in attention
    listed = client.get(response.context["home"].incidents_url)
    assert listed.status_code == 200 and listed.context["cl"].result_count == 1

    # Without the permission: no incident, no link to them.
    page = home_of(client, staff("other", "claims.view_completion")).text
    assert "12 completions failed" not in page
    assert "/admin/operations/incident/" not in page

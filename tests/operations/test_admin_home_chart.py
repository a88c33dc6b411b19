"""The admin home's chart: completions per day per claim over 30 days, drawn as SVG with
attributes and classes only (the CSP allows no inline style or script), and the same
numbers as a table."""

import datetime
import re

import pytest
from django.utils import timezone

from tests.operations.home_support import State, claims, completions, members, staff

pytestmark = pytest.mark.django_db


def chart_html(client, user) -> tuple[str, object]:
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 200
    match = re.search(r'<section[^>]*id="home-chart".*?</section>', response.text, re.S)
    assert match, "no chart section"
    return match.group(0), response.context["home"].chart


def test_the_chart_stacks_each_claims_completions_per_day_and_tables_them(client):
    made = claims(8)
    people = members(40)
    today = timezone.localdate()
    # Claims 0..7 get 8..1 completions yesterday; claim 0 also 3 today and 2 a month ago
    # (outside the 30 days: today and the 29 days before).
    start = 0
    for index, claim in enumerate(made):
        count = 8 - index
        completions(claim, people[start : start + count], State.COMPLETED, days_ago=1)
        start += count
    completions(made[0], members(3), State.COMPLETED, days_ago=0)
    completions(made[0], members(2), State.COMPLETED, days_ago=31)
    completions(made[1], members(4), State.FAILED, days_ago=1)  # not completions

    section, chart = chart_html(client, staff("root", superuser=True))

    # Six claims in a colour of their own, the most completed first, the rest together.
    labels = [series.label for series in chart.series]
    assert labels == [claim.name for claim in made[:6]] + ["Other claims"]
    assert [series.total for series in chart.series] == [11, 7, 6, 5, 4, 3, 3]
    assert len(chart.days) == 30
    assert chart.days[-1].day == today
    assert chart.days[0].day == today - datetime.timedelta(days=29)

    yesterday = (today - datetime.timedelta(days=1)).strftime("%a %Y-%m-%d")
    row = re.search(rf"<tr><th scope=\"row\">{yesterday}</th>(.*?)</tr>", section)
    assert row, "yesterday's row in the table"
    cells = re.findall(r'<td class="num">(\d+)</td>', row.group(1))
    assert cells == ["8", "7", "6", "5", "4", "3", "3", "36"]
    today_row = re.search(rf"<tr><th scope=\"row\">{today:%a %Y-%m-%d}</th>(.*?)</tr>", section)
    assert re.findall(r'<td class="num">(\d+)</td>', today_row.group(1))[-1] == "3"

    # Yesterday's bar: a segment a series, stacked from the bottom, each with its title.
    bars = re.findall(
        r'<rect class="chart-bar (series-[\w-]+)"[^>]*><title>([^<]+)</title>', section
    )
    titled = [title for _, title in bars if title.startswith(yesterday)]
    assert len(titled) == 7
    assert f"{yesterday}, Other claims: 3" in titled
    assert {css for css, _ in bars} == {f"series-{n}" for n in range(6)} | {"series-other"}
    assert "<svg" in section and 'role="img"' in section and "<desc" in section

    # Nothing inline for the CSP to refuse.
    assert "style=" not in section
    assert "<script" not in section


def test_a_quiet_month_says_so_instead_of_drawing(client):
    section, chart = chart_html(client, staff("root", superuser=True))
    assert chart.empty
    assert "No completions in the last 30 days." in section
    assert "<svg" not in section

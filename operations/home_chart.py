"""The admin home's chart: completions per day per claim, as numbers an SVG is drawn from.

The page draws it server-side (templates/admin/operations/_chart.html): stacked bars,
one a day, one colour a claim. The site's CSP allows no inline style and no inline
script, so colours come from classes (`series-0` ... in static/css/admin-home.css) and
every position is an SVG attribute computed here. The same numbers make the table
beside it, for screen readers and anyone who prefers figures.
"""

import datetime
from dataclasses import dataclass, field

# Claims drawn in a colour of their own (the most completed first); the others share one.
SERIES = 6
OTHER = "Other claims"

# The drawing's frame, in SVG user units (the SVG scales to the page's width).
WIDTH = 900
HEIGHT = 240
LEFT = 44  # room for the y axis' figures
RIGHT = 24  # room for the last date
BOTTOM = 24  # room for the dates
TOP = 8


@dataclass(frozen=True)
class Series:
    """One colour of the chart: a claim (pk set) or the other claims together."""

    label: str
    css: str
    pk: int | None = None
    total: int = 0


@dataclass(frozen=True)
class Segment:
    series: Series
    count: int
    y: float
    height: float


@dataclass
class Day:
    day: datetime.date
    x: float
    center: float
    total: int = 0
    counts: list[int] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    label: str = ""


@dataclass
class Chart:
    days: list[Day]
    series: list[Series]
    ticks: list[tuple[int, float]]
    bar_width: float
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_bottom: int = HEIGHT - BOTTOM

    @property
    def total(self) -> int:
        return sum(day.total for day in self.days)

    @property
    def last_day(self) -> datetime.date | None:
        return self.days[-1].day if self.days else None

    @property
    def empty(self) -> bool:
        return self.total == 0


def nice_step(top: int, ticks: int = 4) -> int:
    """A round step (1, 2 or 5 times a power of ten) that divides 0..top in ~`ticks`."""
    if top <= ticks:
        return 1
    raw = top / ticks
    power = 10 ** (len(str(int(raw))) - 1)
    for multiple in (1, 2, 5, 10):
        if power * multiple >= raw:
            return power * multiple
    return power * 10  # pragma: no cover - the loop always returns


def build(rows: list[dict], first: datetime.date, days: int) -> Chart:
    """The chart for `days` days from `first`, from rows of (claim_id, claim__name, day, n)."""
    totals: dict[int, int] = {}
    names: dict[int, str] = {}
    for row in rows:
        totals[row["claim_id"]] = totals.get(row["claim_id"], 0) + row["n"]
        names[row["claim_id"]] = row["claim__name"]
    ranked = sorted(totals, key=lambda pk: (-totals[pk], names[pk], pk))
    series = [
        Series(names[pk], f"series-{index}", pk, totals[pk])
        for index, pk in enumerate(ranked[:SERIES])
    ]
    rest = ranked[SERIES:]
    if rest:
        series.append(Series(OTHER, "series-other", None, sum(totals[pk] for pk in rest)))
    position = {item.pk: index for index, item in enumerate(series) if item.pk is not None}
    other = len(series) - 1

    plot_width = WIDTH - LEFT - RIGHT
    step = plot_width / days
    chart_days = [
        Day(
            day=first + datetime.timedelta(days=offset),
            x=round(LEFT + offset * step + step * 0.15, 2),
            center=round(LEFT + offset * step + step * 0.5, 2),
            counts=[0] * len(series),
        )
        for offset in range(days)
    ]
    by_date = {day.day: day for day in chart_days}
    for row in rows:
        day = by_date.get(row["day"])
        if day is None:
            continue
        day.counts[position.get(row["claim_id"], other)] += row["n"]
        day.total += row["n"]

    top = max((day.total for day in chart_days), default=0)
    tick_step = nice_step(top)
    scale_top = max(tick_step, -(-top // tick_step) * tick_step)  # top, rounded up
    plot_bottom = HEIGHT - BOTTOM
    plot_height = plot_bottom - TOP
    per_unit = plot_height / scale_top
    ticks = [
        (value, round(plot_bottom - value * per_unit, 2))
        for value in range(0, scale_top + 1, tick_step)
    ]
    for index, day in enumerate(chart_days):
        base = float(plot_bottom)
        for item, count in zip(series, day.counts, strict=True):
            if not count:
                continue
            height = count * per_unit
            base -= height
            day.segments.append(Segment(item, count, round(base, 2), round(height, 2)))
        # A date under every fifth bar and the last: thirty would not fit.
        if index % 5 == 0 or index == days - 1:
            day.label = day.day.strftime("%b %d").replace(" 0", " ")
    return Chart(
        days=chart_days,
        series=series,
        ticks=ticks,
        bar_width=round(step * 0.7, 2),
    )

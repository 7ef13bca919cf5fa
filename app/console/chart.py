"""The home page's chart: leads per hour by status, laid out as stacked bars for an inline SVG."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.cli_format import format_count

SECONDS_PER_HOUR = 3600

# Bottom to top in each bar, and the legend's order.
STATUS_ORDER = ("delivered", "duplicate", "queued", "failed", "dead", "rejected")

# The SVG's coordinate box; it scales to the page's width.
WIDTH = 960
HEIGHT = 260
MARGIN_LEFT = 44
MARGIN_BOTTOM = 28
MARGIN_TOP = 10


@dataclass(frozen=True)
class HourCounts:
    """The leads created in one hour, by status."""

    hour: int  # Unix seconds // 3600
    counts: dict[str, int]

    @property
    def start(self) -> datetime:
        """Return the hour's start, in UTC."""
        return datetime.fromtimestamp(self.hour * SECONDS_PER_HOUR, UTC)

    @property
    def total(self) -> int:
        """Return how many leads the hour has, whatever their status."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class Segment:
    """One status's part of one hour's bar, in SVG coordinates."""

    x: float
    y: float
    width: float
    height: float
    status: str
    label: str


@dataclass(frozen=True)
class Chart:
    """Everything the template draws: bars, axis ticks, totals and a one-sentence summary."""

    hours: list[HourCounts]
    segments: list[Segment]
    y_ticks: list[tuple[float, int]]
    x_ticks: list[tuple[float, str]]
    totals: dict[str, int]
    summary: str
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = MARGIN_LEFT
    plot_bottom: float = HEIGHT - MARGIN_BOTTOM
    statuses: tuple[str, ...] = field(default=STATUS_ORDER)


def count_hours(rows: list[tuple[int, str, int]], *, first_hour: int, hours: int) -> list[HourCounts]:
    """Spread (hour, status, count) rows over every hour from `first_hour`, empty hours included."""
    counts: dict[int, dict[str, int]] = {hour: {} for hour in range(first_hour, first_hour + hours)}
    for hour, status, count in rows:
        if hour in counts:
            counts[hour][status] = counts[hour].get(status, 0) + count
    return [HourCounts(hour=hour, counts=by_status) for hour, by_status in counts.items()]


def build_chart(hours: list[HourCounts], *, days: int) -> Chart:
    """Lay out stacked bars, one per hour, scaled to the busiest hour."""
    top = _round_up(max((hour.total for hour in hours), default=0))
    plot_height = HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    slot = (WIDTH - MARGIN_LEFT) / max(len(hours), 1)
    scale = plot_height / top

    segments = []
    for index, hour in enumerate(hours):
        x = MARGIN_LEFT + index * slot
        y = HEIGHT - MARGIN_BOTTOM
        for status in _statuses(hour.counts):
            height = hour.counts[status] * scale
            y -= height
            label = f"{hour.start:%Y-%m-%d %H:00} UTC: {hour.counts[status]} {status}"
            segments.append(Segment(x=x, y=y, width=max(slot - 1, 1), height=height, status=status, label=label))

    totals = {status: sum(hour.counts.get(status, 0) for hour in hours) for status in _statuses_of(hours)}
    return Chart(
        hours=hours,
        segments=segments,
        y_ticks=[(HEIGHT - MARGIN_BOTTOM - value * scale, value) for value in _ticks(top)],
        x_ticks=_x_ticks(hours, slot, days),
        totals=totals,
        summary=_summary(totals, days),
    )


def _statuses(counts: dict[str, int]) -> list[str]:
    # Known statuses in their order, then any other the store holds, so no lead goes uncounted.
    known = [status for status in STATUS_ORDER if counts.get(status)]
    return known + sorted(status for status in counts if status not in STATUS_ORDER and counts[status])


def _statuses_of(hours: list[HourCounts]) -> list[str]:
    merged: dict[str, int] = {}
    for hour in hours:
        for status, count in hour.counts.items():
            merged[status] = merged.get(status, 0) + count
    return _statuses(merged)


def _round_up(value: int) -> int:
    """Return the smallest of 1, 2, 5, 10, 20, 50, ... at or above the value."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 5, 10) if step * magnitude >= value)


def _ticks(top: int) -> list[int]:
    step = max(top // 5 if top >= 5 else 1, 1)
    return list(range(0, top + 1, step))


def _x_ticks(hours: list[HourCounts], slot: float, days: int) -> list[tuple[float, str]]:
    # Every midnight UTC gets its date; with three days or fewer, every sixth hour gets its time too.
    every = 6 if days <= 3 else 24
    ticks = []
    for index, hour in enumerate(hours):
        start = hour.start
        if start.hour % every:
            continue
        label = f"{start:%b %d}" if start.hour == 0 else f"{start:%H:00}"
        ticks.append((MARGIN_LEFT + index * slot, label))
    return ticks


def _summary(totals: dict[str, int], days: int) -> str:
    span = "the last day" if days == 1 else f"the last {days} days"
    if not totals:
        return f"No leads arrived in {span}."
    parts = ", ".join(f"{count} {status}" for status, count in totals.items())
    return f"{format_count(sum(totals.values()), 'lead')} arrived in {span}: {parts}."

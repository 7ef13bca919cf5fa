"""Console: the chart of leads per hour by status."""

from __future__ import annotations

import re
import time

from app.console.chart import STATUS_ORDER, HourCounts, build_chart, count_hours
from tests.console.conftest import add_lead

HOUR = 3600


def test_count_hours_fills_empty_hours():
    rows = [(100, "delivered", 2), (100, "dead", 1), (102, "delivered", 4), (99, "delivered", 7)]

    hours = count_hours(rows, first_hour=100, hours=3)

    assert [hour.hour for hour in hours] == [100, 101, 102]
    assert hours[0].counts == {"delivered": 2, "dead": 1}
    assert hours[1].counts == {}
    assert hours[2].total == 4


def test_bars_stack_in_status_order():
    chart = build_chart([HourCounts(hour=100, counts={"dead": 1, "delivered": 3})], days=1)

    delivered, dead = chart.segments
    assert (delivered.status, dead.status) == ("delivered", "dead")
    assert delivered.y + delivered.height == chart.plot_bottom
    assert dead.y + dead.height == delivered.y
    assert delivered.height == 3 * dead.height
    assert dead.label == "1970-01-05 04:00 UTC: 1 dead"


def test_chart_summary_and_totals():
    hours = [HourCounts(hour=100, counts={"delivered": 3}), HourCounts(hour=101, counts={"queued": 1, "dead": 2})]

    chart = build_chart(hours, days=2)

    assert chart.totals == {"delivered": 3, "queued": 1, "dead": 2}
    assert chart.summary == "6 leads arrived in the last 2 days: 3 delivered, 1 queued, 2 dead."


def test_empty_chart_has_no_bars():
    chart = build_chart(count_hours([], first_hour=100, hours=24), days=1)

    assert chart.segments == []
    assert chart.summary == "No leads arrived in the last day."


def test_unknown_status_still_counted():
    chart = build_chart([HourCounts(hour=100, counts={"archived": 2})], days=1)

    assert chart.totals == {"archived": 2}
    assert chart.segments[0].status == "archived"


def test_home_chart_counts_per_hour(operator, store):
    now = time.time()
    current_hour_start = now - now % HOUR
    add_lead(store, status="delivered", created_at=current_hour_start + 1)
    add_lead(store, status="delivered", created_at=current_hour_start + 2)
    add_lead(store, status="dead", created_at=current_hour_start - HOUR + 5)
    add_lead(store, status="delivered", created_at=now - 4 * 86400)

    html = operator.get("/console/").get_data(as_text=True)

    assert "3 leads arrived in the last 3 days: 2 delivered, 1 dead." in html
    assert len(re.findall(r'<rect class="bar bar-delivered"', html)) == 1
    assert len(re.findall(r'<rect class="bar bar-dead"', html)) == 1
    assert 'role="img"' in html
    assert 'aria-labelledby="chart-title chart-summary"' in html
    for status in STATUS_ORDER:
        assert f'<span class="swatch bar-{status}"' in html


def test_home_chart_days(operator, store):
    add_lead(store, status="delivered", created_at=time.time() - 4 * 86400)

    html = operator.get("/console/?days=7").get_data(as_text=True)

    assert "1 lead arrived in the last 7 days: 1 delivered." in html


def test_home_chart_invalid_days(operator):
    response = operator.get("/console/?days=90")

    assert response.status_code == 400
    assert "the chart shows 1 to 14 days" in response.get_data(as_text=True)

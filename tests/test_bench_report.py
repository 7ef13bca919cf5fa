"""The benchmark report's target checks, on figures made up for each case."""

from __future__ import annotations

from bench.report import Point, Run, check_targets


def point(group: str, upstream: str, senders: int, *, rate: float, p50: float, p99: float) -> Point:
    """A point with two identical runs of the given figures."""
    run = Run(rate=rate, p50_ms=p50, p99_ms=p99, cpu_ms_per_lead=1.0, peak_rss_mib=70.0,
              statuses={"201": 100}, errors={}, requests=100)
    return Point(group, upstream, senders, runs=[run, run])


def verdicts_by_target(points: list[Point]) -> dict[str, tuple[str, str]]:
    return {verdict.target: (verdict.outcome, verdict.detail)
            for verdict in check_targets(points, top=64, soak_growth=None)}


POINTS = [
    point("sim", "0 ms", 1, rate=3000, p50=0.3, p99=0.5),
    point("sim", "250 ms", 64, rate=250, p50=251, p99=270),
    point("minimal", "0 ms", 1, rate=300, p50=3.6, p99=5),
    point("minimal", "0 ms", 64, rate=500, p50=110, p99=600),
    point("minimal", "250 ms", 64, rate=240, p50=260, p99=330),
    point("sqlite", "0 ms", 1, rate=200, p50=2.0, p99=4),
    point("sqlite", "0 ms", 64, rate=520, p50=100, p99=500),
    point("sqlite", "250 ms", 64, rate=200, p50=320, p99=505),
]


def test_relay_latency_targets_checked():
    verdicts = verdicts_by_target(POINTS)

    assert verdicts["(c) relay, SQLite: p50 at 1 sender within 2 ms of the simulator alone"] == ("PASS", "+1.70 ms")
    slow = verdicts["(c) relay, SQLite: 250 ms upstream, 64 senders: at least 95% of the simulator alone's rate, "
                    "p99 under 400 ms"]
    assert slow == ("FAIL", "80.0% of 250 leads/s, p99 505 ms")
    throughput = verdicts["(c) relay, SQLite: throughput at 64 senders at least the minimal relay's"]
    assert throughput == ("PASS", "520 vs 500 leads/s (104%)")


def test_minimal_relay_checked_for_reference():
    verdicts = verdicts_by_target(POINTS)

    p50 = verdicts["(b) minimal relay, for reference: p50 at 1 sender within 2 ms of the simulator alone"]
    assert p50 == ("FAIL", "+3.30 ms")
    slow = verdicts["(b) minimal relay, for reference: 250 ms upstream, 64 senders: at least 95% of the simulator "
                    "alone's rate, p99 under 400 ms"]
    assert slow == ("PASS", "96.0% of 250 leads/s, p99 330 ms")


def test_unmeasured_targets_not_applicable():
    verdicts = verdicts_by_target([point("sqlite", "0 ms", 1, rate=200, p50=2.0, p99=4)])

    p50 = verdicts["(b) minimal relay, for reference: p50 at 1 sender within 2 ms of the simulator alone"]
    assert p50 == ("n/a", "not measured in this run (minimal and sim at 1 sender)")
    relay = verdicts["(c) relay, SQLite: p50 at 1 sender within 2 ms of the simulator alone"]
    assert relay == ("n/a", "not measured in this run (sqlite and sim at 1 sender)")


def test_many_clients_compared_with_one_address():
    target = ("(c) relay, SQLite: with a new client address for every lead, at least 90% of the throughput "
              "from one address")

    slower = verdicts_by_target([*POINTS, point("clients-sqlite", "0 ms", 64, rate=442, p50=120, p99=600)])
    level = verdicts_by_target([*POINTS, point("clients-sqlite", "0 ms", 64, rate=510, p50=101, p99=500)])

    assert slower[target] == ("FAIL", "85% of 520 leads/s")
    assert level[target] == ("PASS", "98% of 520 leads/s")
    assert verdicts_by_target(POINTS)[target] == ("n/a", "not measured in this run (sqlite at 0 ms)")

"""The benchmark's figures as Markdown: the machine, one row per point, the targets checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import mean

# Group -> the label of its rows: (a) to (d) name the compared setups, as docs/benchmarks.md does.
GROUP_LABELS = {
    "sim": "(a) simulator alone",
    "minimal": "(b) minimal relay",
    "sqlite": "(c) relay, SQLite",
    "postgres": "(c') relay, PostgreSQL",
    "outage-sqlite": "(d) outage, SQLite",
    "outage-postgres": "(d) outage, PostgreSQL",
    "history-sqlite": "(c) relay, SQLite, with history",
    "history-postgres": "(c') relay, PostgreSQL, with history",
    "clients-sqlite": "(c) relay, SQLite, a new client address per lead",
}

RSS_LIMIT_MIB = 80
SOAK_GROWTH_LIMIT = 0.10
P50_OVERHEAD_LIMIT_MS = 2.0
SLOW_UPSTREAM_SHARE = 0.95
SLOW_UPSTREAM_P99_MS = 400
OUTAGE_SHARE = 0.5
HISTORY_SHARE = 0.9
HISTORY_P50_SLACK_MS = 1.0
CLIENTS_SHARE = 0.9


@dataclass
class Run:
    """One measured run of a point."""

    rate: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_lead: float | None
    peak_rss_mib: float | None
    statuses: dict[str, int]
    errors: dict[str, int]
    requests: int
    # Outage runs only: the leads the store gained, and the 2xx answers wrk counted.
    stored: int | None = None
    accepted: int | None = None


@dataclass
class Point:
    """A group (what is measured) at one upstream latency and one concurrency, run several times."""

    group: str
    upstream: str
    concurrency: int
    runs: list[Run] = field(default_factory=list)

    def average(self, attribute: str) -> float | None:
        """Return the mean of one figure over the runs, None when a run lacks it."""
        values = [getattr(run, attribute) for run in self.runs]
        if not values or any(value is None for value in values):
            return None
        return mean(values)


def _figures(point: Point, attribute: str, digits: int) -> str:
    values = [getattr(run, attribute) for run in point.runs]
    return " / ".join("–" if value is None else f"{value:,.{digits}f}" for value in values)


def _other_answers(point: Point) -> str:
    notes = []
    for run in point.runs:
        others = {status: count for status, count in run.statuses.items() if not status.startswith("2")}
        socket_errors = {kind: count for kind, count in run.errors.items() if kind != "status" and count}
        parts = [f"{count}×{status}" for status, count in sorted(others.items())]
        parts += [f"{count} {kind}" for kind, count in sorted(socket_errors.items())]
        if run.stored is not None:
            parts.append(f"stored {run.stored:,} of {run.accepted:,} accepted")
        notes.append(", ".join(parts) or "none")
    return " / ".join(notes)


def points_table(points: list[Point]) -> str:
    """Return the Markdown table of every point, each figure given for every run."""
    lines = [
        "| what | upstream | senders | leads/s | p50 ms | p99 ms | CPU ms/lead | peak RSS/worker MiB | other answers |",
        "|---|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for point in points:
        lines.append(
            f"| {GROUP_LABELS[point.group]} | {point.upstream} | {point.concurrency} "
            f"| {_figures(point, 'rate', 0)} | {_figures(point, 'p50_ms', 2)} | {_figures(point, 'p99_ms', 1)} "
            f"| {_figures(point, 'cpu_ms_per_lead', 2)} | {_figures(point, 'peak_rss_mib', 1)} "
            f"| {_other_answers(point)} |"
        )
    return "\n".join(lines)


def _find(points: list[Point], group: str, upstream: str, concurrency: int) -> Point | None:
    """Return the point with every run measured, or None (not selected, or stopped early)."""
    for point in points:
        if (point.group, point.upstream, point.concurrency) == (group, upstream, concurrency) and point.runs:
            return point
    return None


@dataclass(frozen=True)
class Verdict:
    """One target: what it asks, PASS, FAIL or n/a, and the figures behind it."""

    target: str
    outcome: str
    detail: str

    def line(self) -> str:
        """Return the verdict as a Markdown list item."""
        return f"- **{self.outcome}** {self.target}: {self.detail}"


def _verdict(target: str, passed: bool, detail: str) -> Verdict:
    return Verdict(target, "PASS" if passed else "FAIL", detail)


def _missing(target: str, what: str) -> Verdict:
    return Verdict(target, "n/a", f"not measured in this run ({what})")


def check_targets(points: list[Point], *, top: int, soak_growth: float | None) -> list[Verdict]:
    """Check the targets listed in docs/benchmarks.md on the mean of each point's runs."""
    verdicts = []
    minimal = _find(points, "minimal", "0 ms", top)
    for store in ("sqlite", "postgres"):
        relay = _find(points, store, "0 ms", top)
        name = GROUP_LABELS[store]

        target = f"{name}: throughput at {top} senders at least the minimal relay's"
        if relay and minimal:
            ratio = relay.average("rate") / minimal.average("rate")
            verdicts.append(_verdict(target, ratio >= 1, f"{relay.average('rate'):,.0f} vs "
                                     f"{minimal.average('rate'):,.0f} leads/s ({ratio:.0%})"))
        else:
            verdicts.append(_missing(target, f"{store} and minimal at 0 ms"))

        verdicts.append(_p50_verdict(points, store, name))
        verdicts.append(_slow_upstream_verdict(points, store, name, top))
        verdicts.append(_outage_verdict(points, store, relay, top))
        verdicts.append(_rss_verdict(points, store))
        verdicts.append(_history_verdict(points, store, top))
        if store == "sqlite":
            verdicts.append(_clients_verdict(points, store, relay, top))

    # The yardstick against the two targets on latency, to show how far the machine itself is from them.
    reference = f"{GROUP_LABELS['minimal']}, for reference"
    verdicts.append(_p50_verdict(points, "minimal", reference))
    verdicts.append(_slow_upstream_verdict(points, "minimal", reference, top))

    if soak_growth is None:
        verdicts.append(_missing(f"RSS growth under {SOAK_GROWTH_LIMIT:.0%} over a 10-minute soak", "--soak"))
    else:
        verdicts.append(_verdict(f"RSS growth under {SOAK_GROWTH_LIMIT:.0%} over the soak",
                                 soak_growth < SOAK_GROWTH_LIMIT, f"{soak_growth:+.1%} per worker at most"))
    return verdicts


def _p50_verdict(points: list[Point], group: str, name: str) -> Verdict:
    target = f"{name}: p50 at 1 sender within {P50_OVERHEAD_LIMIT_MS:g} ms of the simulator alone"
    single = _find(points, group, "0 ms", 1)
    simulator = _find(points, "sim", "0 ms", 1)
    if single is None or simulator is None:
        return _missing(target, f"{group} and sim at 1 sender")
    overhead = single.average("p50_ms") - simulator.average("p50_ms")
    return _verdict(target, overhead <= P50_OVERHEAD_LIMIT_MS, f"+{overhead:.2f} ms")


def _slow_upstream_verdict(points: list[Point], group: str, name: str, top: int) -> Verdict:
    target = (f"{name}: 250 ms upstream, {top} senders: at least {SLOW_UPSTREAM_SHARE:.0%} of the simulator "
              f"alone's rate, p99 under {SLOW_UPSTREAM_P99_MS} ms")
    slow = _find(points, group, "250 ms", top)
    simulator = _find(points, "sim", "250 ms", top)
    if slow is None or simulator is None:
        return _missing(target, f"{group} and sim at 250 ms")
    share = slow.average("rate") / simulator.average("rate")
    p99 = slow.average("p99_ms")
    passed = share >= SLOW_UPSTREAM_SHARE and p99 < SLOW_UPSTREAM_P99_MS
    return _verdict(target, passed, f"{share:.1%} of {simulator.average('rate'):,.0f} leads/s, p99 {p99:.0f} ms")


def _outage_verdict(points: list[Point], store: str, healthy: Point | None, top: int) -> Verdict:
    target = (f"{GROUP_LABELS['outage-' + store]}: intake keeps at least {OUTAGE_SHARE:.0%} of its healthy rate "
              "once the breaker is open, every lead stored")
    outage = _find(points, f"outage-{store}", "hanging", top)
    if outage is None or healthy is None:
        return _missing(target, f"outage and {store} at 0 ms")
    share = outage.average("rate") / healthy.average("rate")
    all_stored = all(run.stored is not None and run.stored >= run.accepted for run in outage.runs)
    only_accepted = all(run.accepted == run.requests for run in outage.runs)
    detail = (f"{outage.average('rate'):,.0f} vs {healthy.average('rate'):,.0f} leads/s ({share:.0%}); "
              f"{'every' if all_stored else 'NOT every'} accepted lead stored"
              f"{'' if only_accepted else '; some answers were not 2xx'}")
    return _verdict(target, share >= OUTAGE_SHARE and all_stored and only_accepted, detail)


def _rss_verdict(points: list[Point], store: str) -> Verdict:
    target = f"{GROUP_LABELS[store]}: peak RSS per worker under {RSS_LIMIT_MIB} MiB"
    peaks = [run.peak_rss_mib for point in points if point.group.endswith(store) for run in point.runs
             if run.peak_rss_mib is not None]
    if not peaks:
        return _missing(target, store)
    return _verdict(target, max(peaks) < RSS_LIMIT_MIB, f"{max(peaks):.1f} MiB at most")


def _history_verdict(points: list[Point], store: str, top: int) -> Verdict:
    target = (f"{GROUP_LABELS[store]}: with the stored history, at least {HISTORY_SHARE:.0%} of the throughput and "
              f"p50 at 1 sender within {HISTORY_P50_SLACK_MS:g} ms of an empty store")
    pairs = [(_find(points, store, "0 ms", concurrency), _find(points, f"history-{store}", "0 ms", concurrency))
             for concurrency in (top, 1)]
    if not all(empty and full for empty, full in pairs):
        return _missing(target, "--history")
    (empty_top, full_top), (empty_single, full_single) = pairs
    share = full_top.average("rate") / empty_top.average("rate")
    slower = full_single.average("p50_ms") - empty_single.average("p50_ms")
    detail = f"{share:.0%} of the throughput, p50 {slower:+.2f} ms"
    return _verdict(target, share >= HISTORY_SHARE and slower <= HISTORY_P50_SLACK_MS, detail)


def _clients_verdict(points: list[Point], store: str, one_client: Point | None, top: int) -> Verdict:
    target = (f"{GROUP_LABELS[store]}: with a new client address for every lead, at least {CLIENTS_SHARE:.0%} "
              "of the throughput from one address")
    many = _find(points, f"clients-{store}", "0 ms", top)
    if many is None or one_client is None:
        return _missing(target, f"{store} at 0 ms")
    share = many.average("rate") / one_client.average("rate")
    return _verdict(target, share >= CLIENTS_SHARE, f"{share:.0%} of {one_client.average('rate'):,.0f} leads/s")


def soak_table(samples: list[tuple[float, list[float]]]) -> str:
    """Return the soak's RSS samples as a Markdown table: minutes, then MiB per worker."""
    if not samples:
        return ""
    workers = len(samples[0][1])
    header = "| minutes | " + " | ".join(f"worker {index + 1} RSS MiB" for index in range(workers)) + " |"
    lines = [header, "|--:|" + "--:|" * workers]
    for minutes, values in samples:
        lines.append(f"| {minutes:.1f} | " + " | ".join(f"{value:.1f}" for value in values) + " |")
    return "\n".join(lines)

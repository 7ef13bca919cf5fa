"""Rate-limit windows in memory: counts, resets, and expired windows removed without scanning every key."""

from __future__ import annotations

import threading
import time

import pytest
from limits import parse

from app.intake import memory_windows
from app.intake.memory_windows import MemoryWindows
from app.intake.ratelimits import FailOpenCounter


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_hit_rejects_over_limit(clock):
    windows = MemoryWindows(clock)
    limit = parse("3/minute")

    assert [windows.hit(limit, "ip", "198.51.100.7") for _ in range(4)] == [True, True, True, False]
    assert windows.hit(limit, "ip", "198.51.100.8")


def test_window_lasts_whole_period(clock):
    windows = MemoryWindows(clock)
    limit = parse("1/minute")
    windows.hit(limit, "ip", "198.51.100.7")

    clock.now += 59.9
    assert not windows.hit(limit, "ip", "198.51.100.7")

    clock.now += 0.1
    assert windows.hit(limit, "ip", "198.51.100.7")


def test_window_stats_remaining_and_reset(clock):
    windows = MemoryWindows(clock)
    limit = parse("5/minute")
    windows.hit(limit, "ip", "198.51.100.7")
    windows.hit(limit, "ip", "198.51.100.7")
    clock.now += 20

    stats = windows.get_window_stats(limit, "ip", "198.51.100.7")

    assert stats.remaining == 3
    assert stats.reset_time == pytest.approx(time.time() + 40, abs=1)


def test_window_stats_uncounted_key(clock):
    stats = MemoryWindows(clock).get_window_stats(parse("5/minute"), "ip", "198.51.100.7")

    assert stats.remaining == 5
    assert stats.reset_time == pytest.approx(time.time(), abs=1)


def address(client: int) -> str:
    return f"10.0.{client // 256}.{client % 256}"


@pytest.fixture
def few_removals(monkeypatch) -> int:
    """Let each count remove 4 ended windows at most, so that a test can see windows wait for removal."""
    monkeypatch.setattr(memory_windows, "REMOVALS_PER_COUNT", 4)
    return 4


def test_hit_removes_few_ended_windows(clock, few_removals):
    windows = MemoryWindows(clock)
    per_minute, per_second = parse("10/minute"), parse("10/second")
    for client in range(1000):
        windows.hit(per_minute, "ip", address(client))
        windows.hit(per_second, "ip", address(client))
    assert len(windows) == 2000

    clock.now += 1
    windows.hit(per_minute, "ip", "198.51.100.7")
    assert len(windows) == 2001 - few_removals

    for _ in range(1000 // few_removals):
        windows.hit(per_minute, "ip", "198.51.100.7")
    assert len(windows) == 1001

    clock.now += 59
    for _ in range(1000 // few_removals + 1):
        windows.hit(per_second, "ip", "198.51.100.7")
    # Left: 198.51.100.7's two windows, the one per minute started a minute after the others.
    assert len(windows) == 2


def test_ended_window_awaiting_removal_starts_again(clock, few_removals):
    windows = MemoryWindows(clock)
    limit = parse("1/minute")
    for client in range(10):
        windows.hit(limit, "ip", address(client))
    windows.hit(limit, "ip", "198.51.100.7")
    clock.now += 60

    # Its ended window waits behind the others for removal, yet counts as ended: a new window starts.
    assert windows.hit(limit, "ip", "198.51.100.7")
    assert not windows.hit(limit, "ip", "198.51.100.7")

    # Removing the ended window's entry leaves the new window in place.
    for _ in range(10):
        windows.get_window_stats(limit, "ip", "198.51.100.7")
    assert windows.get_window_stats(limit, "ip", "198.51.100.7").remaining == 0
    assert len(windows) == 1


def test_clock_read_under_lock():
    # A thread that read the clock before waiting for the lock would queue its window behind later ones.
    readings_locked = []

    def clock() -> float:
        readings_locked.append(windows._lock.locked())
        return 1000.0

    windows = MemoryWindows(clock)
    windows.hit(parse("1/minute"), "ip", "198.51.100.7")
    windows.get_window_stats(parse("1/minute"), "ip", "198.51.100.7")

    assert readings_locked == [True, True]


def test_memory_counter_starts_no_threads():
    counter = FailOpenCounter("memory://")
    limit = parse("1000/minute")
    before = {thread.ident for thread in threading.enumerate()}

    for client in range(500):
        assert counter.hit(limit, "ip", f"10.0.{client // 256}.{client % 256}")

    assert {thread.ident for thread in threading.enumerate()} == before
    assert isinstance(counter.shared, MemoryWindows)

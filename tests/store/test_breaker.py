"""CircuitBreaker: opening after transient failures, and one probe per interval."""

from __future__ import annotations

from app.breaker import CircuitBreaker
from tests.store.helpers import Clock


def open_breaker(clock: Clock) -> CircuitBreaker:
    breaker = CircuitBreaker(threshold=3, open_seconds=30, clock=clock)
    for _ in range(3):
        breaker.record(transient_failure=True)
    return breaker


def test_breaker_opens_at_threshold():
    breaker = CircuitBreaker(threshold=3, open_seconds=30, clock=Clock())

    breaker.record(transient_failure=True)
    breaker.record(transient_failure=True)
    assert breaker.allow() is True

    breaker.record(transient_failure=True)
    assert breaker.is_open
    assert breaker.allow() is False


def test_breaker_reply_resets_count():
    breaker = CircuitBreaker(threshold=2, open_seconds=30, clock=Clock())

    breaker.record(transient_failure=True)
    breaker.record(transient_failure=False)
    breaker.record(transient_failure=True)

    assert not breaker.is_open


def test_breaker_one_probe_at_a_time():
    clock = Clock()
    breaker = open_breaker(clock)
    clock.advance(30)

    assert breaker.allow() is True
    assert breaker.allow() is False
    assert breaker.allow() is False


def test_breaker_probe_success_closes():
    clock = Clock()
    breaker = open_breaker(clock)
    clock.advance(30)
    breaker.allow()

    breaker.record(transient_failure=False)

    assert not breaker.is_open
    assert breaker.allow() is True


def test_breaker_probe_failure_reopens():
    clock = Clock()
    breaker = open_breaker(clock)
    clock.advance(30)
    breaker.allow()

    breaker.record(transient_failure=True)

    assert breaker.is_open
    assert breaker.allow() is False
    clock.advance(29)
    assert breaker.allow() is False
    clock.advance(1)
    assert breaker.allow() is True

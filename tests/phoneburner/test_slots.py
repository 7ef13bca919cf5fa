"""Call slots: a bound on concurrent PhoneBurner calls, under threads and under gevent."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from app import waiting_line
from app.phoneburner.slots import CallSlots

ROOT = Path(__file__).resolve().parents[2]


def test_slot_taken_and_given_back():
    slots = CallSlots(1)

    with slots.hold(wait=0) as first, slots.hold(wait=0) as second:
        assert first is True
        assert second is False
    with slots.hold(wait=0) as again:
        assert again is True


def test_slot_given_back_after_error():
    slots = CallSlots(1)

    try:
        with slots.hold(wait=0):
            raise RuntimeError("the call failed")
    except RuntimeError:
        pass

    with slots.hold(wait=0) as held:
        assert held is True


def start_waiter(slots: CallSlots, name: str, outcomes: list) -> threading.Thread:
    """Start a thread that waits up to 5 s for a slot, records whether it got one, and gives it back."""

    def wait_for_slot() -> None:
        with slots.hold(wait=5) as held:
            outcomes.append((name, held))

    thread = threading.Thread(target=wait_for_slot)
    waiting = len(slots._line)
    thread.start()
    deadline = time.monotonic() + 5
    while len(slots._line) == waiting:
        assert time.monotonic() < deadline, "the thread never started waiting"
        time.sleep(0.001)
    return thread


def test_freed_slot_goes_to_waiter_not_newcomer():
    slots = CallSlots(1)
    outcomes = []

    with slots.hold(wait=0):
        waiter = start_waiter(slots, "waiter", outcomes)

    with slots.hold(wait=0) as newcomer:
        assert newcomer is False
    waiter.join(5)
    assert outcomes == [("waiter", True)]


def test_waiters_served_in_arrival_order():
    slots = CallSlots(1)
    outcomes = []

    with slots.hold(wait=0):
        waiters = [start_waiter(slots, name, outcomes) for name in ("first", "second", "third")]
    for waiter in waiters:
        waiter.join(5)

    assert outcomes == [("first", True), ("second", True), ("third", True)]


def test_waiter_gives_up_after_its_wait():
    slots = CallSlots(1)

    with slots.hold(wait=0), slots.hold(wait=0.01) as late:
        assert late is False

    assert len(slots._line) == 0
    with slots.hold(wait=0) as again:
        assert again is True


def test_stopped_waiter_passes_slot_on(monkeypatch):
    slots = CallSlots(1)

    class StoppedEvent(threading.Event):
        def wait(self, timeout=None):
            # The slot is freed and handed to this waiter just as it is stopped, as a killed greenlet would be.
            slots._release()
            raise KeyboardInterrupt

    monkeypatch.setattr(waiting_line.threading, "Event", StoppedEvent)
    slots._acquire(0)
    with pytest.raises(KeyboardInterrupt), slots.hold(wait=5):
        pass
    monkeypatch.undo()

    assert len(slots._line) == 0
    with slots.hold(wait=0) as held:
        assert held is True


def test_deferrals_counted_and_warned_once_a_minute(caplog):
    now = [0.0]
    slots = CallSlots(2, clock=lambda: now[0])
    before = REGISTRY.get_sample_value("relay_phoneburner_calls_deferred_total") or 0.0

    for seconds in (0.0, 10.0, 59.0, 61.0):
        now[0] = seconds
        slots.note_deferred()

    assert REGISTRY.get_sample_value("relay_phoneburner_calls_deferred_total") == before + 4
    warnings = [record for record in caplog.records if record.msg == "phoneburner.slots_busy"]
    assert [record.deferred for record in warnings] == [1, 3]
    assert all(record.max_concurrent == 2 for record in warnings)


GEVENT_SCRIPT = textwrap.dedent(
    """
    from gevent import monkey
    monkey.patch_all()

    import json
    import gevent
    from app.phoneburner.slots import CallSlots

    slots = CallSlots(1)
    events = []

    def call():
        with slots.hold(wait=0) as held:
            events.append(("call", held))
            gevent.sleep(0.5)

    def impatient():
        with slots.hold(wait=0.05) as held:
            events.append(("impatient", held))

    def patient():
        with slots.hold(wait=5) as held:
            events.append(("patient", held))

    def bystander():
        events.append(("bystander", None))

    greenlets = [gevent.spawn(call), gevent.spawn(impatient), gevent.spawn(patient), gevent.spawn(bystander)]
    gevent.joinall(greenlets, timeout=10)
    print(json.dumps(events))
    """
)


def test_waiting_greenlet_yields_under_gevent():
    # A separate process, because gevent's patches must come before anything imports threading.
    completed = subprocess.run(
        [sys.executable, "-c", GEVENT_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )

    events = [tuple(event) for event in json.loads(completed.stdout)]
    assert events == [("call", True), ("bystander", None), ("impatient", False), ("patient", True)]

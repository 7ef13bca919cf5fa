"""Call slots: a bound on concurrent PhoneBurner calls, under threads and under gevent."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client import REGISTRY

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

"""Entry points for child processes that share one store with the test, started with spawn.

Each opens its own engine and waits at a barrier, so that all start together.
Each puts one result on the queue: a list on success, or ("error", traceback)
so that the test fails with the child's exception instead of a timeout.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
import traceback
from typing import Any

from app.store.engine import make_engine
from app.store.repository import Store
from tests.store.helpers import LONG_LEASE, attempt_record, lead_row

# Seconds a child waits at the barrier for its siblings before giving up.
BARRIER_TIMEOUT = 30


def accept_with_key(url: str, key: str, lead_ids: list[str], barrier: Any, results: Any) -> None:
    """Accept one lead per id, all under the same idempotency key, and put a list of (own id, accepted id, repeat)."""
    engine = make_engine(url)
    try:
        store = Store(engine)
        barrier.wait(BARRIER_TIMEOUT)
        outcomes = []
        for lead_id in lead_ids:
            now = time.time()
            accepted = store.accept(lead_row(lead_id=lead_id, now=now), key, key_ttl=3600, now=now)
            outcomes.append((lead_id, accepted.lead_id, accepted.repeat))
        results.put(outcomes)
    except Exception:
        results.put(("error", traceback.format_exc()))
    finally:
        engine.dispose()


def claim_until_empty(url: str, batch: int, work_seconds: float, barrier: Any, results: Any) -> None:
    """Claim batches until none is due, simulating an attempt of `work_seconds` per lead.

    Puts one (lead id, claim token, was_abandoned, stored) tuple per claim.
    """
    engine = make_engine(url)
    try:
        store = Store(engine)
        barrier.wait(BARRIER_TIMEOUT)
        claimed = []
        while True:
            claims = store.claim_due(now=time.time(), lease=LONG_LEASE, limit=batch)
            if not claims:
                break
            for claim in claims:
                time.sleep(work_seconds)
                now = time.time()
                changes = {"status": "delivered", "attempts": 1, "next_attempt_at": None, "updated_at": now}
                stored = store.record_attempt(claim, attempt_record(1, now=now), changes)
                claimed.append((claim.lead_id, claim.token, claim.was_abandoned, stored))
        results.put(claimed)
    except Exception:
        results.put(("error", traceback.format_exc()))
    finally:
        engine.dispose()


def run_in_processes(target, argument_lists: list[tuple], *, timeout: float = 60) -> list[list]:
    """Start one spawned process per argument tuple, release them together, and return their results."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(argument_lists))
    results = context.Queue()
    processes = [context.Process(target=target, args=(*arguments, barrier, results)) for arguments in argument_lists]
    for process in processes:
        process.start()
    try:
        outputs = _collect(results, processes, timeout)
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()

    failures = [output[1] for output in outputs if isinstance(output, tuple) and output[0] == "error"]
    assert not failures, failures[0]
    return outputs


def _collect(results: Any, processes: list, timeout: float) -> list:
    """Read one result per process, and fail early when a child died without putting one."""
    # Read before joining: a child blocks on exit until its queued result is consumed.
    outputs = []
    deadline = time.monotonic() + timeout
    while len(outputs) < len(processes):
        try:
            outputs.append(results.get(timeout=0.5))
        except queue.Empty:
            crashed = [process.exitcode for process in processes if process.exitcode not in (None, 0)]
            assert not crashed, f"child processes exited with {crashed} before putting a result"
            assert time.monotonic() < deadline, f"child processes put no result within {timeout} s"
    return outputs

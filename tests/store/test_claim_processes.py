"""Several worker processes claiming from one store never hold the same lead at once."""

from __future__ import annotations

import time
from collections import Counter

from tests.store.helpers import lead_row
from tests.store.processes import claim_until_empty, run_in_processes

LEADS = 200
PROCESSES = 4
BATCH = 5
# Long enough per simulated attempt that the processes' claims interleave.
WORK_SECONDS = 0.003


def test_claim_processes_attempt_each_lead_once(store_url, store):
    now = time.time()
    ids = set()
    for _ in range(LEADS):
        row = lead_row(now=now - 1)
        store.accept(row, None, key_ttl=3600, now=now - 1)
        ids.add(row["id"])

    outputs = run_in_processes(claim_until_empty, [(store_url, BATCH, WORK_SECONDS)] * PROCESSES)

    claims = [claim for output in outputs for claim in output]
    claimed = Counter(lead_id for lead_id, _, _, _ in claims)
    assert set(claimed) == ids
    assert [lead_id for lead_id, count in claimed.items() if count > 1] == []
    assert all(token == 1 for _, token, _, _ in claims)
    assert not any(was_abandoned for _, _, was_abandoned, _ in claims)
    assert all(stored for _, _, _, stored in claims)
    assert store.counts() == {"delivered": LEADS}
    assert sum(len(store.attempts_of(lead_id)) for lead_id in ids) == LEADS

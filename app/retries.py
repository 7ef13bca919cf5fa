"""When to try a lead again: exponential backoff with jitter, honouring Retry-After."""

from __future__ import annotations

import random
from collections.abc import Callable

from app.config.model import DeliverySettings

# The shortest wait, as a share of the full backoff step.
JITTER_FLOOR = 0.8


def retry_delay(
    attempts: int,
    settings: DeliverySettings,
    *,
    retry_after: float | None = None,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Return the seconds to wait after the `attempts`-th failed attempt.

    The delay doubles from `backoff_initial` up to `backoff_max`. Each is
    drawn between 80% and 100% of that step, so leads that failed together
    do not retry together. A Retry-After from PhoneBurner is a floor.
    """
    ceiling = min(settings.backoff_max, settings.backoff_initial * 2 ** max(attempts - 1, 0))
    delay = uniform(ceiling * JITTER_FLOOR, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def schedule_span(settings: DeliverySettings) -> float:
    """Return the total wait before a lead is given up, without jitter (the longest case)."""
    steps = range(settings.max_attempts - 1)
    return sum(min(settings.backoff_max, settings.backoff_initial * 2**step) for step in steps)

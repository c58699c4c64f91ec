"""Retry delays: exponential growth with "equal jitter", capped, and a receiver's ``Retry-After``.

Attempt ``n`` (1-based) failed → the next one waits ``d/2 + uniform(0, d/2)`` with
``d = min(cap, base · 2^(n-1))``. Half the delay is fixed, so delays grow from one attempt to the
next (until the cap) while the jitter still spreads receivers' recoveries over time.
"""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime

from config.settings import CallbackSettings


def retry_delay(attempt: int, settings: CallbackSettings, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    exponent = min(max(attempt - 1, 0), 64)  # 2**64 · base is past any cap: no overflow
    ceiling = min(settings.backoff_cap_s, settings.backoff_base_s * 2.0**exponent)
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None when absent or invalid."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), 10**9))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)

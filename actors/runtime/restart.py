"""Pure restart bookkeeping for supervisors: backoff delays and the OTP intensity/period limit."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from actors.errors import InvalidSpecError


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Exponential delay before restarting a child: ``min(cap, initial * factor ** n)``.

    ``n`` counts the child's restarts since it last ran for at least ``reset_after`` seconds.
    """

    initial: float = 0.1
    """Delay of the first restart in a row (0 restarts at once and keeps every delay 0)."""
    factor: float = 2.0
    """Growth per restart in a row (>= 1)."""
    cap: float = 10.0
    """Longest delay."""
    reset_after: float | None = None
    """Uptime after which a child counts as healthy again; ``None`` uses the supervisor's period."""

    def __post_init__(self) -> None:
        if not (0 <= self.initial <= self.cap and math.isfinite(self.cap)):
            raise InvalidSpecError("backoff needs 0 <= initial <= cap < inf")
        if not (self.factor >= 1 and math.isfinite(self.factor)):
            raise InvalidSpecError("backoff factor must be a finite number >= 1")
        if self.reset_after is not None and not self.reset_after >= 0:
            raise InvalidSpecError("backoff reset_after must be >= 0")

    @classmethod
    def immediate(cls) -> Backoff:
        """No delay at all (plain OTP behaviour)."""
        return cls(initial=0.0, cap=0.0)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before restart number ``attempt`` (0-based) in a row."""
        if self.initial == 0:
            return 0.0
        try:
            return min(self.cap, self.initial * self.factor**attempt)
        except OverflowError:
            return self.cap


class RestartIntensity:
    """Counts restarts in a sliding window: more than ``intensity`` within ``period`` seconds is too many.

    A restart at time ``t`` is still counted at time ``now`` while ``now - t < period``.
    """

    __slots__ = ("_times", "intensity", "period")

    def __init__(self, intensity: int, period: float) -> None:
        if intensity < 0:
            raise InvalidSpecError("intensity must be >= 0")
        if not (period > 0 and math.isfinite(period)):
            raise InvalidSpecError("period must be a finite number of seconds > 0")
        self.intensity = intensity
        """Restarts allowed within one period."""
        self.period = period
        """Window length in seconds."""
        self._times: deque[float] = deque()

    def record(self, now: float) -> bool:
        """Count a restart at ``now`` (monotonic seconds); False means the limit is exceeded: give up."""
        self._times.append(now)
        horizon = now - self.period
        while self._times[0] <= horizon:
            self._times.popleft()
        return len(self._times) <= self.intensity

    def __len__(self) -> int:
        return len(self._times)

"""What one attempt came to, and how an HTTP status is read.

``DELIVERED`` on any 2xx. ``DEAD`` (given up, recorded) on a 4xx other than 408/429, on a 3xx
(redirects are not followed: the receiver must register its final URL), and on what no retry can
fix (no signing key, body too large, refused address). ``RETRY`` on 5xx, 408, 429, timeouts,
connection and name-resolution errors, until ``callbacks.max_attempts`` is spent.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Verdict(enum.StrEnum):
    """How an attempt ended."""

    DELIVERED = "delivered"
    """The receiver answered 2xx."""
    RETRY = "retry"
    """A transient failure: try again later."""
    DEAD = "dead"
    """A permanent failure: give up."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt's result."""

    verdict: Verdict
    """Delivered, retry or dead."""
    status: int | None = None
    """HTTP status, when an answer came."""
    error: str | None = None
    """Stable word for a failure (``http_503``, ``timeout``, ``connect_error``, ...), never secrets."""
    retry_after_s: float | None = None
    """The receiver's ``Retry-After``, when it sent one with a retryable status."""


def classify_status(status: int, *, retry_after_s: float | None = None) -> Outcome:
    """The outcome of an HTTP answer with ``status``."""
    if 200 <= status < 300:
        return Outcome(Verdict.DELIVERED, status)
    if status in (408, 429) or status >= 500:
        return Outcome(Verdict.RETRY, status, f"http_{status}", retry_after_s)
    if 300 <= status < 400:
        return Outcome(Verdict.DEAD, status, f"redirect_not_followed_{status}")
    return Outcome(Verdict.DEAD, status, f"http_{status}")


def dead(error: str) -> Outcome:
    """A permanent failure before any answer."""
    return Outcome(Verdict.DEAD, None, error)


def retry(error: str) -> Outcome:
    """A transient failure before any answer."""
    return Outcome(Verdict.RETRY, None, error)

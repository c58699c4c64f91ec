"""Options of the ``sign`` scenario: ``SignOptions`` (from ``BENCH_SIGN_*``) and ``ConfirmSpec`` for (c).

Kept apart from the measuring modules so that listing or building the scenario imports nothing heavy.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from bench.errors import UsageError

SINGLE = "single"
BATCH = "batch"
CONFIRM = "confirm"
PHASE_NAMES = (SINGLE, BATCH, CONFIRM)

SINGLE_TARGET_VS_ECHO = 0.60
"""(a): signatures/s at least this fraction of the echo floor's requests/s."""
BATCH_TARGET_SIGNATURES_PER_S = 3000.0
"""(b): signatures/s."""
CONFIRM_TARGET_P99_MS = 250.0
"""(c): p99 from POST to completion."""

ENV_PREFIX = "BENCH_SIGN_"
"""The environment variables of this scenario's options start with this."""
OPTION_NAMES = ("PHASES", "DEVICES", "RATE", "CONFIRM_S", "CONFIRM_OPS", "WARMUP_S", "BATCH_FORMAT", "ROUNDS")
"""Every option (``BENCH_SIGN_<NAME>``; ``klyuch bench sign --option name=value``)."""

MAX_ROUNDS = 20
"""Most (echo, single) rounds in one run."""

BatchFormat = Literal["raw", "cades-bes"]


@dataclass(frozen=True, slots=True)
class ConfirmSpec:
    """Shape and limits of the confirmation phase."""

    rate: float = 200.0
    """Operations created per second (open loop)."""
    duration_s: float = 10.0
    """Length of the schedule, warm-up included."""
    max_ops: int = 100_000
    """Most operations created (the schedule ends at whichever limit comes first)."""
    warmup_s: float = 1.0
    """Operations due in this first part of the schedule are not counted."""
    drain_s: float = 15.0
    """How long after the last due time operations may take to finish before they count as lost."""
    connections: int = 64
    """HTTP connections creating and reading operations (the in-flight cap)."""
    timeout_s: float = 10.0
    """Per-request timeout."""
    document_bytes: int = 1024
    """Size of each operation's one document."""

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)) or not self.duration_s > 0:
            raise ValueError("rate and duration_s must be positive")
        if self.max_ops < 1 or self.connections < 1 or self.document_bytes < 1:
            raise ValueError("max_ops, connections and document_bytes must be at least 1")
        if not 0 <= self.warmup_s < self.duration_s:
            raise ValueError("warmup_s must be shorter than duration_s")

    @property
    def planned_ops(self) -> int:
        """Operations the schedule creates."""
        return min(self.max_ops, max(1, math.ceil(self.duration_s * self.rate)))


@dataclass(frozen=True, slots=True)
class SignOptions:
    """What ``sign`` measures beyond the harness's flags."""

    phases: frozenset[str] = frozenset(PHASE_NAMES)
    """Which of ``single``, ``batch``, ``confirm`` run."""
    single_bytes: int = 1024
    """Document size in (a)."""
    batch_items: int = 100
    """Documents per request in (b)."""
    batch_item_bytes: int = 4096
    """Document size in (b)."""
    batch_format: BatchFormat = "cades-bes"
    """(b)'s format; CAdES-BES is made detached."""
    devices: int = 1000
    """Connected device clients in (c), one user each."""
    confirm: ConfirmSpec = field(default_factory=ConfirmSpec)
    """Rate and limits of (c)."""
    rounds: int = 3
    """(echo, single) pairs measured back to back; (a)'s ratio is the mean of the pairs' ratios, so a
    drift of the machine between phases (±12 % on the floor alone, minutes apart) weighs less."""

    def __post_init__(self) -> None:
        unknown = self.phases - set(PHASE_NAMES)
        if unknown or not self.phases:
            raise UsageError(
                f"BENCH_SIGN_PHASES: choose among {', '.join(PHASE_NAMES)}; got {sorted(unknown)}"
            )
        if min(self.single_bytes, self.batch_items, self.batch_item_bytes, self.devices) < 1:
            raise UsageError("sizes, counts and devices must be at least 1")
        if self.batch_format not in ("raw", "cades-bes"):
            raise UsageError("BENCH_SIGN_BATCH_FORMAT must be raw or cades-bes")
        if not 1 <= self.rounds <= MAX_ROUNDS:
            raise UsageError(f"BENCH_SIGN_ROUNDS must be 1..{MAX_ROUNDS}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SignOptions:
        """Options from ``BENCH_SIGN_*`` variables (see the module docstring); ``UsageError`` if malformed."""
        env = os.environ if environ is None else environ
        batch_format = env.get("BENCH_SIGN_BATCH_FORMAT", "cades-bes")
        if batch_format not in ("raw", "cades-bes"):
            raise UsageError(f"BENCH_SIGN_BATCH_FORMAT must be raw or cades-bes, got {batch_format!r}")
        listed = env.get("BENCH_SIGN_PHASES", ",".join(PHASE_NAMES))
        try:
            confirm = ConfirmSpec(
                rate=float(env.get("BENCH_SIGN_RATE", "200")),
                duration_s=float(env.get("BENCH_SIGN_CONFIRM_S", "10")),
                max_ops=int(env.get("BENCH_SIGN_CONFIRM_OPS", "100000")),
                warmup_s=float(env.get("BENCH_SIGN_WARMUP_S", "1")),
            )
            devices = int(env.get("BENCH_SIGN_DEVICES", "1000"))
            rounds = int(env.get("BENCH_SIGN_ROUNDS", "3"))
        except ValueError as exc:
            raise UsageError(f"sign scenario options (BENCH_SIGN_*): {exc}") from exc
        return cls(
            phases=frozenset(name.strip() for name in listed.split(",") if name.strip()),
            batch_format="raw" if batch_format == "raw" else "cades-bes",
            devices=devices,
            confirm=confirm,
            rounds=rounds,
        )

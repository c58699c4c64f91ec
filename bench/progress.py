"""A tqdm progress bar on stderr that follows a running phase toward whichever limit comes first."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
from tqdm import tqdm

from bench.loadgen import LoadSpec, Recorder

_STEPS = 1000
_REFRESH_S = 0.25


@asynccontextmanager
async def phase_progress(label: str, spec: LoadSpec, rec: Recorder, *, enabled: bool) -> AsyncIterator[None]:
    """Show progress of ``rec`` while the body runs; the bar's 100 % is the time or count limit."""
    if not enabled:
        yield
        return
    follower = _Follower(label, spec, rec)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(follower.run)
            try:
                yield
            finally:
                nursery.cancel_scope.cancel()
        follower.update(final=True)
    finally:
        follower.close()


class _Follower:
    """Redraws the bar from the recorder a few times a second (cheap: reads two lengths)."""

    def __init__(self, label: str, spec: LoadSpec, rec: Recorder) -> None:
        # tqdm reads the terminal size itself and draws nothing when a pty reports 0x0; shutil falls back.
        size = shutil.get_terminal_size()
        self._bar = tqdm(
            total=_STEPS,
            desc=f"{label:>8}",
            file=sys.stderr,
            leave=True,
            ncols=min(size.columns, 120),
            nrows=size.lines,
            bar_format="{desc} {percentage:3.0f}% |{bar}| {elapsed}{postfix}",
        )
        self._spec = spec
        self._rec = rec
        self._started = trio.current_time()

    async def run(self) -> None:
        while True:
            await trio.sleep(_REFRESH_S)
            self.update(final=False)

    def update(self, *, final: bool) -> None:
        elapsed = trio.current_time() - self._started
        done = self._rec.completed
        limit = max(elapsed / self._spec.duration_s, done / self._spec.max_requests)
        self._bar.n = _STEPS if final else int(min(1.0, limit) * _STEPS)
        rate = len(self._rec.ok_at) / elapsed if elapsed > 0 else 0.0
        errors = sum(self._rec.errors.values())
        self._bar.set_postfix_str(f"{done} req  {rate:.0f} ok/s  {errors} err", refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()

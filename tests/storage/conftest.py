"""Fixtures of the storage tests only (the shared database fixtures are in ``tests/conftest.py``)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.postmaster import stop_postmaster
from tests.conftest import CLUSTER_PREFIX, scratch_root
from tests.storage.support import postmasters_in


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A fresh folder for one test's own cluster; fails the test if a postmaster survives in it."""
    folder = Path(tempfile.mkdtemp(prefix=CLUSTER_PREFIX, dir=scratch_root()))
    folder.chmod(0o711)  # created by us: the server account may traverse it
    try:
        yield folder
    finally:
        leftovers = postmasters_in(folder)
        for proc in leftovers:  # fast shutdown, so PostgreSQL removes its shared memory files
            stop_postmaster(proc.pid, started_at=None, timeout_s=10.0)
        shutil.rmtree(folder, ignore_errors=True)
        assert not leftovers, f"postgres left running: {[p.pid for p in leftovers]}"

"""The batched units a writer process may run, by ``Offload.name`` (nothing else can be named in a frame)."""

from __future__ import annotations

from typing import Final

from storage.group import BatchedUnit
from storage.repos.finished import FINISHED

UNITS: Final[dict[str, BatchedUnit]] = {FINISHED.name: FINISHED.apply}
"""``apply`` of every offloadable unit, by name."""

"""``BaseHttpScenario``: defaults for the optional parts of an HTTP scenario."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bench.scenario import Phase, ServerKind

if TYPE_CHECKING:
    from bench.client import BenchClient
    from bench.stats import PhaseResult


class BaseHttpScenario:
    """Subclass, set the class attributes and implement ``phases``; ``prepare``/``compare`` are optional."""

    name: str
    description: str
    server: ServerKind = "klyuch"

    async def prepare(self, client: BenchClient) -> None:
        """Nothing to set up by default."""

    def phases(self) -> Sequence[Phase]:
        """The load phases, measured in this order."""
        raise NotImplementedError

    def compare(self, results: Mapping[str, PhaseResult]) -> dict[str, object]:
        """Extra numbers for the report computed from this run's phase results (e.g. against the floor)."""
        return {}

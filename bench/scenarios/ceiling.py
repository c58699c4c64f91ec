"""``ceiling``: the load generator against a trivially fast fixed-response server.

It measures how many requests per second the generator itself can make on this machine, so a reader of
any other report knows whether its numbers are the server's or the generator's. Every HTTP run also
measures a short ceiling of its own phases (``--ceiling``) and puts it next to each phase's result.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.scenario import Phase, ServerKind
from bench.scenarios.base import BaseHttpScenario
from bench.scenarios.floor import floor_phases


class CeilingScenario(BaseHttpScenario):
    """The floor's two request shapes sent to ``bench.trivial_server``."""

    name = "ceiling"
    description = "generator ceiling: the floor's requests against a trivial fixed-response server"
    server: ServerKind = "trivial"

    def phases(self) -> Sequence[Phase]:
        """The floor's phases (the trivial server echoes bodies, so the echo check passes there too)."""
        return [Phase(p.name, p.description + " (trivial server)", p.requests) for p in floor_phases()]

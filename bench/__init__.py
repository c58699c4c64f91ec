"""Klyuch benchmarks: a load generator, scenarios, reports (``klyuch bench`` / ``python -m bench``).

Modules:
  cli             command line (``main``); exit codes
  runner          one run: start/stop the server, prepare, warm up, measure phases, ceiling, report
  scenario        ``Request``, ``Phase``, the ``HttpScenario``/``LocalScenario`` protocols, ``Registry``
  scenarios/      built-in scenarios: ``floor``, ``ceiling``, ``crypto`` (adapter to ``bench.crypto``)
  loadgen         closed- and open-loop load over keep-alive connections, bounded in time and count
  http1           the minimal HTTP/1.1 client the generator uses (raw trio sockets)
  client          ``BenchClient`` for scenario set-up steps
  target          ``--url`` parsing and the loopback-only rule
  server          starting ``klyuch serve`` / the trivial server, stopping them and every straggler
  trivial_server  fixed-response HTTP server that measures the generator's own ceiling
  stats           percentiles and per-second throughput of a phase
  report          report paths, JSON, the end-of-run table, reading reports back
  plot            the PNG (throughput and latency over time)
  progress        the tqdm progress bar
  environment     machine and version snapshot
  errors          the harness's error tree

Other parts of the project keep their microbenchmarks and probes here as well: ``crypto/`` (run as
scenario ``crypto``), ``crypto_ciphers``, and the ``*_probe`` modules (run directly with ``python -m``).

Imports are deferred in ``main`` so that importing ``bench`` (e.g. for ``bench.crypto``) stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """``klyuch bench`` entry point; ``argv`` excludes the program name. Returns the exit code."""
    from bench.cli import main as cli_main

    return cli_main(argv)


__all__ = ["main"]

"""``klyuch bench`` / ``python -m bench``: parse the command line, run, print the table.

Exit codes: 0 done; 1 the run failed (server would not start, a phase had no successful request, ...);
2 bad usage; 130 interrupted (Ctrl-C or SIGTERM; everything started has been stopped).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shlex
import signal
import sys
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from bench.errors import BenchError, UsageError
from bench.report import format_table
from bench.runner import DEFAULT_PHASE_REQUESTS, DEFAULT_PHASE_S, RunOptions, run, stderr_is_terminal
from bench.scenario import Registry
from bench.scenarios import default_registry, sign_options

_EPILOG = """\
Limits apply to each measured phase: it ends after --duration seconds or --requests requests,
whichever comes first (plus --warmup seconds of unrecorded load before it). Without --url the
harness starts `python -m edge serve` itself on a free loopback port with a temporary KLYUCH_HOME
and stops it afterwards. --url must point at this machine (127.0.0.0/8, ::1, localhost).
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``klyuch bench`` with ``argv`` (without the program name); returns the exit code."""
    registry = default_registry()
    parser = _parser(registry.available())
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help or a usage error: argparse has printed it
        return exc.code if isinstance(exc.code, int) else 2
    if args.scenario in (None, "list"):
        for name, description in registry.available().items():
            print(f"{name:10} {description}")
        return 0 if args.scenario == "list" else 2
    with _interrupts_as_keyboard_interrupt():
        return _run_and_print(args, registry)


SCENARIO_OPTIONS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "sign": (sign_options.ENV_PREFIX, sign_options.OPTION_NAMES)
}
"""Scenarios that take options: their environment prefix and option names."""


def apply_scenario_options(scenario: str, options: Sequence[str], environ: MutableMapping[str, str]) -> None:
    """Set each ``name=value`` of ``--option`` as the scenario's environment variable (``BENCH_SIGN_RATE``
    for ``sign``'s ``rate``), which the scenario reads like one set by the caller; ``UsageError`` for
    a malformed pair, a name the scenario does not know, or a scenario without options."""
    if not options:
        return
    if scenario not in SCENARIO_OPTIONS:
        raise UsageError(f"scenario {scenario!r} takes no --option")
    prefix, names = SCENARIO_OPTIONS[scenario]
    for pair in options:
        name, equals, value = pair.partition("=")
        key = name.strip().upper().replace("-", "_")
        if not equals or key not in names:
            known = ", ".join(name.lower() for name in names)
            raise UsageError(f"--option {pair!r}: give name=value, name one of: {known}")
        environ[prefix + key] = value


def _run_and_print(args: argparse.Namespace, registry: Registry) -> int:
    try:
        apply_scenario_options(args.scenario, args.option, os.environ)
        outcome = run(_options(args), registry)
    except KeyboardInterrupt:
        print("bench: interrupted; everything started was stopped", file=sys.stderr)
        return 130
    except UsageError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    except BenchError as exc:
        print(f"bench: [{exc.code}] {exc}", file=sys.stderr)
        return 1
    print(format_table(outcome.report))
    print(f"report: {outcome.json_path}" + (f"\nplot:   {outcome.png_path}" if outcome.png_path else ""))
    phases = outcome.report.get("phases", [])
    return 1 if any(phase["ok"] == 0 for phase in phases) else 0


@contextlib.contextmanager
def _interrupts_as_keyboard_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM both end the run through ``KeyboardInterrupt`` and the same clean-up.

    SIGTERM is re-raised as SIGINT so that trio (inside a run, at a safe point) or Python (outside)
    raises it. SIGINT gets Python's default handler even where it was ignored (a background job),
    because trio only takes over SIGINT when that default handler is installed.
    """
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    previous_term = signal.signal(signal.SIGTERM, _sigterm_as_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


def _sigterm_as_sigint(signum: int, frame: FrameType | None) -> None:
    signal.raise_signal(signal.SIGINT)


def _parser(scenarios: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="klyuch bench",
        description="Measure Klyuch under load and write a JSON report and a PNG plot.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add(
        "scenario",
        nargs="?",
        metavar="SCENARIO",
        help=f"one of: {', '.join(scenarios)}; `list` describes them",
    )
    add("--url", help="load this running server (loopback only) instead of starting one")
    add(
        "--duration",
        type=_positive_float,
        metavar="S",
        help=f"time limit per phase ({DEFAULT_PHASE_S:g}; crypto: seconds per measurement)",
    )
    add(
        "--requests",
        type=_positive_int,
        metavar="N",
        help=f"request limit per phase ({DEFAULT_PHASE_REQUESTS})",
    )
    add(
        "--concurrency",
        type=_positive_int,
        default=_default("concurrency"),
        metavar="C",
        help="concurrent clients (%(default)s)",
    )
    add(
        "--rate",
        type=_positive_float,
        metavar="R",
        help="open loop: R requests/s, latency from the intended send time",
    )
    add(
        "--workers",
        type=_positive_int,
        default=_default("workers"),
        metavar="W",
        help="server worker processes (%(default)s)",
    )
    add(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a scenario option, repeatable (sign: phases, rounds, devices, rate, confirm_s, confirm_ops, "
        "warmup_s, batch_format); the same as BENCH_SIGN_<NAME> in the environment",
    )
    add("--out", type=Path, default=_default("out_dir"), metavar="DIR", help="report folder (%(default)s)")
    add(
        "--warmup",
        type=_non_negative_float,
        default=_default("warmup_s"),
        metavar="S",
        help="unrecorded warm-up per phase (%(default)s)",
    )
    add(
        "--timeout",
        type=_positive_float,
        default=_default("timeout_s"),
        metavar="S",
        help="per-request timeout (%(default)s)",
    )
    add(
        "--ceiling",
        type=_non_negative_float,
        default=_default("ceiling_s"),
        metavar="S",
        help="generator-ceiling seconds per phase, 0 skips (%(default)s)",
    )
    add(
        "--server-command",
        metavar="CMD",
        help="command that starts the server (default: <python> -m edge serve)",
    )
    add(
        "--start-timeout",
        type=_positive_float,
        default=_default("start_timeout_s"),
        metavar="S",
        help="wait for /readyz (%(default)s)",
    )
    add(
        "--stop-grace",
        type=_positive_float,
        default=_default("stop_grace_s"),
        metavar="S",
        help="SIGTERM to SIGKILL grace (%(default)s)",
    )
    add("--no-plot", action="store_true", help="skip the PNG")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress", dest="progress", action="store_true", default=None, help="always draw the progress bar"
    )
    progress.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="never (default: when stderr is a terminal)",
    )
    return parser


def _default(name: str) -> Any:
    """The ``RunOptions`` default of ``name``: one source of truth for the library and the CLI."""
    return next(f.default for f in dataclasses.fields(RunOptions) if f.name == name)


def _options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(
        scenario=args.scenario,
        url=args.url,
        duration_s=args.duration,
        requests=args.requests,
        concurrency=args.concurrency,
        rate=args.rate,
        workers=args.workers,
        warmup_s=args.warmup,
        timeout_s=args.timeout,
        ceiling_s=args.ceiling,
        out_dir=args.out,
        server_command=tuple(shlex.split(args.server_command)) if args.server_command else None,
        start_timeout_s=args.start_timeout,
        stop_grace_s=args.stop_grace,
        progress=stderr_is_terminal() if args.progress is None else args.progress,
        plot=not args.no_plot,
    )


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be zero or a positive number, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value

"""``sign``: what a signature costs end to end, beside the framework floor of the same run.

Phases, in the order they run:

* **confirm** (c) — the device confirmation round trip (``bench.scenarios.sign_confirm``): ``devices``
  connected device clients (default 1,000), operations with ``confirmation: "device"`` created open
  loop at ``rate`` per second (default 200), each confirmed by its user's device; latency from the
  intended POST time to the operation's completion. It runs inside ``prepare`` (the harness's load
  phases are plain HTTP requests and cannot hold devices), so it is reported under
  ``comparison.confirm`` rather than in the phase table, and has its own limits (below).
* **healthz**, **echo** — the floor (``bench.scenarios.floor``), measured here so (a) has a ratio.
* **single** (a) — one 1 KiB document per request, raw GOST R 34.10-2012 (256), no confirmation:
  ``POST /api/v1/operations`` answers 201 with the signature. Signatures/s = requests/s. Then
  ``echo-2``, ``single-2`` … up to ``BENCH_SIGN_ROUNDS`` pairs: (a)'s ratio is the mean of each pair's
  single/echo ratio, since this machine drifts between phases by more than the differences measured.
* **batch** (b) — 100 documents of 4 KiB per request (CAdES-BES detached by default, or raw), no
  confirmation; signatures/s = requests/s × 100.

(a) and (b) obey the harness's flags (``--duration``, ``--requests``, ``--concurrency``, ``--rate``,
``--warmup``). (c) and the choice of phases are scenario options: ``--option name=value`` (``-o``) on
the command line, or the environment variable ``BENCH_SIGN_<NAME>`` (``bench.cli.apply_scenario_options``
sets the variable from the option):

========================== ======================================================= ==========
``BENCH_SIGN_PHASES``      comma list of ``single``, ``batch``, ``confirm``            all three
``BENCH_SIGN_DEVICES``     connected device clients (one user each) in (c)             1000
``BENCH_SIGN_RATE``        operations per second in (c)                                200
``BENCH_SIGN_CONFIRM_S``   length of the (c) schedule, seconds                         10
``BENCH_SIGN_CONFIRM_OPS`` most operations (c) creates                                 100000
``BENCH_SIGN_WARMUP_S``    first seconds of (c) not counted                            1
``BENCH_SIGN_BATCH_FORMAT`` ``cades-bes`` (detached) or ``raw`` for (b)                 cades-bes
``BENCH_SIGN_ROUNDS``      (echo, single) pairs for (a), run back to back              3
========================== ======================================================= ==========

Set-up (``bench.scenarios.sign_setup``) goes through public interfaces only: ``klyuch admin create``
against the server's home, then the REST API for users, clients, tokens, keys, certificates and
devices. ``--workers W`` reaches the managed server as usual.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import trio

from bench.errors import ScenarioPrepareError
from bench.scenario import Phase, Request
from bench.scenarios.base import BaseHttpScenario
from bench.scenarios.floor import ECHO, echo_phase, floor_in_run, floor_phases
from bench.scenarios.sign_options import (
    BATCH,
    BATCH_TARGET_SIGNATURES_PER_S,
    CONFIRM,
    CONFIRM_TARGET_P99_MS,
    SINGLE,
    SINGLE_TARGET_VS_ECHO,
    SignOptions,
)

if TYPE_CHECKING:
    from bench.client import BenchClient
    from bench.scenarios.sign_confirm import ConfirmOutcome
    from bench.scenarios.sign_setup import Account
    from bench.stats import PhaseResult


class SignScenario(BaseHttpScenario):
    """Signatures per second (single, batch) against the floor, and the device confirmation round trip."""

    name = "sign"
    description = (
        "signing: (a) 1 KiB raw per request vs the echo floor, (b) 100 x 4 KiB per request, "
        "(c) device confirmation round trip (N devices, open loop)"
    )

    def __init__(self, options: SignOptions | None = None) -> None:
        self.options = options if options is not None else SignOptions.from_env()
        self.signer: Account | None = None
        self.confirmation: ConfirmOutcome | None = None
        self.setup: dict[str, object] = {}

    # -- prepare -------------------------------------------------------------------------------------

    async def prepare(self, client: BenchClient) -> None:
        """Administrator, a signer with a certificate, a first signature of each kind; then (c)."""
        # Imported here: the device client and its protocol cost ~0.6 s to import, which listing
        # scenarios or running another one should not pay.
        from bench.scenarios.sign_confirm import measure_confirmation
        from bench.scenarios.sign_setup import admin_token, provision

        options = self.options
        run_id = secrets.token_hex(3)
        began = trio.current_time()
        admin = await admin_token(client, run_id)
        if options.phases & {SINGLE, BATCH}:
            [self.signer] = await provision(
                client.target, admin, [f"bench-{run_id}-signer"], with_devices=False
            )
            for phase in (SINGLE, BATCH):
                if phase in options.phases:
                    await self._first_signature(client, phase)
        self.setup["signer_s"] = round(trio.current_time() - began, 3)
        if CONFIRM in options.phases:
            began = trio.current_time()
            _say(f"confirm: making {options.devices} users with a certificate and an enrolled device")
            names = [f"bench-{run_id}-device-{i}" for i in range(options.devices)]
            accounts = await provision(client.target, admin, names, with_devices=True)
            self.setup["devices_s"] = round(trio.current_time() - began, 3)
            self.confirmation = await measure_confirmation(
                client.target,
                accounts,
                options.confirm,
                operator_token=admin,
                say=lambda line: _say(f"confirm: {line}"),
            )

    async def _first_signature(self, client: BenchClient, phase: str) -> None:
        """Fail fast, with the server's own words, if a request of ``phase`` would not sign."""
        from bench.scenarios.sign_setup import send_when_ready

        request = next(self._requests(phase))
        response = await send_when_ready(client, request)
        if response.status != request.expect_status or (request.check and not request.check(response.body)):
            detail = response.body[:400].decode("utf-8", "replace")
            raise ScenarioPrepareError(f"a {phase} signature answered {response.status}: {detail}")

    # -- phases --------------------------------------------------------------------------------------

    def phases(self) -> Sequence[Phase]:
        """The floor, then (a) and (b) as chosen."""
        options = self.options
        chosen: list[Phase] = []
        if SINGLE in options.phases:
            chosen += floor_phases()
            description = (
                f"POST /api/v1/operations: 1 x {options.single_bytes} B, raw GOST-256, no confirmation"
            )
            chosen.append(Phase(SINGLE, description, lambda: self._requests(SINGLE)))
            for round_ in range(2, options.rounds + 1):
                chosen.append(echo_phase(f"{ECHO}-{round_}"))
                chosen.append(Phase(f"{SINGLE}-{round_}", description, lambda: self._requests(SINGLE)))
        if BATCH in options.phases:
            detached = " detached" if options.batch_format == "cades-bes" else ""
            description = (
                f"POST /api/v1/operations: {options.batch_items} x {options.batch_item_bytes} B, "
                f"{options.batch_format}{detached} GOST-256, no confirmation"
            )
            chosen.append(Phase(BATCH, description, lambda: self._requests(BATCH)))
        return chosen

    def _requests(self, phase: str) -> Iterator[Request]:
        """One request repeated (its bytes are encoded once per connection); new documents per connection."""
        if self.signer is None:
            raise ScenarioPrepareError("prepare has not made the signer yet")
        options = self.options
        if phase == SINGLE:
            count, size, fmt, detached = 1, options.single_bytes, "raw", False
        else:
            count, size = options.batch_items, options.batch_item_bytes
            fmt, detached = options.batch_format, options.batch_format == "cades-bes"
        request = Request(
            method="POST",
            path="/api/v1/operations",
            body=_operation(fmt, detached=detached, count=count, size=size, prefix=phase),
            headers=(("Content-Type", "application/json"), *self.signer.auth_headers),
            expect_status=201,
            check=_all_signed(count),
        )
        while True:
            yield request

    # -- compare -------------------------------------------------------------------------------------

    def compare(self, results: Mapping[str, PhaseResult]) -> dict[str, object]:
        """Signatures/s and latency of each phase, (a) against the floor, (c), and the targets."""
        options = self.options
        comparison: dict[str, object] = {"setup_s": self.setup}
        targets: dict[str, object] = {}
        floor = floor_in_run(results)
        single = results.get(SINGLE)
        if single is not None:
            relative: dict[str, object] = dict(floor.relative(single)) if floor is not None else {}
            rounds = _rounds(results, options.rounds)
            if rounds:  # the mean over the pairs stands for (a); each pair is kept in the report
                relative["rps_vs_echo"] = round(sum(r["ratio"] for r in rounds) / len(rounds), 3)
            value = relative.get("rps_vs_echo")
            ratio = float(value) if isinstance(value, float | int) else None
            comparison[SINGLE] = {
                **_signing_numbers(single, per_request=1),
                "echo_rps": floor.echo.achieved_rps if floor is not None else None,
                **relative,
                "rounds": rounds,
            }
            met = ratio is not None and ratio >= SINGLE_TARGET_VS_ECHO
            targets["single_vs_echo"] = _target(ratio, f">= {SINGLE_TARGET_VS_ECHO}", met)
        batch = results.get(BATCH)
        if batch is not None:
            numbers = _signing_numbers(batch, per_request=options.batch_items)
            comparison[BATCH] = {
                **numbers,
                "format": options.batch_format,
                "detached": options.batch_format == "cades-bes",
                "items": options.batch_items,
                "item_bytes": options.batch_item_bytes,
            }
            rate = numbers["signatures_per_s"]
            targets["batch_signatures_per_s"] = _target(
                rate,
                f">= {BATCH_TARGET_SIGNATURES_PER_S:g}",
                rate is not None and rate >= BATCH_TARGET_SIGNATURES_PER_S,
            )
        if self.confirmation is not None:
            comparison[CONFIRM] = self.confirmation.to_json()
            p99 = self.confirmation.result.latency_ms.get("p99")
            met = p99 is not None and p99 < CONFIRM_TARGET_P99_MS and not self.confirmation.result.errors
            targets["confirm_p99_ms"] = _target(p99, f"< {CONFIRM_TARGET_P99_MS:g}, no errors", met)
        comparison["targets"] = targets
        print(summary(comparison))
        return comparison


def _say(line: str) -> None:
    """A progress line on stderr when someone watches it (like the harness's progress bar)."""
    if sys.stderr.isatty():
        print(f"sign: {line}", file=sys.stderr, flush=True)


def _operation(fmt: str, *, detached: bool, count: int, size: int, prefix: str) -> bytes:
    """A ``POST /operations`` body: ``count`` random documents of ``size`` bytes, no confirmation."""
    items = [
        {"name": f"{prefix}-{i}.bin", "content": base64.b64encode(os.urandom(size)).decode("ascii")}
        for i in range(count)
    ]
    payload: dict[str, object] = {"type": "sign", "format": fmt, "confirmation": "none", "items": items}
    if fmt == "cades-bes":
        payload["detached"] = detached
    return json.dumps(payload, separators=(",", ":")).encode()


def _all_signed(count: int) -> Callable[[bytes], bool]:
    """A body check: the operation completed and each of its ``count`` items carries a signature."""

    def check(body: bytes) -> bool:
        view = json.loads(body)
        items = view.get("items") or []
        return bool(
            view.get("state") == "completed"
            and len(items) == count
            and all(item.get("status") == "signed" and item.get("signature") for item in items)
        )

    return check


def _rounds(results: Mapping[str, PhaseResult], count: int) -> list[dict[str, float]]:
    """Each (echo, single) pair measured: both rates and the pair's ratio (pairs missing a side skipped)."""
    pairs = [(ECHO, SINGLE)] + [(f"{ECHO}-{n}", f"{SINGLE}-{n}") for n in range(2, count + 1)]
    found: list[dict[str, float]] = []
    for echo_name, single_name in pairs:
        echo, single = results.get(echo_name), results.get(single_name)
        if echo is None or single is None or not echo.achieved_rps:
            continue
        found.append(
            {
                "echo_rps": echo.achieved_rps,
                "single_rps": single.achieved_rps,
                "ratio": round(single.achieved_rps / echo.achieved_rps, 3),
            }
        )
    return found


def _signing_numbers(result: PhaseResult, *, per_request: int) -> dict[str, float | None]:
    return {
        "signatures_per_s": round(result.achieved_rps * per_request, 1),
        "requests_per_s": result.achieved_rps,
        "p50_ms": result.latency_ms.get("p50"),
        "p99_ms": result.latency_ms.get("p99"),
        "errors": sum(result.errors.values()),
    }


def _target(value: float | None, wanted: str, met: bool) -> dict[str, object]:
    return {"value": value, "target": wanted, "met": met}


def summary(comparison: Mapping[str, object]) -> str:
    """The lines printed before the harness's table: the three results against their targets."""
    lines = ["sign:"]
    single = comparison.get(SINGLE)
    if isinstance(single, dict):
        ratio = single.get("rps_vs_echo")
        lines.append(
            f"  (a) single 1 KiB raw: {single['signatures_per_s']} signatures/s, p50 {single['p50_ms']} ms, "
            f"p99 {single['p99_ms']} ms; {_percent(ratio)} of echo ({single.get('echo_rps')} req/s)"
        )
        rounds = single.get("rounds")
        if isinstance(rounds, list) and len(rounds) > 1:
            pairs = ", ".join(f"{r['single_rps']:.0f}/{r['echo_rps']:.0f} = {r['ratio']:.3f}" for r in rounds)
            lines.append(f"      mean of {len(rounds)} (single, echo) pairs: {pairs}")
    batch = comparison.get(BATCH)
    if isinstance(batch, dict):
        lines.append(
            f"  (b) batch {batch['items']} x {batch['item_bytes']} B {batch['format']}: "
            f"{batch['signatures_per_s']} signatures/s ({batch['requests_per_s']} req/s), "
            f"p50 {batch['p50_ms']} ms, p99 {batch['p99_ms']} ms"
        )
    confirm = comparison.get(CONFIRM)
    if isinstance(confirm, dict):
        latency = confirm["latency_ms"]
        assert isinstance(latency, dict)
        lines.append(
            f"  (c) confirm: {confirm['devices_connected']}/{confirm['devices']} devices, "
            f"{confirm['rate']} ops/s: {confirm['ok']} of {confirm['requests']} completed, "
            f"POST -> completed p50 {latency.get('p50')} ms, p99 {latency.get('p99')} ms, "
            f"errors {confirm['errors'] or 'none'}"
        )
    targets = comparison.get("targets")
    if isinstance(targets, dict):
        for name, target in targets.items():
            assert isinstance(target, dict)
            verdict = "met" if target["met"] else "NOT met"
            lines.append(f"  target {name}: {target['value']} (want {target['target']}): {verdict}")
    return "\n".join(lines)


def _percent(ratio: object) -> str:
    return f"{ratio * 100:.0f} %" if isinstance(ratio, float | int) else "n/a"

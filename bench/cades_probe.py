"""CPU per batch of the worker-side steps of a signing request, in this process (no server, no HSM unit).

Run from the repository root::

    .venv/bin/python -m bench.cades_probe                      # 100 x 4 KiB, CAdES-BES detached
    .venv/bin/python -m bench.cades_probe --items 100 --size 4096 --rounds 20 --paramset CRYPTOPRO_A

For one batch of ``--items`` random documents of ``--size`` bytes, the CPU time (``process_time``,
mean of ``--rounds`` rounds) of each step the worker makes for ``POST /api/v1/operations`` with
``format: cades-bes, detached: true`` — the JSON body parsed and validated, the documents decoded
from base64 and hashed, the CAdES-BES prepared and finished, the signatures checked with the
certificate's key, the response models built and encoded — plus the same CAdES-BES built per item
with ``prepare_cades`` → ``finish`` for comparison with the per-batch ``CadesBatch`` templates. The
raw signatures themselves (the HSM units' work, in other processes) are listed apart and left out of
the worker's total. The machine is shared: compare runs made close together.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import TypeAdapter

from actors.operations import InputKind
from edge.operations.codec import decode
from edge.operations.models import ItemOut, OperationIn
from signing.algorithms import SignatureAlgorithm
from signing.cms import CadesBatch, PreparedSignature, finish, prepare_cades
from signing.gost.params import ParamSet
from signing.keys import GostSigningKey, PublicKey
from signing.x509 import self_signed_ca

T = TypeVar("T")

_DOCUMENT_LIMIT = 64 * 1024 * 1024


def _cpu_ms(rounds: int, step: Callable[[], T]) -> tuple[float, T]:
    """Mean CPU milliseconds of ``step`` over ``rounds`` calls (after one unmeasured call) and its result."""
    result = step()
    start = time.process_time()
    for _ in range(rounds):
        result = step()
    return (time.process_time() - start) / rounds * 1000, result


def run(*, items: int, size: int, rounds: int, paramset: ParamSet) -> list[tuple[str, float, bool]]:
    """(step, CPU ms per batch, counted in the worker's total) for each step, in request order."""
    key = GostSigningKey.generate(paramset)
    now = dt.datetime.now(dt.UTC)
    certificate = self_signed_ca(
        key,
        subject=[("common_name", "probe")],
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=30),
    )
    algorithm = key.signature_algorithm
    public_key = certificate.public_key()
    documents = [os.urandom(size) for _ in range(items)]
    body = json.dumps(
        {
            "format": "cades-bes",
            "detached": True,
            "items": [
                {"name": f"d{i}.bin", "content": base64.b64encode(d).decode()}
                for i, d in enumerate(documents)
            ],
        }
    )
    rows: list[tuple[str, float, bool]] = []

    def step(name: str, work: Callable[[], T], *, worker: bool = True, times: int = rounds) -> T:
        spent, result = _cpu_ms(times, work)
        rows.append((name, spent, worker))
        return result

    data = step("JSON body parsed", lambda: json.loads(body))
    request = step("OperationIn validated", lambda: TypeAdapter(OperationIn).validate_python(data))
    contents = step(
        "contents decoded (base64)",
        lambda: [decode(item.content or "", "content", limit=_DOCUMENT_LIMIT) for item in request.items],
    )
    digests = step("documents hashed", lambda: [algorithm.digest.hash(c) for c in contents])

    def prepare_batch() -> tuple[CadesBatch, list[PreparedSignature]]:
        batch = CadesBatch(
            certificate=certificate, signature_algorithm=algorithm, detached=True, signing_time=now
        )
        return batch, [batch.prepare(content_digest=d) for d in digests]

    batch, _ = step("CadesBatch + prepare", prepare_batch)
    prepared = [batch.prepare(content_digest=d) for d in digests]
    raw = step(
        "raw signatures (HSM units)",
        lambda: [key.sign_digest(p.digest_to_sign) for p in prepared],
        worker=False,
        times=max(1, rounds // 4),
    )
    step(
        "signatures checked",
        lambda: _verify_all(public_key, algorithm, prepared, raw),
        times=max(1, rounds // 4),
    )
    signatures = step(
        "CadesBatch.finish",
        lambda: [batch.finish(p, s, verify=False) for p, s in zip(prepared, raw, strict=True)],
    )
    step(
        "(per item: prepare_cades → finish)",
        lambda: [
            finish(
                prepare_cades(
                    content_digest=d,
                    certificate=certificate,
                    signature_algorithm=algorithm,
                    detached=True,
                    signing_time=now,
                ),
                s,
                verify=False,
            )
            for d, s in zip(digests, raw, strict=True)
        ],
        worker=False,
    )
    outputs = step("ItemOut built (+ base64)", lambda: _items_out(digests, signatures))
    dumped = step("response dumped", lambda: [item.model_dump(mode="json") for item in outputs])
    step("response JSON", lambda: json.dumps(dumped))
    return rows


def _verify_all(
    public_key: PublicKey,
    algorithm: SignatureAlgorithm,
    prepared: Sequence[PreparedSignature],
    signatures: Sequence[bytes],
) -> int:
    for item, signature in zip(prepared, signatures, strict=True):
        public_key.verify_digest(item.digest_to_sign, signature, algorithm)
    return len(signatures)


def _items_out(digests: Sequence[bytes], signatures: Sequence[bytes]) -> list[ItemOut]:
    return [
        ItemOut(
            index=i,
            name=f"d{i}.bin",
            input=InputKind.CONTENT,
            digest=base64.b64encode(digest).decode(),
            status="signed",
            signature=base64.b64encode(signature).decode(),
            error=None,
        )
        for i, (digest, signature) in enumerate(zip(digests, signatures, strict=True))
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the options, run the probe, print one line per step and the worker's total."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100, help="documents per batch (100)")
    parser.add_argument("--size", type=int, default=4096, help="bytes per document (4096)")
    parser.add_argument("--rounds", type=int, default=20, help="measured rounds per step (20)")
    parser.add_argument("--paramset", default="CRYPTOPRO_A", help="GOST parameter set (the server's default)")
    args = parser.parse_args(argv)
    rows = run(items=args.items, size=args.size, rounds=args.rounds, paramset=ParamSet[args.paramset])
    print(f"{args.items} x {args.size} B, CAdES-BES detached, {args.paramset}: CPU ms per batch")
    for name, spent, worker in rows:
        print(f"  {name:38s} {spent:8.2f}{'' if worker else '   (not in the total)'}")
    total = sum(spent for _, spent, worker in rows if worker)
    ceiling = args.items * 1000 / total
    print(f"  {'worker total':38s} {total:8.2f}  -> {ceiling:,.0f} signatures/s per core at most")
    print(f"  load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()

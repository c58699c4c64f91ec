"""The built-in rows: every primitive of :mod:`signing.gost` this package measures, with floors."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator

from bench.crypto.floor import CFloor, FloorUnavailable, openssl_speed
from bench.crypto.rows import BenchConfig, BenchRow, throughput_row, us_row
from signing.gost import (
    GostPrivateKey,
    GostPublicKey,
    ParamSet,
    hmac_gostr3411_2012_256,
    hmac_gostr3411_2012_512,
    kdf_gostr3411_2012_256,
    kdf_tree_gostr3411_2012_256,
    pbkdf2_gostr3411_2012_512,
    streebog_digest,
)

HASH_BLOCK = 8192
"""Bytes per hash call in the throughput rows (the same size ``openssl speed -bytes`` gets)."""
HMAC_BLOCK = 1024
PBKDF2_ITERATIONS = 1000


def _with_speed_floor(row: BenchRow, kind: str, algorithm: str, nbytes: int) -> BenchRow:
    try:
        floor = openssl_speed(kind, algorithm, nbytes=nbytes)
    except FloorUnavailable as exc:
        return BenchRow(
            row.name, row.unit, row.value, notes=f"{row.notes}; floor unavailable: {exc}", extra=row.extra
        )
    return BenchRow(row.name, row.unit, row.value, floor.value, floor.command, row.notes, row.extra)


def hash_rows(config: BenchConfig) -> Iterator[BenchRow]:
    """Streebog and HMAC throughput beside ``openssl speed``; KDFs and PBKDF2 per call."""
    block, small = bytes(HASH_BLOCK), bytes(HMAC_BLOCK)
    key = bytes(range(32))
    for size, name in ((32, "md_gost12_256"), (64, "md_gost12_512")):
        row = throughput_row(
            f"streebog{size * 8}.{HASH_BLOCK}B",
            functools.partial(streebog_digest, block, size=size),
            HASH_BLOCK,
            config,
            notes=f"one-shot digest of {HASH_BLOCK} bytes",
        )
        yield _with_speed_floor(row, "-evp", name, HASH_BLOCK)
    yield us_row("streebog256.64B", lambda: streebog_digest(block[:64]), config, notes="per-call overhead")
    hmac_row = throughput_row(
        f"hmac_gostr3411_2012_256.{HMAC_BLOCK}B",
        lambda: hmac_gostr3411_2012_256(key, small),
        HMAC_BLOCK,
        config,
        notes=f"{HMAC_BLOCK}-byte message",
    )
    yield _with_speed_floor(hmac_row, "-hmac", "md_gost12_256", HMAC_BLOCK)
    yield us_row(
        f"hmac_gostr3411_2012_512.{HMAC_BLOCK}B", lambda: hmac_gostr3411_2012_512(key, small), config
    )
    yield us_row("kdf_gostr3411_2012_256", lambda: kdf_gostr3411_2012_256(key, b"label", b"seed" * 4), config)
    yield us_row(
        "kdf_tree_gostr3411_2012_256.64B",
        lambda: kdf_tree_gostr3411_2012_256(key, b"label", b"seed", length=64),
        config,
    )
    yield us_row(
        f"pbkdf2_gostr3411_2012_512.c{PBKDF2_ITERATIONS}",
        lambda: pbkdf2_gostr3411_2012_512(b"password", b"salt", PBKDF2_ITERATIONS),
        config,
        notes=f"{PBKDF2_ITERATIONS} iterations, 64-byte output",
    )


def _signature_rows(paramset: ParamSet, config: BenchConfig, cfloor: CFloor | None) -> Iterator[BenchRow]:
    key = GostPrivateKey.generate(paramset)
    public = key.public_key()
    digest = bytes([0x5A]) * paramset.size
    signature = key.sign_digest(digest)
    point = public.point_bytes()
    bits = paramset.key_size
    floor: dict[str, float] = {}
    floor_command: str | None = None
    note = f"{paramset.name}, fresh EVP_PKEY_CTX per call"
    if cfloor is not None:
        try:
            floor = cfloor.median(paramset.engine_name, bits, config.seconds, config.rounds)
            floor_command = cfloor.command(paramset.engine_name, bits)
        except FloorUnavailable as exc:
            note += f"; floor unavailable: {exc}"
    for op_name, op in (
        ("sign", lambda: key.sign_digest(digest)),
        ("verify", lambda: public.verify_digest(digest, signature)),
    ):
        row = us_row(f"gost3410_{bits}.{op_name}", op, config, notes=note)
        yield BenchRow(
            row.name, row.unit, row.value, floor.get(f"{op_name}_us"), floor_command, row.notes, row.extra
        )
    yield us_row(
        f"gost3410_{bits}.keygen", lambda: GostPrivateKey.generate(paramset), config, notes=paramset.name
    )
    d_le = key.private_bytes()
    yield us_row(
        f"gost3410_{bits}.load_private", lambda: GostPrivateKey.from_private_bytes(paramset, d_le), config,
        notes="Q = d·P and the engine's private key check",
    )  # fmt: skip
    yield us_row(
        f"gost3410_{bits}.load_public", lambda: GostPublicKey.from_point_bytes(paramset, point), config,
        notes="includes the on-curve/order check",
    )  # fmt: skip
    peer = GostPrivateKey.generate(paramset).public_key()
    yield us_row(f"vko_{bits}.out32", lambda: key.vko(peer, b"\x01" * 8), config, notes=paramset.name)
    if bits == 512:
        yield us_row("vko_512.out64", lambda: key.vko(peer, b"\x01" * 16, output_size=64), config)
    yield us_row(f"keg_{bits}", lambda: key.keg(peer, b"\x01" * 32), config, notes="R 1323565.1.020-2018 KEG")


def _two_thread_row(paramset: ParamSet, config: BenchConfig) -> BenchRow:
    """Sign throughput of two threads sharing one key, as µs per signature overall."""
    key = GostPrivateKey.generate(paramset)
    digest = bytes(paramset.size)
    counts: list[int] = []

    def worker(deadline: float) -> None:
        count = 0
        while time.perf_counter() < deadline:
            key.sign_digest(digest)
            count += 1
        counts.append(count)

    start = time.perf_counter()
    deadline = start + config.seconds
    threads = [threading.Thread(target=worker, args=(deadline,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return BenchRow(
        f"gost3410_{paramset.key_size}.sign.2threads",
        "us/op",
        elapsed / sum(counts) * 1e6,
        notes="two threads, one key: wall time per signature (GIL released in the engine)",
        extra={"calls": float(sum(counts))},
    )


def signature_rows(config: BenchConfig) -> Iterator[BenchRow]:
    """GOST R 34.10-2012 256 and 512: sign/verify beside the C floor, keygen, load, VKO, threads."""
    try:
        cfloor: CFloor | None = CFloor()
    except FloorUnavailable:
        cfloor = None
    try:
        for paramset in (ParamSet.TC26_256_A, ParamSet.TC26_512_A):
            yield from _signature_rows(paramset, config, cfloor)
        yield _two_thread_row(ParamSet.TC26_256_A, config)
    finally:
        if cfloor is not None:
            cfloor.close()

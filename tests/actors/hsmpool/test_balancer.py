"""The pool's request API against real soft units: every operation, routing, batching, refusals, metrics.

GOST signatures are checked by the ``openssl`` CLI (gost engine) once and by the signing layer in bulk;
VKO and unwrap by computing the peer's side locally.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import trio

from actors.hsm.errors import BlobInvalidError, HsmRequestError
from actors.hsm.protocol import KeyAlgorithm
from actors.hsmpool import (
    PROMETHEUS_CONTENT_TYPE,
    SOFT_DOMAIN,
    GetUnitStatus,
    HsmKey,
    UnitState,
    UnknownKeyDomainError,
    prometheus_text,
    unit_actor_id,
)
from actors.runtime import ActorSystem
from signing.gost import GostPrivateKey, GostPublicKey, ParamSet, streebog_digest
from signing.gost.kexp15 import kexp15
from signing.keys import encode_gost_spki

from .conftest import MakeSettings, OpenPool

PARAMSET = ParamSet.TC26_256_A


def _openssl_verifies(openssl: str, folder: Path, point: bytes, digest: bytes, signature: bytes) -> bool:
    (folder / "pub.der").write_bytes(encode_gost_spki(PARAMSET, point))
    (folder / "digest.bin").write_bytes(digest)
    (folder / "sig.bin").write_bytes(signature)
    command = [openssl, "pkeyutl", "-engine", "gost", "-verify", "-pubin", "-keyform", "DER"]
    command += ["-inkey", f"{folder}/pub.der", "-in", f"{folder}/digest.bin", "-sigfile", f"{folder}/sig.bin"]
    return subprocess.run(command, capture_output=True, timeout=60, check=False).returncode == 0


async def test_generate_and_sign_through_the_pool(
    pool: OpenPool, fast_hsm: MakeSettings, openssl: str, tmp_path: Path
) -> None:
    async with pool(fast_hsm()) as hsm:
        assert hsm.ready
        assert hsm.domains == [SOFT_DOMAIN]
        assert hsm.default_domain == SOFT_DOMAIN
        generated = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, PARAMSET.name)
        assert generated.domain == SOFT_DOMAIN
        assert generated.info.blob
        digest = streebog_digest(b"document bytes")
        signature = await hsm.sign_digest(generated.key, digest, op_id="op-1")
        exported = await hsm.public_key(generated.key)
    assert exported.public_key == generated.info.public_key
    assert _openssl_verifies(openssl, tmp_path, generated.info.public_key, digest, signature)
    assert not _openssl_verifies(openssl, tmp_path, generated.info.public_key, digest[::-1], signature)


async def test_a_large_batch_is_split_over_both_units_and_kept_in_order(
    pool: OpenPool, fast_hsm: MakeSettings
) -> None:
    async with pool(fast_hsm(max_digests_per_call=100)) as hsm:
        key = (await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, PARAMSET.name)).key
        digests = [os.urandom(32) for _ in range(450)]
        signatures = await hsm.sign_digests(key, digests)
        assert await hsm.sign_digests(key, []) == []
        public = GostPublicKey.from_point_bytes(PARAMSET, (await hsm.public_key(key)).public_key)
        units = hsm.units()
    assert len(signatures) == len(digests)
    for digest, signature in zip(digests, signatures, strict=True):
        public.verify_digest(digest, signature)
    per_unit = [unit.metrics["items"].get("sign", 0) for unit in units]
    assert sum(per_unit) == 450
    assert min(per_unit) >= 100, per_unit  # five parts of ≤ 100 went to both units at once


async def test_concurrent_requests_are_spread_over_the_healthy_units(
    pool: OpenPool, fast_hsm: MakeSettings
) -> None:
    async with pool(fast_hsm()) as hsm:
        key = (await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, PARAMSET.name)).key

        async def caller() -> None:
            for _ in range(100):
                await hsm.sign_digest(key, os.urandom(32))

        async with trio.open_nursery() as nursery:
            for _ in range(16):
                nursery.start_soon(caller)
        per_unit = [unit.metrics["items"].get("sign", 0) for unit in hsm.units()]
        assert hsm.counters.requests["sign"] == 1600
        assert hsm.counters.retries["sign"] == 0
    assert sum(per_unit) == 1600
    assert min(per_unit) > 1600 * 0.2, per_unit


async def test_a_key_signs_in_one_unit_while_the_units_are_equally_loaded(
    pool: OpenPool, fast_hsm: MakeSettings
) -> None:
    # Ties go to the key's home unit: a soft key is opened in one unit's key cache, not in both.
    async with pool(fast_hsm()) as hsm:
        algorithm = KeyAlgorithm.GOST3410_2012_256
        keys = [(await hsm.generate_key(algorithm, PARAMSET.name)).key for _ in range(16)]
        homes: set[int] = set()
        for key in keys:
            before = [unit.metrics["items"].get("sign", 0) for unit in hsm.units()]
            for _ in range(10):  # one at a time: every pick is a tie
                await hsm.sign_digest(key, os.urandom(32))
            await hsm.sign_digests(key, [os.urandom(32) for _ in range(3)])
            after = [unit.metrics["items"].get("sign", 0) for unit in hsm.units()]
            used = [index for index, (b, a) in enumerate(zip(before, after, strict=True)) if a > b]
            assert len(used) == 1, (before, after)
            homes.add(used[0])
    assert homes == {0, 1}  # 16 keys: both units are some key's home (p of failing: 2^-15)


async def test_a_burst_of_single_signatures_joins_one_frame_until_a_unit_is_well_ahead(
    pool: OpenPool, fast_hsm: MakeSettings
) -> None:
    async with pool(fast_hsm()) as hsm:
        key = (await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, PARAMSET.name)).key

        async def burst(size: int) -> list[int]:
            before = [unit.metrics["items"].get("sign", 0) for unit in hsm.units()]
            async with trio.open_nursery() as nursery:  # started together: one scheduler batch
                for _ in range(size):
                    nursery.start_soon(hsm.sign_digest, key, os.urandom(32))
            return [
                unit.metrics["items"].get("sign", 0) - b for unit, b in zip(hsm.units(), before, strict=True)
            ]

        small = await burst(6)
        large = await burst(60)
    assert sorted(small) == [0, 6]  # one frame, one unit: not dealt out one by one
    assert min(large) >= 20, large  # a unit more than JOIN_BONUS items ahead loses to the other


async def test_refusals_go_back_to_the_caller_without_retries(pool: OpenPool, fast_hsm: MakeSettings) -> None:
    async with pool(fast_hsm()) as hsm:
        key = (await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, PARAMSET.name)).key
        with pytest.raises(HsmRequestError):
            await hsm.sign_digests(key, [b"short"])
        assert key.ref.blob is not None
        tampered = HsmKey(
            key.domain, replace(key.ref, blob=key.ref.blob[:-1] + bytes([key.ref.blob[-1] ^ 1]))
        )
        with pytest.raises(BlobInvalidError):
            await hsm.sign_digest(tampered, os.urandom(32))
        with pytest.raises(UnknownKeyDomainError, match="pkcs11:nowhere"):
            await hsm.sign_digest(HsmKey("pkcs11:nowhere", key.ref), os.urandom(32))
        with pytest.raises(UnknownKeyDomainError):
            await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, PARAMSET.name, domain="pkcs11:nowhere")
        assert not hsm.counters.retries
        assert hsm.counters.failures == {"hsm_bad_request": 1, "hsm_blob_invalid": 1}
        assert all(unit.state is UnitState.HEALTHY for unit in hsm.units())


async def test_key_agreement_and_unwrap_match_the_peer_side(pool: OpenPool, fast_hsm: MakeSettings) -> None:
    async with pool(fast_hsm(soft_units=1)) as hsm:
        generated = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, PARAMSET.name)
        ours = GostPublicKey.from_point_bytes(PARAMSET, generated.info.public_key)
        peer = GostPrivateKey.generate(PARAMSET)
        ukm = os.urandom(8)
        shared = await hsm.agree(generated.key, peer.public_key().point_bytes(), ukm=ukm)
        assert shared == peer.vko(ours, ukm)

        ephemeral = GostPrivateKey.generate(PARAMSET)
        ukm32 = os.urandom(32)
        export = ephemeral.keg(ours, ukm32)
        content_key, iv = os.urandom(32), ukm32[24:32]
        wrapped = kexp15(content_key, algorithm="kuznyechik", mac_key=export[:32], enc_key=export[32:], iv=iv)
        opened = await hsm.unwrap(
            generated.key, peer_public=ephemeral.public_key().point_bytes(), ukm=ukm32, iv=iv, wrapped=wrapped
        )
    assert opened == content_key


async def test_status_through_the_actor_and_metrics_in_both_formats(
    pool: OpenPool, fast_hsm: MakeSettings
) -> None:
    system = ActorSystem("metrics-test")
    async with pool(fast_hsm(), system=system) as hsm:
        key = (await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, PARAMSET.name)).key
        await hsm.sign_digests(key, [os.urandom(32) for _ in range(10)])
        status = await system.lookup(unit_actor_id("hsm", "soft-1")).ask(GetUnitStatus())
        assert status.state is UnitState.HEALTHY
        assert status.pid
        assert status.uptime_s > 0
        metrics = hsm.metrics()
        text = prometheus_text(hsm.units(), metrics, worker=os.getpid())
    assert metrics["ready"] is True
    assert metrics["healthy_units"] == 2
    assert metrics["requests"] == {"generate_key": 1, "sign": 1}
    assert sum(unit["items"].get("sign", 0) for unit in metrics["units"]) == 10
    assert {unit["state"] for unit in metrics["units"]} == {"healthy"}
    assert PROMETHEUS_CONTENT_TYPE.startswith("text/plain; version=0.0.4")
    sample = re.compile(r'^[a-z_]+\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\} [0-9.e+-]+$')
    for line in text.splitlines():
        assert line.startswith(("# HELP ", "# TYPE ")) or sample.match(line), line
    assert (
        f'klyuch_hsm_unit_up{{worker="{os.getpid()}",unit="soft-1",domain="soft",state="healthy"}} 1' in text
    )
    assert f'klyuch_hsm_requests_total{{worker="{os.getpid()}",op="sign"}} 1' in text

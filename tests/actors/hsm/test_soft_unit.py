"""Every operation of a soft unit through the client, checked by independent implementations:
the ``openssl`` CLI (gost engine) for GOST signatures, ``cryptography`` for ECDSA and ECDH, and
local GOST keys for VKO and KExp15 key transport.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import trio
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from actors.hsm import kek
from actors.hsm.errors import (
    BlobInvalidError,
    HsmRequestError,
    SignatureFaultError,
    UnsupportedAlgorithmError,
)
from actors.hsm.handover import UnitSecrets
from actors.hsm.protocol import FaultKind, KeyAlgorithm, KeyRef, SignItem
from signing.gost import GostPrivateKey, GostPublicKey, ParamSet, streebog_digest
from signing.gost.kexp15 import kexp15
from signing.keys import encode_gost_spki

from .conftest import StartUnit, Unit, soft_spec

GOST_SETS = ParamSet.production()


def _algorithm(paramset: ParamSet) -> KeyAlgorithm:
    return KeyAlgorithm.GOST3410_2012_256 if paramset.key_size == 256 else KeyAlgorithm.GOST3410_2012_512


def _openssl_verify(
    openssl: str, folder: Path, paramset: ParamSet, point: bytes, digest: bytes, sig: bytes
) -> bool:
    (folder / "pub.der").write_bytes(encode_gost_spki(paramset, point))
    (folder / "digest.bin").write_bytes(digest)
    (folder / "sig.bin").write_bytes(sig)
    command = [openssl, "pkeyutl", "-engine", "gost", "-verify", "-pubin", "-keyform", "DER"]
    command += ["-inkey", f"{folder}/pub.der", "-in", f"{folder}/digest.bin", "-sigfile", f"{folder}/sig.bin"]
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    return done.returncode == 0


@pytest.mark.parametrize("paramset", GOST_SETS, ids=lambda p: p.name)
async def test_gost_keys_of_every_parameter_set_sign_verifiably(
    soft_pair: tuple[Unit, Unit], paramset: ParamSet, openssl: str, tmp_path: Path
) -> None:
    unit, _ = soft_pair
    async with unit.connect() as hsm:
        info = await hsm.generate_key(_algorithm(paramset), paramset.name)
        assert (info.algorithm, info.paramset) == (_algorithm(paramset).value, paramset.name)
        assert len(info.public_key) == 2 * paramset.size
        assert info.blob is not None
        digest = streebog_digest(b"document " + paramset.name.encode(), size=paramset.size)
        signature = await hsm.sign_digest(info.ref(), digest)
    assert len(signature) == paramset.signature_size
    assert _openssl_verify(openssl, tmp_path, paramset, info.public_key, digest, signature)
    tampered = signature[:-1] + bytes([signature[-1] ^ 1])
    assert not _openssl_verify(openssl, tmp_path, paramset, info.public_key, digest, tampered)


async def test_a_list_of_digests_is_signed_in_order(soft_pair: tuple[Unit, Unit]) -> None:
    unit, _ = soft_pair
    digests = [streebog_digest(i.to_bytes(4, "big"), size=32) for i in range(100)]
    async with unit.connect() as hsm:
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
        signatures = await hsm.sign_digests(info.ref(), digests)
    public = GostPublicKey.from_point_bytes(ParamSet.TC26_256_A, info.public_key)
    assert len(signatures) == len(digests)
    for digest, signature in zip(digests, signatures, strict=True):
        public.verify_digest(digest, signature)


async def test_ecdsa_p256_sign_agree_and_public_key(soft_pair: tuple[Unit, Unit]) -> None:
    unit, _ = soft_pair
    peer = ec.generate_private_key(ec.SECP256R1())
    peer_point = peer.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    async with unit.connect() as hsm:
        info = await hsm.generate_key(KeyAlgorithm.ECDSA_P256)
        assert info.paramset is None
        assert (await hsm.public_key(info.ref())).public_key == info.public_key
        digests = [os.urandom(32), os.urandom(48)]
        signatures = [await hsm.sign_digest(info.ref(), digest) for digest in digests]
        secret = await hsm.agree(info.ref(), peer_point)
        with pytest.raises(HsmRequestError, match="32, 48 or 64"):
            await hsm.sign_digest(info.ref(), b"\x00" * 20)
        with pytest.raises(UnsupportedAlgorithmError):
            await hsm.unwrap(
                info.ref(), peer_public=peer_point, ukm=b"\x00" * 32, iv=b"\x00" * 8, wrapped=b"\x00" * 48
            )
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), info.public_key)
    for digest, signature, hash_algorithm in zip(
        digests, signatures, (hashes.SHA256(), hashes.SHA384()), strict=True
    ):
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        public.verify(der, digest, ec.ECDSA(Prehashed(hash_algorithm)))
    assert secret == peer.exchange(ec.ECDH(), public)


@pytest.mark.parametrize(("paramset", "size"), [(ParamSet.TC26_256_A, 32), (ParamSet.TC26_512_C, 64)])
async def test_vko_inside_the_unit_matches_the_peer_side(
    soft_pair: tuple[Unit, Unit], paramset: ParamSet, size: int
) -> None:
    unit, _ = soft_pair
    peer = GostPrivateKey.generate(paramset)
    ukm = os.urandom(8)
    async with unit.connect() as hsm:
        info = await hsm.generate_key(_algorithm(paramset), paramset.name)
        shared = await hsm.agree(info.ref(), peer.public_key().point_bytes(), ukm=ukm, output_size=size)
        with pytest.raises(HsmRequestError):
            await hsm.agree(info.ref(), b"\x01" * (2 * paramset.size), ukm=ukm)  # not a curve point
    ours = GostPublicKey.from_point_bytes(paramset, info.public_key)
    assert shared == peer.vko(ours, ukm, output_size=size)


async def test_unwrap_opens_a_kexp15_key_transport(soft_pair: tuple[Unit, Unit]) -> None:
    """The sender side (ephemeral key, KEG, KExp15) is computed here with the signing layer."""
    unit, _ = soft_pair
    paramset = ParamSet.TC26_256_B
    async with unit.connect() as hsm:
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, paramset.name)
        ephemeral = GostPrivateKey.generate(paramset)
        ukm = os.urandom(32)
        export = ephemeral.keg(GostPublicKey.from_point_bytes(paramset, info.public_key), ukm)
        content_key, iv = os.urandom(32), ukm[24:32]
        wrapped = kexp15(content_key, algorithm="kuznyechik", mac_key=export[:32], enc_key=export[32:], iv=iv)
        opened = await hsm.unwrap(
            info.ref(), peer_public=ephemeral.public_key().point_bytes(), ukm=ukm, iv=iv, wrapped=wrapped
        )
        assert opened == content_key
        damaged = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
        with pytest.raises(HsmRequestError, match="authenticate"):
            await hsm.unwrap(
                info.ref(), peer_public=ephemeral.public_key().point_bytes(), ukm=ukm, iv=iv, wrapped=damaged
            )


async def test_public_key_export_and_blob_checks(soft_pair: tuple[Unit, Unit]) -> None:
    unit, _ = soft_pair
    async with unit.connect() as hsm:
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_512, "TC26_512_B")
        exported = await hsm.public_key(info.ref())
        assert (exported.key_id, exported.public_key, exported.blob) == (info.key_id, info.public_key, None)
        assert info.blob is not None
        with pytest.raises(BlobInvalidError, match="another key id"):
            await hsm.public_key(KeyRef("00" * 16, info.blob))
        damaged = info.blob[:-1] + bytes([info.blob[-1] ^ 1])
        with pytest.raises(BlobInvalidError):
            await hsm.sign_digest(KeyRef(info.key_id, damaged), b"\x00" * 64)
        with pytest.raises(HsmRequestError, match="wrapped blob"):
            await hsm.sign_digest(KeyRef(info.key_id), b"\x00" * 64)
        with pytest.raises(HsmRequestError, match="64-byte digests"):
            await hsm.sign_digest(info.ref(), b"\x00" * 32)


@pytest.mark.parametrize(
    ("algorithm", "paramset", "error"),
    [
        ("rsa_2048", None, UnsupportedAlgorithmError),
        ("gost3410_2012_256", "TEST_256", UnsupportedAlgorithmError),
        ("gost3410_2012_256", "NO_SUCH_SET", UnsupportedAlgorithmError),
        ("gost3410_2012_256", "TC26_512_A", HsmRequestError),
        ("gost3410_2012_512", None, UnsupportedAlgorithmError),
        ("ecdsa_p256", "TC26_256_A", HsmRequestError),
    ],
)
async def test_bad_generation_requests(
    soft_pair: tuple[Unit, Unit], algorithm: str, paramset: str | None, error: type[Exception]
) -> None:
    unit, _ = soft_pair
    async with unit.connect() as hsm:
        with pytest.raises(error):
            await hsm.generate_key(algorithm, paramset)


async def test_hot_standby_pair_signs_each_others_blobs(soft_pair: tuple[Unit, Unit]) -> None:
    unit_a, unit_b = soft_pair
    digest = streebog_digest(b"signed by the standby", size=32)
    async with unit_a.connect() as a, unit_b.connect() as b:
        health_a, health_b = await a.health(), await b.health()
        assert health_a.kek_id == health_b.kek_id is not None
        assert health_a.pid != health_b.pid
        from_a = await a.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
        from_b = await b.generate_key(KeyAlgorithm.ECDSA_P256)
        signature_by_b = await b.sign_digest(from_a.ref(), digest)
        signature_by_a = await a.sign_digest(from_b.ref(), digest)
    GostPublicKey.from_point_bytes(ParamSet.TC26_256_A, from_a.public_key).verify_digest(
        digest, signature_by_b
    )
    public_b = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), from_b.public_key)
    der = encode_dss_signature(
        int.from_bytes(signature_by_a[:32], "big"), int.from_bytes(signature_by_a[32:], "big")
    )
    public_b.verify(der, digest, ec.ECDSA(Prehashed(hashes.SHA256())))


async def test_a_unit_with_another_kek_refuses_the_blobs(
    soft_pair: tuple[Unit, Unit], unit_factory: StartUnit
) -> None:
    folder: Path = unit_factory.folder  # type: ignore[attr-defined]
    other_kek = folder / "other.json"
    kek.create_file(other_kek, "another passphrase", iterations=1000)
    stranger = await unit_factory(
        spec=soft_spec(folder, "stranger", other_kek),
        secrets=UnitSecrets(auth_key=os.urandom(32), kek_passphrase="another passphrase"),
    )
    unit, _ = soft_pair
    async with unit.connect() as hsm, stranger.connect() as other:
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
        assert (await other.health()).kek_id != (await hsm.health()).kek_id
        with pytest.raises(BlobInvalidError, match="KEK"):
            await other.sign_digest(info.ref(), b"\x00" * 32)


async def test_metrics_count_operations_items_errors_and_cache(soft_pair: tuple[Unit, Unit]) -> None:
    _, unit = soft_pair
    async with unit.connect() as hsm:
        before = await hsm.metrics()
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "CRYPTOPRO_A")
        await hsm.sign_digests(info.ref(), [os.urandom(32)] * 5)
        with pytest.raises(HsmRequestError):
            await hsm.sign_digests(info.ref(), [b"short"])
        after = await hsm.metrics()
    signs_before = before.ops.get("sign_digests", {"count": 0, "items": 0, "errors": 0})
    signs = after.ops["sign_digests"]
    assert signs["count"] - signs_before["count"] == 2
    assert signs["items"] - signs_before["items"] == 6
    assert signs["errors"] - signs_before["errors"] == 1
    assert signs["p50_us"] > 0
    assert signs["p99_us"] >= signs["p50_us"]
    assert after.errors.get("hsm_bad_request", 0) >= 1
    assert (
        after.key_cache["hits"] + after.key_cache["misses"]
        > before.key_cache["hits"] + before.key_cache["misses"]
    )
    assert after.in_flight == 0


async def test_concurrent_single_signatures_are_coalesced_and_fail_alone(
    soft_pair: tuple[Unit, Unit],
) -> None:
    unit, _ = soft_pair
    async with unit.connect() as hsm:
        keys = [await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A") for _ in range(3)]
        before = (await hsm.metrics()).ops.get("sign_many", {"count": 0, "items": 0})
        digests = [streebog_digest(i.to_bytes(2, "big"), size=32) for i in range(300)]
        results: dict[int, bytes | Exception] = {}

        async def sign(index: int) -> None:
            key = keys[index % 3].ref()
            if index == 7:  # one item with a broken blob: only that caller fails
                key = KeyRef(key.key_id, (key.blob or b"")[:-1] + b"\x00")
            try:
                results[index] = await hsm.sign_digest(key, digests[index], op_id=f"op-{index}")
            except BlobInvalidError as exc:
                results[index] = exc

        async with trio.open_nursery() as nursery:
            for index in range(len(digests)):
                nursery.start_soon(sign, index)
        after = (await hsm.metrics()).ops["sign_many"]
    assert isinstance(results.pop(7), BlobInvalidError)
    for index, signature in results.items():
        public = GostPublicKey.from_point_bytes(ParamSet.TC26_256_A, keys[index % 3].public_key)
        assert isinstance(signature, bytes)
        public.verify_digest(digests[index], signature)
    frames, items = after["count"] - before["count"], after["items"] - before["items"]
    assert items == 300
    assert frames < items / 5  # most calls shared a frame


async def test_single_signatures_asked_in_one_scheduler_batch_share_one_frame(
    soft_pair: tuple[Unit, Unit],
) -> None:
    # Open-loop arrivals: tasks started together on a quiet connection must not send the first
    # request alone (one send, one frame, one wake-up of the unit's reader for all of them).
    unit, _ = soft_pair
    async with unit.connect() as hsm:
        key = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
        before = (await hsm.metrics()).ops.get("sign_many", {"count": 0, "items": 0})
        digests = [streebog_digest(i.to_bytes(2, "big"), size=32) for i in range(20)]
        signatures: dict[int, bytes] = {}

        async def sign(index: int) -> None:
            signatures[index] = await hsm.sign_digest(key.ref(), digests[index])

        async with trio.open_nursery() as nursery:
            for index in range(len(digests)):
                nursery.start_soon(sign, index)
        after = (await hsm.metrics()).ops["sign_many"]
    assert (after["count"] - before["count"], after["items"] - before["items"]) == (1, 20)
    public = GostPublicKey.from_point_bytes(ParamSet.TC26_256_A, key.public_key)
    for index, signature in signatures.items():
        public.verify_digest(digests[index], signature)


async def test_explicit_sign_many(soft_pair: tuple[Unit, Unit]) -> None:
    unit, _ = soft_pair
    async with unit.connect(coalesce=False) as hsm:
        gost = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_512, "TC26_512_A")
        ecdsa = await hsm.generate_key(KeyAlgorithm.ECDSA_P256)
        items = [
            SignItem(gost.ref(), b"\x01" * 64),
            SignItem(ecdsa.ref(), b"\x02" * 32),
            SignItem(gost.ref(), b"\x03" * 32),  # wrong digest size for a 512-bit key
        ]
        outcomes = await hsm.sign_many(items)
        assert len(await hsm.sign_digest(gost.ref(), b"\x04" * 64)) == 128  # uncoalesced path
    assert isinstance(outcomes[0], bytes)
    GostPublicKey.from_point_bytes(ParamSet.TC26_512_A, gost.public_key).verify_digest(
        b"\x01" * 64, outcomes[0]
    )
    assert isinstance(outcomes[1], bytes)
    assert isinstance(outcomes[2], HsmRequestError)


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.GOST3410_2012_256, KeyAlgorithm.ECDSA_P256])
async def test_a_faulty_signature_never_leaves_the_unit(
    unit_factory: StartUnit, algorithm: KeyAlgorithm
) -> None:
    """With --self-check the unit checks each signature under the key's public half before it answers."""
    unit = await unit_factory("faulty", test_faults=True, slots=1, self_check=True)
    async with unit.connect() as hsm:
        gost = algorithm is KeyAlgorithm.GOST3410_2012_256
        info = await hsm.generate_key(algorithm, "TC26_256_A" if gost else None)
        key = KeyRef(info.key_id, info.blob)
        digest = os.urandom(32)
        await hsm.inject_fault(FaultKind.CORRUPT_SIGNATURE)
        with pytest.raises(SignatureFaultError, match="failed the unit's own check"):
            await hsm.sign_digests(key, [digest, digest])
        signature = await hsm.sign_digest(key, digest)  # the fault was one signature: the next is fine
        metrics = await hsm.metrics()
    if gost:
        GostPublicKey.from_point_bytes(ParamSet.TC26_256_A, info.public_key).verify_digest(digest, signature)
    assert metrics.errors.get("hsm_signature_fault") == 1


async def test_without_self_check_a_faulty_signature_is_the_workers_to_catch(
    unit_factory: StartUnit,
) -> None:
    """The default: the unit signs only; ``operations.verify_results = "every"`` checks in the worker."""
    unit = await unit_factory("unchecked", test_faults=True, slots=1)
    async with unit.connect() as hsm:
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
        key = KeyRef(info.key_id, info.blob)
        digest = os.urandom(32)
        await hsm.inject_fault(FaultKind.CORRUPT_SIGNATURE)
        faulty = await hsm.sign_digest(key, digest)
    public = GostPublicKey.from_point_bytes(ParamSet.TC26_256_A, info.public_key)
    assert not public.is_valid_digest_signature(digest, faulty)

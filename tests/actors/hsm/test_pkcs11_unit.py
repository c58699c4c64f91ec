"""PKCS#11 units on SoftHSM2 tokens (ECDSA P-256, raw CKM_ECDSA); ``cryptography`` checks the results."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import textwrap
from collections.abc import Iterator

import pytest
import trio
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from actors.hsm.errors import (
    HsmRequestError,
    KeyNotFoundError,
    SignatureFaultError,
    UnitConfigError,
    UnitFailingError,
    UnitLostError,
    UnsupportedAlgorithmError,
)
from actors.hsm.handover import UnitSecrets
from actors.hsm.protocol import FaultKind, KeyAlgorithm, KeyRef
from actors.hsm.unit import EXIT_TEMPFAIL

from .conftest import USER_PIN, SoftHsm, StartUnit, Unit, make_softhsm, pkcs11_spec


def _verify(public_point: bytes, digest: bytes, signature: bytes) -> None:
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_point)
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    prehash = {32: hashes.SHA256(), 48: hashes.SHA384(), 64: hashes.SHA512()}[len(digest)]
    public.verify(der, digest, ec.ECDSA(Prehashed(prehash)))


@pytest.fixture
def own_softhsm() -> Iterator[SoftHsm]:
    installation = make_softhsm("kh-p11x-")
    installation.make_token("OWN")
    yield installation
    shutil.rmtree(installation.folder, ignore_errors=True)


async def _start_own(unit_factory: StartUnit, installation: SoftHsm, name: str, **overrides: object) -> Unit:
    spec = pkcs11_spec(installation.folder, name, installation.conf, "OWN", **overrides)
    return await unit_factory(spec=spec, secrets=UnitSecrets(auth_key=os.urandom(32), pkcs11_pin=USER_PIN))


async def test_two_tokens_are_two_units_with_their_own_keys(pkcs11_pair: tuple[Unit, Unit]) -> None:
    unit_1, unit_2 = pkcs11_pair
    async with unit_1.connect() as hsm_1, unit_2.connect() as hsm_2:
        health_1, health_2 = await hsm_1.health(), await hsm_2.health()
        assert (health_1.backend, health_1.token_label, health_1.slots) == ("pkcs11", "T1", 1)
        assert health_2.token_label == "T2"
        key_1 = await hsm_1.generate_key(KeyAlgorithm.ECDSA_P256)
        key_2 = await hsm_2.generate_key(KeyAlgorithm.ECDSA_P256)
        assert key_1.blob is None
        assert len(key_1.public_key) == 65
        digests = [os.urandom(32), os.urandom(48), os.urandom(64)]
        signatures_1 = [await hsm_1.sign_digest(KeyRef(key_1.key_id), digest) for digest in digests]
        signatures_2 = await hsm_2.sign_digests(KeyRef(key_2.key_id), digests[:1] * 3)
        assert (await hsm_1.public_key(KeyRef(key_1.key_id))).public_key == key_1.public_key
        with pytest.raises(KeyNotFoundError):
            await hsm_2.sign_digest(KeyRef(key_1.key_id), digests[0])
    for digest, signature in zip(digests, signatures_1, strict=True):
        _verify(key_1.public_key, digest, signature)
    for signature in signatures_2:
        _verify(key_2.public_key, digests[0], signature)


INSPECT = textwrap.dedent(
    """
    import json, sys, pkcs11
    from pkcs11 import Attribute, ObjectClass
    lib = pkcs11.lib(sys.argv[1])
    with lib.get_token(token_label=sys.argv[2]).open(user_pin=sys.argv[3]) as session:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=bytes.fromhex(sys.argv[4]))
        print(json.dumps({
            "sensitive": key[Attribute.SENSITIVE], "extractable": key[Attribute.EXTRACTABLE],
            "token": key[Attribute.TOKEN], "label": key[Attribute.LABEL],
        }))
    """
)


async def test_keys_are_generated_on_the_token_non_extractable(
    pkcs11_pair: tuple[Unit, Unit], softhsm: SoftHsm
) -> None:
    unit, _ = pkcs11_pair
    async with unit.connect() as hsm:
        info = await hsm.generate_key(KeyAlgorithm.ECDSA_P256)
    assert unit.spec.pkcs11_module is not None
    done = await trio.run_process(
        [sys.executable, "-c", INSPECT, unit.spec.pkcs11_module, "T1", USER_PIN, info.key_id],
        capture_stdout=True,
        env={**os.environ, "SOFTHSM2_CONF": os.fspath(softhsm.conf)},
    )
    attributes = json.loads(done.stdout)
    assert attributes == {"sensitive": True, "extractable": False, "token": True, "label": info.key_id}


async def test_ecdh_agreement_on_the_token(pkcs11_pair: tuple[Unit, Unit]) -> None:
    _, unit = pkcs11_pair
    peer = ec.generate_private_key(ec.SECP256R1())
    async with unit.connect() as hsm:
        info = await hsm.generate_key(KeyAlgorithm.ECDSA_P256)
        point = peer.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        secret = await hsm.agree(KeyRef(info.key_id), point)
        with pytest.raises(HsmRequestError):
            await hsm.agree(KeyRef(info.key_id), point, ukm=b"\x01")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), info.public_key)
    assert secret == peer.exchange(ec.ECDH(), public)


@pytest.mark.parametrize(
    ("algorithm", "paramset"),
    [
        ("gost3410_2012_512", "TC26_512_A"),  # needs TC26 vendor mechanisms python-pkcs11 cannot name
        ("gost3410_2012_256", "TC26_256_A"),  # SoftHSM2 has no GOST mechanisms
    ],
)
async def test_gost_on_softhsm_is_refused_typed(
    pkcs11_pair: tuple[Unit, Unit], algorithm: str, paramset: str
) -> None:
    unit, _ = pkcs11_pair
    async with unit.connect() as hsm:
        with pytest.raises(UnsupportedAlgorithmError):
            await hsm.generate_key(algorithm, paramset)
        assert (await hsm.health()).status == "ok"
        with pytest.raises(UnsupportedAlgorithmError):
            await hsm.unwrap(KeyRef("00" * 16), peer_public=b"", ukm=b"", iv=b"", wrapped=b"")


async def test_bad_pin_and_unknown_token_are_configuration_failures(
    unit_factory: StartUnit, own_softhsm: SoftHsm
) -> None:
    with pytest.raises(UnitConfigError, match="login refused"):
        await unit_factory(
            spec=pkcs11_spec(own_softhsm.folder, "badpin", own_softhsm.conf, "OWN"),
            secrets=UnitSecrets(auth_key=os.urandom(32), pkcs11_pin="0000"),
        )
    with pytest.raises(UnitConfigError, match="no PKCS#11 token"):
        await unit_factory(
            spec=pkcs11_spec(own_softhsm.folder, "nolabel", own_softhsm.conf, "MISSING"),
            secrets=UnitSecrets(auth_key=os.urandom(32), pkcs11_pin=USER_PIN),
        )


async def test_a_closed_session_is_reopened_and_the_call_retried(
    unit_factory: StartUnit, own_softhsm: SoftHsm
) -> None:
    unit = await _start_own(unit_factory, own_softhsm, "reopen", test_faults=True)
    async with unit.connect() as hsm:
        info = await hsm.generate_key(KeyAlgorithm.ECDSA_P256)
        digest = os.urandom(32)
        await hsm.sign_digest(KeyRef(info.key_id), digest)  # the key handle is cached now
        await hsm.inject_fault(FaultKind.CLOSE_SESSION)
        _verify(info.public_key, digest, await hsm.sign_digest(KeyRef(info.key_id), digest))
        health = await hsm.health()
        metrics = await hsm.metrics()
    assert (health.status, health.slot_restarts) == ("ok", 0)
    assert metrics.errors == {}


async def test_a_faulty_token_signature_never_leaves_the_unit(
    unit_factory: StartUnit, own_softhsm: SoftHsm
) -> None:
    unit = await _start_own(unit_factory, own_softhsm, "faulty", test_faults=True, self_check=True)
    async with unit.connect() as hsm:
        info = await hsm.generate_key(KeyAlgorithm.ECDSA_P256)
        digest = os.urandom(32)
        await hsm.inject_fault(FaultKind.CORRUPT_SIGNATURE)
        with pytest.raises(SignatureFaultError, match="failed the unit's own check"):
            await hsm.sign_digest(KeyRef(info.key_id), digest)
        _verify(info.public_key, digest, await hsm.sign_digest(KeyRef(info.key_id), digest))


async def test_several_slots_share_the_module_safely(unit_factory: StartUnit, own_softhsm: SoftHsm) -> None:
    """Two slots, many concurrent calls: the process-wide lock keeps SoftHSM (no locking) alive."""
    unit = await _start_own(unit_factory, own_softhsm, "twoslots", slots=2)
    async with unit.connect() as hsm:
        info = await hsm.generate_key(KeyAlgorithm.ECDSA_P256)
        digests = [os.urandom(32) for _ in range(64)]
        results: dict[int, bytes] = {}

        async def sign(index: int) -> None:
            results[index] = await hsm.sign_digest(KeyRef(info.key_id), digests[index])

        async with trio.open_nursery() as nursery:
            for index in range(len(digests)):
                nursery.start_soon(sign, index)
            nursery.start_soon(hsm.sign_digests, KeyRef(info.key_id), digests)  # split over both slots
        assert (await hsm.health()).slots_alive == 2
    for index, digest in enumerate(digests):
        _verify(info.public_key, digest, results[index])


async def test_a_library_level_failure_makes_the_unit_exit_for_a_restart(
    unit_factory: StartUnit, own_softhsm: SoftHsm
) -> None:
    unit = await _start_own(unit_factory, own_softhsm, "gone")
    async with unit.connect() as hsm:
        info = await hsm.generate_key(KeyAlgorithm.ECDSA_P256)
        await hsm.sign_digest(KeyRef(info.key_id), os.urandom(32))  # handle cached
        await trio.to_thread.run_sync(shutil.rmtree, own_softhsm.folder / "tokens")
        # The stale handle (ObjectHandleInvalid) makes the slot re-open its session and look again.
        with pytest.raises(KeyNotFoundError):
            await hsm.sign_digest(KeyRef(info.key_id), os.urandom(32))
        # Writing to the vanished token is a GeneralError: beyond repair in this process.
        with pytest.raises((UnitFailingError, UnitLostError)):
            await hsm.generate_key(KeyAlgorithm.ECDSA_P256)
    with trio.fail_after(10):
        status = await unit.process.wait()
    assert status == EXIT_TEMPFAIL, f"exit status {status} (signal {-status if status < 0 else None})"
    assert status != -signal.SIGSEGV

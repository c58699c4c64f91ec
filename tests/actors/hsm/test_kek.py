"""The sealed KEK file and the key blobs wrapped under it (no processes)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from actors.hsm import blobs, kek
from actors.hsm.errors import BlobInvalidError, KekError, KekFormatError, KekUnsealError
from actors.hsm.protocol import KeyAlgorithm
from signing.gost.kdf import kdf_gostr3411_2012_256, pbkdf2_gostr3411_2012_512
from signing.gost.kexp15 import kimp15
from signing.gost.params import ParamSet

ITERATIONS = 1_000
PASSPHRASE = "operator passphrase"


@pytest.fixture(scope="module")
def sealed() -> tuple[kek.Kek, bytes]:
    key = kek.Kek.generate()
    return key, kek.seal(key, PASSPHRASE, iterations=ITERATIONS)


def test_seal_round_trip_and_fingerprint(sealed: tuple[kek.Kek, bytes]) -> None:
    key, content = sealed
    opened = kek.unseal(content, PASSPHRASE)
    assert opened.key == key.key
    assert opened.kek_id == key.kek_id == json.loads(content)["kek_id"]
    assert key.key.hex() not in content.decode()
    assert key.key.hex() not in repr(opened)


def test_sealing_matches_the_documented_construction(sealed: tuple[kek.Kek, bytes]) -> None:
    """Recompute the unseal with the signing layer's primitives, straight from the docstring."""
    key, content = sealed
    doc = json.loads(content)
    base = pbkdf2_gostr3411_2012_512(
        PASSPHRASE.encode(), bytes.fromhex(doc["salt"]), doc["iterations"], length=32
    )
    header = f"klyuch-sealed-kek/1/{doc['iterations']}/{doc['salt']}".encode()
    enc = kdf_gostr3411_2012_256(base, b"klyuch/kek/enc", header)
    mac = kdf_gostr3411_2012_256(base, b"klyuch/kek/mac", header)
    opened = kimp15(
        bytes.fromhex(doc["sealed"]),
        algorithm="kuznyechik",
        enc_key=enc,
        mac_key=mac,
        iv=bytes.fromhex(doc["iv"]),
    )
    assert opened == key.key


def test_wrong_passphrase_fails_typed(sealed: tuple[kek.Kek, bytes]) -> None:
    with pytest.raises(KekUnsealError):
        kek.unseal(sealed[1], PASSPHRASE + "!")
    with pytest.raises(KekError):
        kek.unseal(sealed[1], "")


def _flip_hex(value: str) -> str:
    return ("1" if value[0] == "0" else "0") + value[1:]


@pytest.mark.parametrize(
    ("field", "tamper"),
    [
        ("salt", _flip_hex),
        ("iv", _flip_hex),
        ("sealed", _flip_hex),
        ("kek_id", _flip_hex),
        ("iterations", lambda value: value + 1),
    ],
)
def test_any_tampering_fails_like_a_wrong_passphrase(
    sealed: tuple[kek.Kek, bytes], field: str, tamper: object
) -> None:
    doc = json.loads(sealed[1])
    doc[field] = tamper(doc[field])  # type: ignore[operator]
    with pytest.raises(KekUnsealError):
        kek.unseal(json.dumps(doc).encode(), PASSPHRASE)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"format": "other"}, "not a"),
        ({"version": 2}, "version"),
        ({"cipher": "aes"}, "cipher"),
        ({"iterations": 10}, "iterations"),
        ({"salt": "zz"}, "salt"),
        ({"sealed": "00"}, "sealed"),
    ],
)
def test_malformed_files_fail_with_format_errors(
    sealed: tuple[kek.Kek, bytes], change: dict[str, object], fragment: str
) -> None:
    doc = json.loads(sealed[1]) | change
    with pytest.raises(KekFormatError, match=fragment):
        kek.unseal(json.dumps(doc).encode(), PASSPHRASE)
    with pytest.raises(KekFormatError):
        kek.unseal(b"\xff not json", PASSPHRASE)


def test_create_file_is_private_atomic_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "kek.json"
    made = kek.create_file(path, PASSPHRASE, iterations=ITERATIONS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert kek.load_file(path, PASSPHRASE).key == made.key
    with pytest.raises(FileExistsError):
        kek.create_file(path, PASSPHRASE, iterations=ITERATIONS)
    # The "create when missing" path opens an existing file instead of replacing it.
    assert kek.load_or_create_file(path, PASSPHRASE, iterations=ITERATIONS).key == made.key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kek.json"]  # no temp file left
    with pytest.raises(KekFormatError):
        kek.load_file(tmp_path / "missing.json", PASSPHRASE)


# --- blobs ---------------------------------------------------------------------------------------


def _key(
    algorithm: KeyAlgorithm = KeyAlgorithm.GOST3410_2012_256, paramset: ParamSet | None = ParamSet.TC26_256_A
) -> blobs.UnwrappedKey:
    size = 64 if algorithm is KeyAlgorithm.GOST3410_2012_512 else 32
    return blobs.UnwrappedKey(
        algorithm=algorithm, paramset=paramset, key_id=os.urandom(16).hex(), private=os.urandom(size)
    )


@pytest.mark.parametrize(
    ("algorithm", "paramset"),
    [
        (KeyAlgorithm.GOST3410_2012_256, ParamSet.CRYPTOPRO_XCHB),
        (KeyAlgorithm.GOST3410_2012_512, ParamSet.TC26_512_C),
        (KeyAlgorithm.ECDSA_P256, None),
    ],
)
def test_blob_round_trip(algorithm: KeyAlgorithm, paramset: ParamSet | None) -> None:
    key_encryption_key = kek.Kek.generate()
    key = _key(algorithm, paramset)
    blob = blobs.wrap(key_encryption_key, key)
    assert len(blob) == blobs.HEADER_SIZE + blobs.IV_SIZE + len(key.private) + blobs.TAG_SIZE
    assert key.private not in blob
    opened = blobs.unwrap(key_encryption_key, blob)
    assert (opened.algorithm, opened.paramset, opened.key_id, opened.private) == (
        algorithm,
        paramset,
        key.key_id,
        key.private,
    )
    assert blobs.wrap(key_encryption_key, key) != blob  # a fresh IV every time


@pytest.mark.parametrize(
    ("offset", "what"),
    [(4, "algorithm"), (5, "parameter set"), (6, "key id"), (blobs.HEADER_SIZE, "IV"), (-1, "tag")],
)
def test_blob_header_is_bound_into_the_mac(offset: int, what: str) -> None:
    key_encryption_key = kek.Kek.generate()
    blob = bytearray(blobs.wrap(key_encryption_key, _key()))
    # TC26_256_A (6) ↔ TC26_256_B (7): still a valid 256-bit set, so only the MAC can notice.
    blob[offset] ^= 1
    with pytest.raises(BlobInvalidError):
        blobs.unwrap(key_encryption_key, bytes(blob))


def test_blob_from_another_kek_or_truncated_is_refused() -> None:
    blob = blobs.wrap(kek.Kek.generate(), _key())
    with pytest.raises(BlobInvalidError, match="authenticate"):
        blobs.unwrap(kek.Kek.generate(), blob)
    with pytest.raises(BlobInvalidError):
        blobs.unwrap(kek.Kek.generate(), blob[:-1])
    with pytest.raises(BlobInvalidError, match="not a Klyuch"):
        blobs.unwrap(kek.Kek.generate(), b"XXXX" + blob[4:])

"""Standard vectors: GOST R 34.12-2015 blocks, GOST R 34.13-2015 modes, R 1323565.1.017-2018 CTR-ACPKM."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from signing.gost.cipher import BlockCipher, Mode, decrypt, encrypt, new_cipher, omac
from signing.gost.cipher_stream import CipherStream

VECTORS = Path(__file__).parent / "vectors"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


BLOCKS = _load("cipher_gost_r_34_12_2015.json")["vectors"]
MODES = _load("cipher_gost_r_34_13_2015.json")
ACPKM = _load("cipher_ctr_acpkm_r_1323565_1_017_2018.json")["vectors"]


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["name"] for v in vectors]


def _chunked(stream_factory: Callable[[], CipherStream], data: bytes, step: int) -> bytes:
    with stream_factory() as stream:
        out = b"".join(stream.update(data[i : i + step]) for i in range(0, len(data), step))
        return out + stream.finalize()


@pytest.mark.parametrize("vector", BLOCKS, ids=_ids(BLOCKS))
def test_gost_34_12_block(vector: dict[str, Any]) -> None:
    cipher = new_cipher(vector["algorithm"], bytes.fromhex(vector["key"]))
    plain, ciphertext = bytes.fromhex(vector["plaintext"]), bytes.fromhex(vector["ciphertext"])
    assert cipher.ecb_encrypt(plain) == ciphertext
    assert cipher.ecb_decrypt(ciphertext) == plain


def _mode_case(vector: dict[str, Any]) -> tuple[BlockCipher, Mode, bytes | None, bytes, bytes]:
    algorithm = vector["algorithm"]
    cipher = new_cipher(algorithm, bytes.fromhex(MODES["keys"][algorithm]))
    iv = bytes.fromhex(vector["iv"]) if vector["iv"] else None
    plain = bytes.fromhex(MODES["plaintexts"][algorithm])
    return cipher, Mode(vector["mode"]), iv, plain, bytes.fromhex(vector["ciphertext"])


@pytest.mark.parametrize("vector", MODES["vectors"], ids=_ids(MODES["vectors"]))
def test_gost_34_13_mode_one_shot(vector: dict[str, Any]) -> None:
    cipher, mode, iv, plain, ciphertext = _mode_case(vector)
    assert cipher.encrypt(mode, plain, iv=iv) == ciphertext
    assert cipher.decrypt(mode, ciphertext, iv=iv) == plain
    key = bytes.fromhex(MODES["keys"][vector["algorithm"]])
    assert encrypt(vector["algorithm"], mode, key=key, data=plain, iv=iv) == ciphertext
    assert decrypt(vector["algorithm"], mode, key=key, data=ciphertext, iv=iv) == plain


@pytest.mark.parametrize("step", [1, 5, 8, 16, 23])
@pytest.mark.parametrize("vector", MODES["vectors"], ids=_ids(MODES["vectors"]))
def test_gost_34_13_mode_streaming(vector: dict[str, Any], step: int) -> None:
    cipher, mode, iv, plain, ciphertext = _mode_case(vector)
    assert _chunked(lambda: cipher.encryptor(mode, iv=iv), plain, step) == ciphertext
    assert _chunked(lambda: cipher.decryptor(mode, iv=iv), ciphertext, step) == plain


def test_named_helpers_match_generic_api() -> None:
    vectors = {v["name"]: v for v in MODES["vectors"]}
    cipher, _, iv, plain, ciphertext = _mode_case(vectors["A.1.4 Kuznyechik CBC (z = 2)"])
    assert iv is not None
    assert cipher.cbc_encrypt(iv, plain) == ciphertext
    assert cipher.cbc_decrypt(iv, ciphertext) == plain
    cipher, _, iv, plain, ciphertext = _mode_case(vectors["A.2.2 Magma CTR"])
    assert iv is not None
    assert cipher.ctr(iv, plain) == ciphertext
    assert cipher.ctr(iv, ciphertext) == plain


@pytest.mark.parametrize("vector", MODES["macs"], ids=_ids(MODES["macs"]))
def test_gost_34_13_mac(vector: dict[str, Any]) -> None:
    algorithm = vector["algorithm"]
    key = bytes.fromhex(MODES["keys"][algorithm])
    plain = bytes.fromhex(MODES["plaintexts"][algorithm])
    expected = bytes.fromhex(vector["mac"])
    cipher = new_cipher(algorithm, key)
    assert cipher.mac(plain, size=vector["size"]) == expected
    assert omac(algorithm, key=key, data=plain, size=vector["size"]) == expected
    full = cipher.mac(plain)
    assert len(full) == cipher.block_size
    assert full.startswith(expected)
    with cipher.mac_stream(size=vector["size"]) as stream:
        for i in range(0, len(plain), 3):
            stream.update(plain[i : i + 3])
        assert stream.finalize() == expected


@pytest.mark.parametrize("step", [1, 7, 16, 32, 1000])
@pytest.mark.parametrize("vector", ACPKM, ids=_ids(ACPKM))
def test_r_1323565_1_017_ctr_acpkm(vector: dict[str, Any], step: int) -> None:
    cipher = new_cipher(vector["algorithm"], bytes.fromhex(vector["key"]))
    iv, section = bytes.fromhex(vector["iv"]), vector["section_size"]
    plain, ciphertext = bytes.fromhex(vector["plaintext"]), bytes.fromhex(vector["ciphertext"])
    assert cipher.ctr_acpkm(iv, plain, section_size=section) == ciphertext
    assert cipher.ctr_acpkm(iv, ciphertext, section_size=section) == plain
    stream = lambda: cipher.encryptor(Mode.CTR_ACPKM, iv=iv, section_size=section)  # noqa: E731
    assert _chunked(stream, plain, step) == ciphertext


@pytest.mark.parametrize("vector", ACPKM, ids=_ids(ACPKM))
def test_ctr_acpkm_without_meshing_in_reach_is_plain_ctr(vector: dict[str, Any]) -> None:
    # Within the first section CTR-ACPKM is CTR: a section longer than the message changes nothing.
    cipher = new_cipher(vector["algorithm"], bytes.fromhex(vector["key"]))
    iv, plain = bytes.fromhex(vector["iv"]), bytes.fromhex(vector["plaintext"])
    assert cipher.ctr_acpkm(iv, plain) == cipher.ctr(iv, plain)

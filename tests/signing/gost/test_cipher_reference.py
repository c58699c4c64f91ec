"""The native modes against a plain-Python reference of GOST R 34.13-2015 and R 1323565.1.017-2018.

The reference uses only one-block encryptions (checked by the GOST R 34.12-2015 vectors) and the
textbook definitions of each mode, so it checks the provider's mode code and our adaptations
(CBC with a z-block IV, Magma ECB on CBC) independently. It is slow and lives in the tests only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.gost.cipher import BlockCipher, Kuznyechik, Magma

CLASSES: list[type[BlockCipher]] = [Kuznyechik, Magma]
ACPKM_D = bytes(range(0x80, 0xA0))  # D_1 ‖ … ‖ D_J of R 1323565.1.017-2018 for a 256-bit key


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=False))


def ref_ecb(cipher: BlockCipher, data: bytes, *, decrypt: bool = False) -> bytes:
    n = cipher.block_size
    one = cipher.ecb_decrypt if decrypt else cipher.ecb_encrypt
    return b"".join(one(data[i : i + n]) for i in range(0, len(data), n))


def ref_cbc(cipher: BlockCipher, iv: bytes, data: bytes, *, decrypt: bool = False) -> bytes:
    n, register, out = cipher.block_size, iv, bytearray()
    for i in range(0, len(data), n):
        block = data[i : i + n]
        if decrypt:
            out += _xor(cipher.ecb_decrypt(block), register[:n])
            register = register[n:] + block
        else:
            sealed = cipher.ecb_encrypt(_xor(block, register[:n]))
            out += sealed
            register = register[n:] + sealed
    return bytes(out)


def ref_ctr_acpkm(cls: type[BlockCipher], key: bytes, iv: bytes, data: bytes, section: int | None) -> bytes:
    """CTR (section None) or CTR-ACPKM: the key is re-derived before every ``section`` bytes."""
    n = cls.block_size
    cipher = cls(key)
    counter = int.from_bytes(iv + bytes(n // 2), "big")
    out = bytearray()
    for offset in range(0, len(data), n):
        if section and offset and offset % section == 0:
            cipher = cls(cipher.ecb_encrypt(ACPKM_D))  # ACPKM: K' = E_K(D_1) ‖ … ‖ E_K(D_J)
        gamma = cipher.ecb_encrypt(counter.to_bytes(n, "big"))
        out += _xor(data[offset : offset + n], gamma)
        counter = (counter + 1) % (1 << (8 * n))
    return bytes(out)


def ref_omac_subkeys(cipher: BlockCipher) -> tuple[bytes, bytes]:
    n = cipher.block_size
    poly, mask = (0x87 if n == 16 else 0x1B), (1 << (8 * n)) - 1

    def double(block: bytes) -> bytes:
        value = int.from_bytes(block, "big")
        doubled = (value << 1) & mask
        return (doubled ^ poly if value >> (8 * n - 1) else doubled).to_bytes(n, "big")

    k1 = double(cipher.ecb_encrypt(bytes(n)))
    return k1, double(k1)


def ref_omac(cipher: BlockCipher, data: bytes) -> bytes:
    n = cipher.block_size
    k1, k2 = ref_omac_subkeys(cipher)
    blocks = [data[i : i + n] for i in range(0, len(data), n)] or [b""]
    last = blocks[-1]
    if len(last) == n:
        blocks[-1] = _xor(last, k1)
    else:
        blocks[-1] = _xor(last + b"\x80" + bytes(n - len(last) - 1), k2)
    state = bytes(n)
    for block in blocks:
        state = cipher.ecb_encrypt(_xor(state, block))
    return state


def test_reference_omac_subkeys_match_the_standard() -> None:
    vectors = json.loads((Path(__file__).parent / "vectors" / "cipher_gost_r_34_13_2015.json").read_text())
    for vector in vectors["macs"]:
        algorithm = vector["algorithm"]
        cipher = Kuznyechik if algorithm == "kuznyechik" else Magma
        keyed = cipher(bytes.fromhex(vectors["keys"][algorithm]))
        assert ref_omac_subkeys(keyed) == (bytes.fromhex(vector["k1"]), bytes.fromhex(vector["k2"]))


keys = st.binary(min_size=32, max_size=32)


def _whole_blocks(cls: type[BlockCipher], most: int = 12) -> st.SearchStrategy[bytes]:
    return st.integers(0, most).flatmap(
        lambda k: st.binary(min_size=k * cls.block_size, max_size=k * cls.block_size)
    )


@pytest.mark.parametrize("cls", CLASSES)
@settings(max_examples=25, deadline=None)
@given(key=keys, data=st.data())
def test_ecb_matches_reference(cls: type[BlockCipher], key: bytes, data: st.DataObject) -> None:
    cipher, plain = cls(key), data.draw(_whole_blocks(cls))
    sealed = cipher.ecb_encrypt(plain)
    assert sealed == ref_ecb(cipher, plain)
    assert cipher.ecb_decrypt(sealed) == ref_ecb(cipher, sealed, decrypt=True) == plain


@pytest.mark.parametrize("cls", CLASSES)
@settings(max_examples=25, deadline=None)
@given(key=keys, z=st.integers(1, 4), data=st.data())
def test_cbc_with_z_block_iv_matches_reference(
    cls: type[BlockCipher], key: bytes, z: int, data: st.DataObject
) -> None:
    cipher, plain = cls(key), data.draw(_whole_blocks(cls))
    iv = data.draw(st.binary(min_size=z * cls.block_size, max_size=z * cls.block_size))
    sealed = cipher.cbc_encrypt(iv, plain)
    assert sealed == ref_cbc(cipher, iv, plain)
    assert cipher.cbc_decrypt(iv, sealed) == ref_cbc(cipher, iv, sealed, decrypt=True) == plain


@pytest.mark.parametrize("cls", CLASSES)
@settings(max_examples=25, deadline=None)
@given(key=keys, data=st.data())
def test_ctr_matches_reference(cls: type[BlockCipher], key: bytes, data: st.DataObject) -> None:
    iv = data.draw(st.binary(min_size=cls.ctr_iv_size, max_size=cls.ctr_iv_size))
    plain = data.draw(st.binary(max_size=200))
    assert cls(key).ctr(iv, plain) == ref_ctr_acpkm(cls, key, iv, plain, None)


@pytest.mark.parametrize("cls", CLASSES)
@settings(max_examples=20, deadline=None)
@given(key=keys, sections=st.integers(1, 4), data=st.data())
def test_ctr_acpkm_matches_reference(
    cls: type[BlockCipher], key: bytes, sections: int, data: st.DataObject
) -> None:
    section = sections * cls.block_size
    iv = data.draw(st.binary(min_size=cls.ctr_iv_size, max_size=cls.ctr_iv_size))
    plain = data.draw(st.binary(max_size=6 * section + 5))
    got = cls(key).ctr_acpkm(iv, plain, section_size=section)
    assert got == ref_ctr_acpkm(cls, key, iv, plain, section)


@pytest.mark.parametrize("cls", CLASSES)
@settings(max_examples=25, deadline=None)
@given(key=keys, message=st.binary(max_size=100))
def test_omac_matches_reference(cls: type[BlockCipher], key: bytes, message: bytes) -> None:
    cipher = cls(key)
    assert cipher.mac(message) == ref_omac(cipher, message)

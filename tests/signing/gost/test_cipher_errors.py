"""Wrong lengths, options and states raise typed errors from ``signing.errors``, never a crash."""

from __future__ import annotations

import pytest

from signing.errors import (
    CryptoError,
    InvalidInputError,
    MalformedDataError,
    SigningError,
    UnsupportedAlgorithmError,
)
from signing.gost.cipher import BlockCipher, Kuznyechik, Magma, Mode, encrypt, new_cipher, omac
from signing.gost.cipher_native import EvpCipher, EvpCipherTemplate
from signing.gost.cipher_padding import pad2, unpad2
from signing.gost.cipher_stream import NativeStream

KEY = bytes(range(32))
CLASSES: list[type[BlockCipher]] = [Kuznyechik, Magma]


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
@pytest.mark.parametrize("cls", CLASSES)
def test_key_must_be_32_bytes(cls: type[BlockCipher], size: int) -> None:
    with pytest.raises(InvalidInputError, match="key must be 32 bytes") as caught:
        cls(bytes(size))
    assert caught.value.code == "invalid_input"


@pytest.mark.parametrize("cls", CLASSES)
def test_ctr_iv_must_be_half_a_block(cls: type[BlockCipher]) -> None:
    cipher = cls(KEY)
    for size in {0, cls.ctr_iv_size - 1, cls.ctr_iv_size + 1, cls.block_size}:
        for mode in (Mode.CTR, Mode.CTR_ACPKM):
            with pytest.raises(InvalidInputError, match="CTR IV must be"):
                cipher.encrypt(mode, b"data", iv=bytes(size))
    with pytest.raises(InvalidInputError, match="got none"):
        cipher.ctr(None, b"data")  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", CLASSES)
def test_cbc_iv_must_be_whole_blocks(cls: type[BlockCipher]) -> None:
    cipher, data = cls(KEY), bytes(cls.block_size)
    for size in (0, 1, cls.block_size - 1, cls.block_size + 1, 65 * cls.block_size):
        with pytest.raises(InvalidInputError, match="CBC IV must be"):
            cipher.cbc_encrypt(bytes(size), data)
    with pytest.raises(InvalidInputError, match="got none"):
        cipher.encrypt(Mode.CBC, data)


@pytest.mark.parametrize("cls", CLASSES)
def test_ecb_rejects_an_iv(cls: type[BlockCipher]) -> None:
    with pytest.raises(InvalidInputError, match="ECB takes no IV"):
        cls(KEY).encrypt(Mode.ECB, bytes(cls.block_size), iv=bytes(cls.block_size))


@pytest.mark.parametrize("mode", [Mode.ECB, Mode.CBC])
@pytest.mark.parametrize("cls", CLASSES)
def test_block_modes_reject_partial_blocks(cls: type[BlockCipher], mode: Mode) -> None:
    cipher = cls(KEY)
    iv = bytes(cls.block_size) if mode is Mode.CBC else None
    for size in (1, cls.block_size - 1, cls.block_size + 1):
        with pytest.raises(InvalidInputError, match="multiple of"):
            cipher.encrypt(mode, bytes(size), iv=iv)
        with pytest.raises(InvalidInputError, match="multiple of"):
            cipher.decrypt(mode, bytes(size), iv=iv)
        stream = cipher.encryptor(mode, iv=iv)
        stream.update(bytes(size))
        with pytest.raises(InvalidInputError, match="multiple of"):
            stream.finalize()


def test_laned_cbc_stream_rejects_a_partial_block() -> None:
    stream = Magma(KEY).decryptor(Mode.CBC, iv=bytes(24))
    assert len(stream.update(bytes(12))) == 8  # one whole block out, four bytes held back
    with pytest.raises(InvalidInputError, match="multiple of"):
        stream.finalize()


@pytest.mark.parametrize("cls", CLASSES)
def test_section_size_rules(cls: type[BlockCipher]) -> None:
    cipher, iv = cls(KEY), bytes(cls.ctr_iv_size)
    for bad in (0, -cls.block_size, cls.block_size + 1, (1 << 30) + cls.block_size):
        with pytest.raises(InvalidInputError, match="section size"):
            cipher.ctr_acpkm(iv, b"x", section_size=bad)
    with pytest.raises(InvalidInputError, match="CTR-ACPKM only"):
        cipher.encrypt(Mode.CTR, b"x", iv=iv, section_size=cls.block_size)


@pytest.mark.parametrize("cls", CLASSES)
def test_mac_size_rules(cls: type[BlockCipher]) -> None:
    for bad in (0, -1, cls.block_size + 1):
        with pytest.raises(InvalidInputError, match="MAC size"):
            cls(KEY).mac(b"x", size=bad)


def test_unknown_names_are_unsupported() -> None:
    with pytest.raises(UnsupportedAlgorithmError, match="unknown algorithm"):
        new_cipher("aes", KEY)
    with pytest.raises(UnsupportedAlgorithmError, match="unknown mode"):
        Kuznyechik(KEY).encrypt("ofb", b"x", iv=bytes(16))
    with pytest.raises(UnsupportedAlgorithmError):
        encrypt("grasshopper", "ctr", key=KEY, data=b"", iv=bytes(8))
    with pytest.raises(InvalidInputError):
        omac("magma", key=KEY[:16], data=b"")


def test_closed_streams_refuse_work() -> None:
    stream = Kuznyechik(KEY).encryptor(Mode.CTR, iv=bytes(8))
    assert stream.finalize() == b""
    with pytest.raises(CryptoError, match="closed"):
        stream.update(b"more")
    stream.close()  # idempotent
    with Magma(KEY).mac_stream() as mac:
        pass
    with pytest.raises(CryptoError, match="closed"):
        mac.update(b"late")


def test_counter_streams_refuse_to_pass_their_limit() -> None:
    # The real limit (2**32 Magma blocks = 32 GiB) is too big to feed; the mechanism is the same.
    template = EvpCipherTemplate("magma-ctr", key=KEY, encrypt=True)
    stream = NativeStream(EvpCipher(template, iv=bytes(4)), block_size=1, max_bytes=64)
    assert len(stream.update(bytes(64))) == 64
    with pytest.raises(InvalidInputError, match="wrap the counter"):
        stream.update(b"x")


def test_unpad2_rejects_bad_padding() -> None:
    for bad in (b"", bytes(15), bytes(16), b"\x80" + bytes(15) + bytes(16) + b"\x01" + bytes(15)):
        with pytest.raises(MalformedDataError):
            unpad2(bad, 16)
    with pytest.raises(MalformedDataError):
        unpad2(b"abc\x80\x00\x00\x00\x01", 8)
    with pytest.raises(InvalidInputError, match="block size"):
        pad2(b"", 12)


def test_every_error_is_a_signing_error() -> None:
    for error in (InvalidInputError, MalformedDataError, UnsupportedAlgorithmError, CryptoError):
        assert issubclass(error, SigningError)

"""Round trips, streaming against one-shot, padding procedure 2 and resource handling."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.gost.cipher import BlockCipher, Kuznyechik, Magma, Mode
from signing.gost.cipher_padding import pad2, unpad2

CLASSES: list[type[BlockCipher]] = [Kuznyechik, Magma]
keys = st.binary(min_size=32, max_size=32)


def _iv(cls: type[BlockCipher], mode: Mode, draw: st.DataObject) -> bytes | None:
    if mode is Mode.ECB:
        return None
    if mode is Mode.CBC:
        z = draw.draw(st.integers(1, 3))
        return draw.draw(st.binary(min_size=z * cls.block_size, max_size=z * cls.block_size))
    return draw.draw(st.binary(min_size=cls.ctr_iv_size, max_size=cls.ctr_iv_size))


def _message(cls: type[BlockCipher], mode: Mode, draw: st.DataObject) -> bytes:
    if mode in (Mode.ECB, Mode.CBC):
        blocks = draw.draw(st.integers(0, 10))
        return draw.draw(st.binary(min_size=blocks * cls.block_size, max_size=blocks * cls.block_size))
    return draw.draw(st.binary(max_size=300))


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("cls", CLASSES)
@settings(max_examples=20, deadline=None)
@given(key=keys, data=st.data())
def test_round_trip(cls: type[BlockCipher], mode: Mode, key: bytes, data: st.DataObject) -> None:
    cipher, iv, plain = cls(key), _iv(cls, mode, data), _message(cls, mode, data)
    section = 2 * cls.block_size if mode is Mode.CTR_ACPKM else None
    sealed = cipher.encrypt(mode, plain, iv=iv, section_size=section)
    assert len(sealed) == len(plain)
    assert cipher.decrypt(mode, sealed, iv=iv, section_size=section) == plain


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("cls", CLASSES)
@settings(max_examples=20, deadline=None)
@given(key=keys, data=st.data())
def test_streaming_equals_one_shot(
    cls: type[BlockCipher], mode: Mode, key: bytes, data: st.DataObject
) -> None:
    cipher, iv, plain = cls(key), _iv(cls, mode, data), _message(cls, mode, data)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(plain)), max_size=6)))
    pieces = [plain[a:b] for a, b in zip([0, *cuts], [*cuts, len(plain)], strict=True)]
    with cipher.encryptor(mode, iv=iv) as stream:
        streamed = b"".join(stream.update(piece) for piece in pieces) + stream.finalize()
    assert streamed == cipher.encrypt(mode, plain, iv=iv)
    with cipher.decryptor(mode, iv=iv) as stream:
        opened = b"".join(
            stream.update(bytearray(p))
            for p in [streamed[: len(streamed) // 2], streamed[len(streamed) // 2 :]]
        )
        assert opened + stream.finalize() == plain


@pytest.mark.parametrize("cls", CLASSES)
@settings(max_examples=30, deadline=None)
@given(key=keys, message=st.binary(max_size=200), cut=st.integers(0, 200), size=st.integers(1, 16))
def test_mac_streaming_and_truncation(
    cls: type[BlockCipher], key: bytes, message: bytes, cut: int, size: int
) -> None:
    cipher = cls(key)
    size = min(size, cls.block_size)
    with cipher.mac_stream(size=size) as stream:
        stream.update(message[:cut])
        stream.update(memoryview(message)[cut:])
        assert stream.finalize() == cipher.mac(message)[:size]


@pytest.mark.parametrize("block_size", [8, 16])
@given(message=st.binary(max_size=70))
def test_pad2_round_trip(block_size: int, message: bytes) -> None:
    padded = pad2(message, block_size)
    assert len(padded) % block_size == 0
    assert 1 <= len(padded) - len(message) <= block_size
    assert padded[len(message)] == 0x80
    assert unpad2(padded, block_size) == message


@pytest.mark.parametrize("cls", CLASSES)
@settings(max_examples=20, deadline=None)
@given(key=keys, message=st.binary(max_size=100), data=st.data())
def test_cbc_with_padding_round_trip(
    cls: type[BlockCipher], key: bytes, message: bytes, data: st.DataObject
) -> None:
    cipher, iv = cls(key), _iv(cls, Mode.CBC, data)
    assert iv is not None
    sealed = cipher.cbc_encrypt(iv, pad2(message, cls.block_size))
    assert unpad2(cipher.cbc_decrypt(iv, sealed), cls.block_size) == message


def test_accepts_bytearray_and_memoryview_inputs() -> None:
    key = bytes(range(32))
    cipher = Kuznyechik(bytearray(key))
    plain = bytes(range(64))
    expected = cipher.cbc_encrypt(bytes(16), plain)
    assert cipher.cbc_encrypt(bytearray(16), bytearray(plain)) == expected
    assert cipher.cbc_encrypt(memoryview(bytes(16)), memoryview(plain)) == expected
    assert cipher.cbc_encrypt(bytes(16), memoryview(bytearray(plain))) == expected


def test_large_message_crosses_no_chunk_seams() -> None:
    # 3 MiB in one call and in odd-sized pieces give the same CTR and CBC output.
    cipher, data = Magma(bytes(range(32))), bytes(range(256)) * (3 * 4096)
    with cipher.encryptor(Mode.CTR, iv=b"\x01\x02\x03\x04") as stream:
        pieces = b"".join(stream.update(data[i : i + 100_003]) for i in range(0, len(data), 100_003))
    assert pieces == cipher.ctr(b"\x01\x02\x03\x04", data)
    assert cipher.cbc_decrypt(bytes(8), cipher.cbc_encrypt(bytes(8), data)) == data


def test_cipher_objects_are_shareable_between_threads() -> None:
    cipher, data = Kuznyechik(bytes(range(32))), bytes(range(256)) * 256
    expected = cipher.ctr(bytes(8), data)
    results: list[bytes] = []

    def work() -> None:
        results.extend(cipher.ctr(bytes(8), data) for _ in range(20))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 80


def test_repr_hides_the_key() -> None:
    key = bytes.fromhex("8899aabbccddeeff0011223344556677fedcba98765432100123456789abcdef")
    assert "8899" not in repr(Kuznyechik(key))
    assert repr(Magma(key)) == "Magma(key=<hidden>)"


@pytest.mark.parametrize("cls", CLASSES)
def test_streams_from_one_cipher_are_independent(cls: type[BlockCipher]) -> None:
    # Every operation runs on its own copy of the keyed template: interleaved streams, meshed
    # CTR-ACPKM keys and repeated calls never leak state into one another.
    cipher, data = cls(bytes(range(32))), bytes(range(256)) * 40  # several default ACPKM sections
    iv_a, iv_b = b"A" * cls.ctr_iv_size, b"B" * cls.ctr_iv_size
    expected_a, expected_b = cipher.ctr_acpkm(iv_a, data), cipher.ctr_acpkm(iv_b, data)
    with cipher.encryptor(Mode.CTR_ACPKM, iv=iv_a) as a, cipher.encryptor(Mode.CTR_ACPKM, iv=iv_b) as b:
        out_a, out_b = [], []
        for i in range(0, len(data), 1000):
            out_a.append(a.update(data[i : i + 1000]))
            out_b.append(b.update(data[i : i + 1000]))
        assert b"".join(out_a) + a.finalize() == expected_a
        assert b"".join(out_b) + b.finalize() == expected_b
    assert cipher.ctr_acpkm(iv_a, data) == expected_a
    assert cipher.decrypt(Mode.CTR_ACPKM, expected_b, iv=iv_b) == data

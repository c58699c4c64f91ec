"""Incremental (init / update / finalize) encryption, decryption and OMAC for GOST block ciphers.

Streams are built by :class:`signing.gost.cipher.BlockCipher` (``encryptor``, ``decryptor``,
``mac_stream``), which validates keys, IVs and options first. Three implementations of
:class:`CipherStream`:

* :class:`NativeStream` — one gostprov ``EVP_CIPHER_CTX`` (every mode the provider has);
* :class:`LanedCbcStream` — CBC with an IV of z > 1 blocks (GOST R 34.13-2015 §5.4 allows
  m = z·n): block i is chained with block i − z, i.e. z interleaved CBC chains, one context each;
* :class:`MagmaEcbStream` — gostprov has no ``magma-ecb``: ECB runs on ``magma-cbc`` with a zero IV
  (encryption feeds P_i ⊕ C_{i−1} one block per call, decryption un-chains in bulk).

A stream is used by one thread at a time and frees its native contexts on ``finalize``/``close``
(or when used as a context manager).
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self

from signing.errors import InvalidInputError
from signing.gost.cipher_native import BytesLike, EvpCipher, EvpMac


def xor_bytes(left: bytes, right: bytes) -> bytes:
    """XOR two equal-length byte strings (one big-int operation: fast for bulk data)."""
    size = len(left)
    return (int.from_bytes(left, "big") ^ int.from_bytes(right, "big")).to_bytes(size, "big")


class CipherStream(abc.ABC):
    """Incremental encryption or decryption of one message with a fixed key and IV."""

    __slots__ = ()

    @abc.abstractmethod
    def update(self, data: BytesLike) -> bytes:
        """Process ``data`` and return the output available so far."""

    @abc.abstractmethod
    def finalize(self) -> bytes:
        """Return the remaining output and free the stream; raise if a block mode has a partial block."""

    @abc.abstractmethod
    def close(self) -> None:
        """Free native resources without finishing; idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _partial_block_error(block_size: int) -> InvalidInputError:
    return InvalidInputError(
        f"data length must be a multiple of the {block_size}-byte block (pad with pad2 first)"
    )


class NativeStream(CipherStream):
    """A stream on one gostprov cipher context.

    ``block_size`` is 1 for counter modes (any length) and the cipher block for ECB/CBC;
    ``max_bytes`` bounds the message (the CTR counter must not wrap).
    """

    __slots__ = ("_block_size", "_evp", "_max_bytes", "_total")

    def __init__(self, evp: EvpCipher, *, block_size: int, max_bytes: int | None = None) -> None:
        self._evp = evp
        self._block_size = block_size
        self._max_bytes = max_bytes
        self._total = 0

    def update(self, data: BytesLike) -> bytes:
        self._total += len(data)
        if self._max_bytes is not None and self._total > self._max_bytes:
            self.close()
            raise InvalidInputError(f"message longer than {self._max_bytes} bytes would wrap the counter")
        return self._evp.update(data)

    def finalize(self) -> bytes:
        try:
            if self._total % self._block_size:
                raise _partial_block_error(self._block_size)
            return self._evp.finish()
        finally:
            self.close()

    def close(self) -> None:
        self._evp.close()


class _BlockBuffer:
    """Holds back a partial block between updates and hands out whole blocks."""

    __slots__ = ("_block_size", "_pending")

    def __init__(self, block_size: int) -> None:
        self._block_size = block_size
        self._pending = b""

    def whole_blocks(self, data: BytesLike) -> bytes:
        joined = self._pending + bytes(data)
        cut = len(joined) - len(joined) % self._block_size
        self._pending = joined[cut:]
        return joined[:cut]

    def check_empty(self) -> None:
        if self._pending:
            raise _partial_block_error(self._block_size)


class LanedCbcStream(CipherStream):
    """CBC with an IV of ``len(lanes)`` blocks: block i goes through chain ``i mod z``."""

    __slots__ = ("_block_size", "_buffer", "_lanes", "_next_lane")

    def __init__(self, lanes: list[EvpCipher], *, block_size: int) -> None:
        self._lanes = lanes
        self._block_size = block_size
        self._buffer = _BlockBuffer(block_size)
        self._next_lane = 0

    def update(self, data: BytesLike) -> bytes:
        blocks = self._buffer.whole_blocks(data)
        size, count, z = self._block_size, len(blocks) // self._block_size, len(self._lanes)
        if not count:
            return b""
        # Gather each lane's blocks, run each lane in one native call, then interleave back.
        first = self._next_lane
        outputs: list[bytes] = []
        for lane in range(z):
            start = (lane - first) % z
            mine = b"".join(blocks[i * size : (i + 1) * size] for i in range(start, count, z))
            outputs.append(self._lanes[lane].update(mine) if mine else b"")
        out = bytearray(len(blocks))
        for lane in range(z):
            start = (lane - first) % z
            for k, i in enumerate(range(start, count, z)):
                out[i * size : (i + 1) * size] = outputs[lane][k * size : (k + 1) * size]
        self._next_lane = (first + count) % z
        return bytes(out)

    def finalize(self) -> bytes:
        try:
            self._buffer.check_empty()
            return b"".join(lane.finish() for lane in self._lanes)  # whole blocks only: empty
        finally:
            self.close()

    def close(self) -> None:
        for lane in self._lanes:
            lane.close()


class MagmaEcbStream(CipherStream):
    """Magma ECB on a ``magma-cbc`` context with a zero IV (see the module docstring).

    Encryption costs one native call per 8-byte block (a few MB/s); decryption is bulk.
    """

    __slots__ = ("_buffer", "_encrypt", "_evp", "_previous")

    def __init__(self, evp: EvpCipher, *, encrypt: bool) -> None:
        self._evp = evp
        self._encrypt = encrypt
        self._buffer = _BlockBuffer(8)
        self._previous = bytes(8)  # C_{i-1}; the zero IV plays C_0

    def update(self, data: BytesLike) -> bytes:
        blocks = self._buffer.whole_blocks(data)
        if not blocks:
            return b""
        if self._encrypt:
            return self._encrypt_blocks(blocks)
        # CBC decryption gives D(C_i) ⊕ C_{i-1}; XOR C_{i-1} back in to get ECB's D(C_i).
        chained = self._evp.update(blocks)
        plain = xor_bytes(chained, self._previous + blocks[:-8])
        self._previous = blocks[-8:]
        return plain

    def _encrypt_blocks(self, blocks: bytes) -> bytes:
        out: list[bytes] = []
        previous = self._previous
        for i in range(0, len(blocks), 8):
            # CBC computes E(X ⊕ C_{i-1}); feeding X = P_i ⊕ C_{i-1} yields E(P_i).
            previous = self._evp.update(xor_bytes(blocks[i : i + 8], previous))
            out.append(previous)
        self._previous = previous
        return b"".join(out)

    def finalize(self) -> bytes:
        try:
            self._buffer.check_empty()
            return self._evp.finish()
        finally:
            self.close()

    def close(self) -> None:
        self._evp.close()


class MacStream:
    """Incremental OMAC (GOST R 34.13-2015 §5.6) returning the first ``size`` bytes of the tag."""

    __slots__ = ("_mac", "_size")

    def __init__(self, mac: EvpMac, *, size: int) -> None:
        self._mac = mac
        self._size = size

    def update(self, data: BytesLike) -> None:
        """Absorb ``data``."""
        self._mac.update(data)

    def finalize(self) -> bytes:
        """Return the (truncated) tag and free the stream."""
        try:
            return self._mac.finish()[: self._size]
        finally:
            self.close()

    def close(self) -> None:
        """Free the native context; idempotent."""
        self._mac.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

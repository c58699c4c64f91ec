"""GOST R 34.12-2015 block ciphers — Kuznyechik (128-bit block) and Magma (64-bit block) — in the
modes of GOST R 34.13-2015 and R 1323565.1.017-2018, running natively in OpenSSL's ``gostprov``.

::

    k = Kuznyechik(key32)                       # or Magma(key32), or new_cipher("magma", key32)
    k.ecb_encrypt(data)                         # len(data) % block_size == 0, no padding
    k.cbc_encrypt(iv, data)                     # iv: z·block_size bytes (GOST R 34.13 m = z·n)
    k.ctr(iv, data)                             # iv: 8 bytes Kuznyechik, 4 bytes Magma; any length
    k.ctr_acpkm(iv, data, section_size=4096)    # R 1323565.1.017-2018 key meshing every N bytes
    k.mac(data, size=8)                         # OMAC (GOST R 34.13 §5.6), first ``size`` bytes
    with k.encryptor(Mode.CBC, iv=iv) as s:     # streaming: update() … finalize()
        out = s.update(part1) + s.update(part2) + s.finalize()

ECB and CBC never pad: pad with :func:`signing.gost.cipher_padding.pad2` first. Wrong key, IV,
data or section lengths raise :class:`signing.errors.InvalidInputError` before any native call
(OpenSSL reads exactly the IV length it expects from the pointer, so lengths are checked here).
A cipher object holds its key (never shown by ``repr``) and schedules it once per mode and direction
into a native template that each operation copies (Kuznyechik's key schedule costs ~40–90 µs, a copy
~2 µs): keep one object per key. Cipher objects are safe to share between threads; streams are not.
Magma ECB *encryption* is slow (gostprov has no ``magma-ecb``; see :mod:`signing.gost.cipher_stream`);
every other mode runs at the provider's bulk speed.
"""

from __future__ import annotations

import enum
import threading
from typing import ClassVar, Final, TypeVar

from signing.errors import InvalidInputError, UnsupportedAlgorithmError
from signing.gost.cipher_native import BytesLike, EvpCipher, EvpCipherTemplate, EvpMac, EvpMacTemplate
from signing.gost.cipher_stream import (
    CipherStream,
    LanedCbcStream,
    MacStream,
    MagmaEcbStream,
    NativeStream,
)

KEY_SIZE: Final = 32
"""Both ciphers take a 256-bit key."""

MAX_CBC_IV_BLOCKS: Final = 64
"""Upper bound on z for a CBC IV of z blocks: each block costs one native context."""

MAX_SECTION_SIZE: Final = 1 << 30
"""The provider takes the CTR-ACPKM section size as a C ``int``."""


class Algorithm(enum.StrEnum):
    """The GOST R 34.12-2015 block ciphers."""

    KUZNYECHIK = "kuznyechik"
    MAGMA = "magma"


class Mode(enum.StrEnum):
    """Confidentiality modes (GOST R 34.13-2015; CTR-ACPKM from R 1323565.1.017-2018)."""

    ECB = "ecb"
    CBC = "cbc"
    CTR = "ctr"
    CTR_ACPKM = "ctr-acpkm"


_E = TypeVar("_E", bound=enum.StrEnum)


def _enum(kind: type[_E], value: _E | str) -> _E:
    try:
        return kind(value)
    except ValueError:
        raise UnsupportedAlgorithmError(f"unknown {kind.__name__.lower()} {value!r}") from None


class BlockCipher:
    """A GOST R 34.12-2015 block cipher under one 256-bit key; the modes are its methods."""

    algorithm: ClassVar[Algorithm]
    block_size: ClassVar[int]
    """n / 8: 16 for Kuznyechik, 8 for Magma."""
    ctr_iv_size: ClassVar[int]
    """CTR and CTR-ACPKM IV length: half a block (GOST R 34.13-2015 §5.2)."""
    default_section_size: ClassVar[int]
    """CTR-ACPKM section N in bytes used when none is given: gost-engine's default, so that
    ``openssl enc -<algorithm>-ctr-acpkm`` interoperates."""

    __slots__ = ("_key", "_lock", "_mac_template", "_templates")

    def __init__(self, key: BytesLike) -> None:
        if len(key) != KEY_SIZE:
            raise InvalidInputError(f"{self.algorithm} key must be {KEY_SIZE} bytes, not {len(key)}")
        self._key = bytes(key)
        # Keyed native templates, made on first use of each (mode, direction) and then only copied.
        self._templates: dict[tuple[Mode, bool], EvpCipherTemplate] = {}
        self._mac_template: EvpMacTemplate | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key=<hidden>)"

    # -- streams ---------------------------------------------------------------------------------

    def encryptor(
        self, mode: Mode | str, *, iv: BytesLike | None = None, section_size: int | None = None
    ) -> CipherStream:
        """Start an incremental encryption in ``mode`` (arguments as for :meth:`encrypt`)."""
        return self._stream(_enum(Mode, mode), iv, section_size, encrypt=True)

    def decryptor(
        self, mode: Mode | str, *, iv: BytesLike | None = None, section_size: int | None = None
    ) -> CipherStream:
        """Start an incremental decryption in ``mode`` (arguments as for :meth:`decrypt`)."""
        return self._stream(_enum(Mode, mode), iv, section_size, encrypt=False)

    def mac_stream(self, *, size: int | None = None) -> MacStream:
        """Start an incremental OMAC whose tag is the first ``size`` bytes (default: a whole block)."""
        size = self._mac_size(size)
        template = self._mac_template
        if template is None:
            with self._lock:
                if self._mac_template is None:
                    self._mac_template = EvpMacTemplate(f"{self.algorithm}-mac", key=self._key)
                template = self._mac_template
        return MacStream(EvpMac(template), size=size)

    # -- one-shot --------------------------------------------------------------------------------

    def encrypt(
        self,
        mode: Mode | str,
        data: BytesLike,
        *,
        iv: BytesLike | None = None,
        section_size: int | None = None,
    ) -> bytes:
        """Encrypt ``data`` in ``mode``.

        ``iv``: none for ECB; z·``block_size`` bytes for CBC; ``ctr_iv_size`` bytes for CTR and
        CTR-ACPKM. ``section_size`` (CTR-ACPKM only): a positive multiple of ``block_size``.
        """
        return self._one_shot(_enum(Mode, mode), data, iv, section_size, encrypt=True)

    def decrypt(
        self,
        mode: Mode | str,
        data: BytesLike,
        *,
        iv: BytesLike | None = None,
        section_size: int | None = None,
    ) -> bytes:
        """Decrypt ``data`` in ``mode`` (arguments as for :meth:`encrypt`)."""
        return self._one_shot(_enum(Mode, mode), data, iv, section_size, encrypt=False)

    def ecb_encrypt(self, data: BytesLike) -> bytes:
        """ECB encryption of whole blocks (GOST R 34.13-2015 §5.1)."""
        return self.encrypt(Mode.ECB, data)

    def ecb_decrypt(self, data: BytesLike) -> bytes:
        """ECB decryption of whole blocks."""
        return self.decrypt(Mode.ECB, data)

    def cbc_encrypt(self, iv: BytesLike, data: BytesLike) -> bytes:
        """CBC encryption of whole blocks (GOST R 34.13-2015 §5.4) with an IV of z blocks."""
        return self.encrypt(Mode.CBC, data, iv=iv)

    def cbc_decrypt(self, iv: BytesLike, data: BytesLike) -> bytes:
        """CBC decryption of whole blocks."""
        return self.decrypt(Mode.CBC, data, iv=iv)

    def ctr(self, iv: BytesLike, data: BytesLike) -> bytes:
        """CTR (GOST R 34.13-2015 §5.2) of data of any length; encryption and decryption are one."""
        return self.encrypt(Mode.CTR, data, iv=iv)

    def ctr_acpkm(self, iv: BytesLike, data: BytesLike, *, section_size: int | None = None) -> bytes:
        """CTR-ACPKM (R 1323565.1.017-2018): CTR whose key is re-derived every ``section_size`` bytes."""
        return self.encrypt(Mode.CTR_ACPKM, data, iv=iv, section_size=section_size)

    def mac(self, data: BytesLike, *, size: int | None = None) -> bytes:
        """OMAC (GOST R 34.13-2015 §5.6) of ``data``: the first ``size`` bytes (default: a block)."""
        with self.mac_stream(size=size) as stream:
            stream.update(data)
            return stream.finalize()

    # -- internals -------------------------------------------------------------------------------

    def _one_shot(
        self, mode: Mode, data: BytesLike, iv: BytesLike | None, section_size: int | None, *, encrypt: bool
    ) -> bytes:
        if mode in (Mode.ECB, Mode.CBC) and len(data) % self.block_size:
            raise InvalidInputError(
                f"{mode.upper()} data must be a multiple of {self.block_size} bytes, not {len(data)} "
                "(pad with pad2 first)"
            )
        with self._stream(mode, iv, section_size, encrypt=encrypt) as stream:
            out = stream.update(data)
            tail = stream.finalize()
        return out + tail if tail else out

    def _stream(
        self, mode: Mode, iv: BytesLike | None, section_size: int | None, *, encrypt: bool
    ) -> CipherStream:
        if section_size is not None and mode is not Mode.CTR_ACPKM:
            raise InvalidInputError(f"section_size applies to CTR-ACPKM only, not {mode.upper()}")
        if mode is Mode.ECB:
            return self._ecb_stream(iv, encrypt=encrypt)
        if mode is Mode.CBC:
            return self._cbc_stream(self._cbc_iv(iv), encrypt=encrypt)
        mesh = self._section_size(section_size) if mode is Mode.CTR_ACPKM else None
        evp = self._evp(mode, self._ctr_iv(iv), encrypt=encrypt, key_mesh=mesh)
        # The counter is the low half of the block: 2**(4·block_size) blocks before it wraps.
        return NativeStream(evp, block_size=1, max_bytes=self.block_size << (4 * self.block_size))

    def _evp(self, mode: Mode, iv: bytes | None, *, encrypt: bool, key_mesh: int | None = None) -> EvpCipher:
        # Counter modes are their own inverse: one encrypting template serves both directions.
        slot = (mode, encrypt or mode in (Mode.CTR, Mode.CTR_ACPKM))
        template = self._templates.get(slot)
        if template is None:
            with self._lock:
                template = self._templates.get(slot)
                if template is None:
                    template = EvpCipherTemplate(f"{self.algorithm}-{mode}", key=self._key, encrypt=slot[1])
                    self._templates[slot] = template
        return EvpCipher(template, iv=iv, key_mesh=key_mesh)

    def _ecb_stream(self, iv: BytesLike | None, *, encrypt: bool) -> CipherStream:
        if iv is not None:
            raise InvalidInputError("ECB takes no IV")
        if self.algorithm is Algorithm.MAGMA:
            cbc = self._evp(Mode.CBC, bytes(self.block_size), encrypt=encrypt)
            return MagmaEcbStream(cbc, encrypt=encrypt)
        return NativeStream(self._evp(Mode.ECB, None, encrypt=encrypt), block_size=self.block_size)

    def _cbc_stream(self, iv: bytes, *, encrypt: bool) -> CipherStream:
        size = self.block_size
        lanes: list[EvpCipher] = []
        try:
            for start in range(0, len(iv), size):
                lanes.append(self._evp(Mode.CBC, iv[start : start + size], encrypt=encrypt))
        except BaseException:
            for lane in lanes:
                lane.close()
            raise
        if len(lanes) == 1:
            return NativeStream(lanes[0], block_size=size)
        return LanedCbcStream(lanes, block_size=size)

    def _cbc_iv(self, iv: BytesLike | None) -> bytes:
        size = self.block_size
        if iv is None or not iv or len(iv) % size or len(iv) > MAX_CBC_IV_BLOCKS * size:
            got = "none" if iv is None else f"{len(iv)} bytes"
            raise InvalidInputError(
                f"{self.algorithm} CBC IV must be z·{size} bytes with 1 ≤ z ≤ {MAX_CBC_IV_BLOCKS}, got {got}"
            )
        return bytes(iv)

    def _ctr_iv(self, iv: BytesLike | None) -> bytes:
        if iv is None or len(iv) != self.ctr_iv_size:
            got = "none" if iv is None else f"{len(iv)} bytes"
            raise InvalidInputError(f"{self.algorithm} CTR IV must be {self.ctr_iv_size} bytes, got {got}")
        return bytes(iv)

    def _section_size(self, section_size: int | None) -> int:
        size = self.default_section_size if section_size is None else section_size
        if size <= 0 or size % self.block_size or size > MAX_SECTION_SIZE:
            raise InvalidInputError(
                f"CTR-ACPKM section size must be a positive multiple of {self.block_size} "
                f"up to {MAX_SECTION_SIZE}, not {size}"
            )
        return size

    def _mac_size(self, size: int | None) -> int:
        if size is None:
            return self.block_size
        if not 1 <= size <= self.block_size:
            raise InvalidInputError(
                f"{self.algorithm} MAC size must be 1..{self.block_size} bytes, not {size}"
            )
        return size


class Kuznyechik(BlockCipher):
    """Kuznyechik: 128-bit block, 256-bit key (GOST R 34.12-2015 §4, RFC 7801)."""

    algorithm = Algorithm.KUZNYECHIK
    block_size = 16
    ctr_iv_size = 8
    default_section_size = 4096
    __slots__ = ()


class Magma(BlockCipher):
    """Magma: 64-bit block, 256-bit key (GOST R 34.12-2015 §5, RFC 8891)."""

    algorithm = Algorithm.MAGMA
    block_size = 8
    ctr_iv_size = 4
    default_section_size = 1024
    __slots__ = ()


_CLASSES: Final[dict[Algorithm, type[BlockCipher]]] = {
    Algorithm.KUZNYECHIK: Kuznyechik,
    Algorithm.MAGMA: Magma,
}


def new_cipher(algorithm: Algorithm | str, key: BytesLike) -> BlockCipher:
    """Return the :class:`BlockCipher` for ``algorithm`` keyed with ``key``."""
    return _CLASSES[_enum(Algorithm, algorithm)](key)


def encrypt(
    algorithm: Algorithm | str,
    mode: Mode | str,
    *,
    key: BytesLike,
    data: BytesLike,
    iv: BytesLike | None = None,
    section_size: int | None = None,
) -> bytes:
    """One-call encryption: ``new_cipher(algorithm, key).encrypt(mode, data, ...)``."""
    return new_cipher(algorithm, key).encrypt(mode, data, iv=iv, section_size=section_size)


def decrypt(
    algorithm: Algorithm | str,
    mode: Mode | str,
    *,
    key: BytesLike,
    data: BytesLike,
    iv: BytesLike | None = None,
    section_size: int | None = None,
) -> bytes:
    """One-call decryption: ``new_cipher(algorithm, key).decrypt(mode, data, ...)``."""
    return new_cipher(algorithm, key).decrypt(mode, data, iv=iv, section_size=section_size)


def omac(algorithm: Algorithm | str, *, key: BytesLike, data: BytesLike, size: int | None = None) -> bytes:
    """One-call OMAC: ``new_cipher(algorithm, key).mac(data, size=size)``."""
    return new_cipher(algorithm, key).mac(data, size=size)

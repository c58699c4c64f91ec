"""Wrapped key blobs: user private keys as they leave a soft unit, under the unit's KEK.

::

    offset  size    field
    0       4       magic "KKB1"
    4       1       algorithm code   (1 GOST 2012-256, 2 GOST 2012-512, 3 ECDSA P-256)
    5       1       parameter set code (GOST, table below; 0 for ECDSA)
    6       16      key id
    22      8       IV (random per blob)
    30      n + 16  KExp15-Kuznyechik(private key, K_enc, K_mac, IV)

    header = bytes 0..22 (magic, codes, key id)
    K_enc  = KDF_GOSTR3411_2012_256(KEK, "klyuch/blob/enc", header)
    K_mac  = KDF_GOSTR3411_2012_256(KEK, "klyuch/blob/mac", header)

The private key is GOST d (|q| bytes, little-endian) or the ECDSA scalar (32 bytes, big-endian).
Because the header seeds both derived keys, changing the algorithm, the parameter set or the key
id makes the MAC fail exactly as a flipped ciphertext bit or another KEK does: every such blob is
refused with :class:`BlobInvalidError`. The codes below are part of the format: never renumber.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

from actors.hsm.errors import BlobInvalidError
from actors.hsm.kek import Kek
from actors.hsm.protocol import KeyAlgorithm
from signing.errors import InvalidSignatureError, SigningError
from signing.gost.kdf import kdf_gostr3411_2012_256
from signing.gost.kexp15 import kexp15, kimp15
from signing.gost.params import ParamSet

MAGIC: Final = b"KKB1"
KEY_ID_SIZE: Final = 16
IV_SIZE: Final = 8
TAG_SIZE: Final = 16
HEADER_SIZE: Final = len(MAGIC) + 2 + KEY_ID_SIZE
_CIPHER: Final = "kuznyechik"

ALGORITHM_CODES: Final[dict[KeyAlgorithm, int]] = {
    KeyAlgorithm.GOST3410_2012_256: 1,
    KeyAlgorithm.GOST3410_2012_512: 2,
    KeyAlgorithm.ECDSA_P256: 3,
}
PARAMSET_CODES: Final[dict[ParamSet, int]] = {
    ParamSet.CRYPTOPRO_A: 1,
    ParamSet.CRYPTOPRO_B: 2,
    ParamSet.CRYPTOPRO_C: 3,
    ParamSet.CRYPTOPRO_XCHA: 4,
    ParamSet.CRYPTOPRO_XCHB: 5,
    ParamSet.TC26_256_A: 6,
    ParamSet.TC26_256_B: 7,
    ParamSet.TC26_256_C: 8,
    ParamSet.TC26_256_D: 9,
    ParamSet.TC26_512_A: 10,
    ParamSet.TC26_512_B: 11,
    ParamSet.TC26_512_C: 12,
}
_ALGORITHMS = {code: algorithm for algorithm, code in ALGORITHM_CODES.items()}
_PARAMSETS = {code: paramset for paramset, code in PARAMSET_CODES.items()}
_PRIVATE_SIZES: Final = {
    KeyAlgorithm.GOST3410_2012_256: 32,
    KeyAlgorithm.GOST3410_2012_512: 64,
    KeyAlgorithm.ECDSA_P256: 32,
}


@dataclass(frozen=True, slots=True, repr=False)
class UnwrappedKey:
    """A private key opened from a blob (lives only inside the unit)."""

    algorithm: KeyAlgorithm
    """Key type."""
    paramset: ParamSet | None
    """GOST parameter set; None for ECDSA."""
    key_id: str
    """32 hex digits."""
    private: bytes
    """The private key bytes (see the module docstring for their layout)."""

    def __repr__(self) -> str:
        return f"UnwrappedKey({self.algorithm}, {self.key_id})"


def _derived_keys(kek: Kek, header: bytes) -> tuple[bytes, bytes]:
    return (
        kdf_gostr3411_2012_256(kek.key, b"klyuch/blob/enc", header),
        kdf_gostr3411_2012_256(kek.key, b"klyuch/blob/mac", header),
    )


def _header(algorithm: KeyAlgorithm, paramset: ParamSet | None, key_id: bytes) -> bytes:
    paramset_code = 0 if paramset is None else PARAMSET_CODES[paramset]
    return MAGIC + bytes((ALGORITHM_CODES[algorithm], paramset_code)) + key_id


def wrap(kek: Kek, key: UnwrappedKey) -> bytes:
    """Wrap ``key`` under ``kek`` with a fresh IV."""
    if len(key.private) != _PRIVATE_SIZES[key.algorithm]:
        raise BlobInvalidError(f"{key.algorithm} private key must be {_PRIVATE_SIZES[key.algorithm]} bytes")
    header = _header(key.algorithm, key.paramset, bytes.fromhex(key.key_id))
    iv = os.urandom(IV_SIZE)
    enc_key, mac_key = _derived_keys(kek, header)
    return header + iv + kexp15(key.private, algorithm=_CIPHER, enc_key=enc_key, mac_key=mac_key, iv=iv)


def unwrap(kek: Kek, blob: bytes) -> UnwrappedKey:
    """Open a blob; :class:`BlobInvalidError` when it is malformed, tampered or from another KEK."""
    if len(blob) < HEADER_SIZE + IV_SIZE or blob[: len(MAGIC)] != MAGIC:
        raise BlobInvalidError("not a Klyuch key blob")
    algorithm = _ALGORITHMS.get(blob[4])
    paramset = _PARAMSETS.get(blob[5]) if blob[5] else None
    if algorithm is None or (algorithm is KeyAlgorithm.ECDSA_P256) != (paramset is None):
        raise BlobInvalidError("the key blob names an unknown algorithm or parameter set")
    if len(blob) != HEADER_SIZE + IV_SIZE + _PRIVATE_SIZES[algorithm] + TAG_SIZE:
        raise BlobInvalidError("the key blob has the wrong length for its algorithm")
    header, iv, wrapped = (
        blob[:HEADER_SIZE],
        blob[HEADER_SIZE : HEADER_SIZE + IV_SIZE],
        blob[HEADER_SIZE + IV_SIZE :],
    )
    enc_key, mac_key = _derived_keys(kek, header)
    try:
        private = kimp15(wrapped, algorithm=_CIPHER, enc_key=enc_key, mac_key=mac_key, iv=iv)
    except InvalidSignatureError:
        raise BlobInvalidError("the key blob does not authenticate under this unit's KEK") from None
    except SigningError as exc:
        raise BlobInvalidError(f"the key blob is malformed: {exc}") from exc
    key_id = blob[6:HEADER_SIZE].hex()
    return UnwrappedKey(algorithm=algorithm, paramset=paramset, key_id=key_id, private=private)

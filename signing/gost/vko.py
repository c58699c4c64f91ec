"""Key agreement on GOST R 34.10-2012 keys, computed by the gost engine.

* VKO_GOSTR3410_2012_256 / _512 (R 50.1.113-2016 §4.3, RFC 7836 §4.3): K = (UKM·d mod q)·Q_peer,
  output Streebog-256 or -512 of x_le‖y_le of K. UKM is read little-endian, 1 ≤ UKM < 2^(n/2)
  for n-bit keys; VKO_512 is defined for 512-bit keys only.
* KEG (R 1323565.1.020-2018 §5, used by KExp15 key transport): from a 32-byte UKM, 64 bytes of
  export keys K_mac‖K_enc. Here UKM' = ukm[0:16] read *big-endian*; for 512-bit
  keys KEG is VKO_512 with UKM', for 256-bit keys KDF_TREE_256(VKO_256 with UKM', "kdf tree",
  ukm[16:24], R=1). (Tests pin this against VKO and KDF_TREE.) The standard maps a zero UKM' to 1,
  but gost-engine 3.0.1 maps it to 2^120, so a zero ukm[0:16] is refused here rather than
  silently producing keys no other implementation derives.

The functions take the engine handles of :class:`signing.gost.keys.GostPrivateKey`; call them
through its ``vko`` and ``keg`` methods.
"""

from __future__ import annotations

from signing.errors import InvalidInputError, UnsupportedAlgorithmError
from signing.gost import _pkey
from signing.gost.params import ParamSet

KEG_UKM_SIZE = 32
"""Bytes of UKM that KEG consumes."""
KEG_OUTPUT_SIZE = 64
"""Bytes that KEG produces."""


def vko(private: int, paramset: ParamSet, peer: int, ukm: bytes, *, output_size: int = 32) -> bytes:
    """VKO_GOSTR3410_2012_256 (``output_size`` 32) or _512 (64) between two engine keys."""
    if output_size not in (32, 64):
        raise InvalidInputError(f"VKO output size must be 32 or 64 bytes, got {output_size}")
    if output_size == 64 and paramset.key_size != 512:
        raise UnsupportedAlgorithmError("VKO_GOSTR3410_2012_512 is defined for 512-bit keys only")
    max_ukm = paramset.size // 2
    if not 1 <= len(ukm) <= max_ukm:
        raise InvalidInputError(
            f"UKM must be 1..{max_ukm} bytes for a {paramset.key_size}-bit key, got {len(ukm)}"
        )
    if not any(ukm):
        raise InvalidInputError("UKM must not be zero")
    return _pkey.derive(private, peer, ukm, vko_bits=8 * output_size, output_size=output_size)


def keg(private: int, paramset: ParamSet, peer: int, ukm: bytes) -> bytes:
    """KEG export keys (64 bytes) from a 32-byte UKM."""
    if len(ukm) != KEG_UKM_SIZE:
        raise InvalidInputError(f"KEG needs a {KEG_UKM_SIZE}-byte UKM, got {len(ukm)}")
    if not any(ukm[:16]):
        raise InvalidInputError("KEG: the first 16 UKM bytes must not all be zero")
    return _pkey.derive(private, peer, ukm, vko_bits=None, output_size=KEG_OUTPUT_SIZE)

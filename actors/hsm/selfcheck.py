"""With ``--self-check`` (``hsm.self_check``), every signature a unit returns verifies under the key's
own public half: the unit checks it.

A computation fault (a flipped bit in memory, a faulty token) must never leave the HSM layer as a
signature: some faulty (EC)DSA-family signatures even leak information about the key. Checking in
the unit, on the unit's own CPU, keeps the check off the workers' event loops (a GOST-256 check with
the CryptoPro A parameters costs ~170 µs) while every signature is still checked. A signature that
fails raises :class:`SignatureFaultError`, which is retryable: the Balancer asks another unit.

With self-checking units a worker may prove only once per certificate and key it loads that the
unit's key is the certified one (``operations.verify_results = "first"``, ``actors.operations.execute``);
from then on a unit's self-checked signature is a signature under the certificate. Without them
(the default) the worker checks every signature with the certificate's key; the cost is the same
CPU, spent in the worker instead of the units (a unit that also checks halves its signing rate).

``Corrupter`` is the test hook of the ``corrupt_signature`` fault: it flips one bit of the next
signature of its session before the check, as a computation fault would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from actors.hsm.errors import SignatureFaultError
from signing.errors import SigningError
from signing.gost.keys import GostPublicKey

_PREHASH = {32: hashes.SHA256(), 48: hashes.SHA384(), 64: hashes.SHA512()}

Check = Callable[[bytes, bytes], bool]
"""``check(digest, signature)``: whether the raw unit signature verifies under the key."""


def p256_prehash(digest_size: int) -> Prehashed | None:
    """The prehashed ECDSA mode for a digest of ``digest_size`` bytes (None: no such hash)."""
    algorithm = _PREHASH.get(digest_size)
    return None if algorithm is None else Prehashed(algorithm)


def gost_check(public: GostPublicKey) -> Check:
    """Check raw GOST ``s ‖ r`` signatures over a digest."""

    def check(digest: bytes, signature: bytes) -> bool:
        try:
            return public.is_valid_digest_signature(digest, signature)
        except SigningError:
            return False

    return check


def ecdsa_check(public: ec.EllipticCurvePublicKey, prehash: Callable[[int], Prehashed | None]) -> Check:
    """Check raw P-256 ``r ‖ s`` signatures over a digest (``prehash`` picks the hash by length)."""

    def check(digest: bytes, signature: bytes) -> bool:
        algorithm = prehash(len(digest))
        if algorithm is None or len(signature) != 64:
            return False
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        der = encode_dss_signature(r, s)
        try:
            public.verify(der, digest, ec.ECDSA(algorithm))
        except InvalidSignature:
            return False
        return True

    return check


class Corrupter:
    """Test fault: flip one bit of the next signature of this session (before the self-check)."""

    __slots__ = ("armed",)

    def __init__(self) -> None:
        self.armed = False

    def __call__(self, signature: bytes) -> bytes:
        if not self.armed:
            return signature
        self.armed = False
        return bytes([signature[0] ^ 0x01]) + signature[1:]


def checked(check: Check, digests: Sequence[bytes], signatures: list[bytes], key_id: str) -> list[bytes]:
    """``signatures`` if each verifies over its digest; :class:`SignatureFaultError` otherwise."""
    for digest, signature in zip(digests, signatures, strict=True):
        if not check(digest, signature):
            raise SignatureFaultError(f"a signature of key {key_id} failed the unit's own check")
    return signatures

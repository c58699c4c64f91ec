"""Power-on self-tests of the native GOST binding, run once per process on first use.

:func:`ensure_digests` (Streebog known answers) guards the hash/MAC/KDF functions;
:func:`ensure_engine` (engine load + a sign/verify round trip) guards key objects. A failure
raises :class:`CryptoError` (or :class:`EngineUnavailableError` when the engine is missing)
every time it is retried, so a broken installation never signs anything.
"""

from __future__ import annotations

import hashlib
import threading

from signing.errors import CryptoError
from signing.gost import _pkey
from signing.gost._libcrypto import libcrypto
from signing.gost.params import ParamSet

# RFC 6986 §10.1, message M1 (63 ASCII digits); digests as byte strings in hashlib order.
_M1 = b"012345678901234567890123456789012345678901234567890123456789012"
_M1_STREEBOG256 = bytes.fromhex("9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500")
_M1_STREEBOG512 = bytes.fromhex(
    "1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa"
    "00ad30f8767b3a82384c6574f024c311e2a481332b08ef7f41797891c1646f48"
)

_lock = threading.Lock()
_digests_ok = False
_engine_ok = False


def check_streebog() -> None:
    """Compare Streebog-256/512 of RFC 6986 M1 with the standard's answers."""
    libcrypto()
    for name, expected in (("md_gost12_256", _M1_STREEBOG256), ("md_gost12_512", _M1_STREEBOG512)):
        if hashlib.new(name, _M1).digest() != expected:
            raise CryptoError(f"self-test failed: {name} known answer mismatch")


def check_sign_verify(paramset: ParamSet = ParamSet.TC26_256_A) -> None:
    """Generate a key, sign a digest, verify it, and reject the same signature on another digest."""
    pkey = _pkey.generate(paramset)
    try:
        digest = hashlib.new(paramset.digest_name, b"klyuch self-test").digest()
        signature = _pkey.sign_digest(pkey, digest, paramset.signature_size)
        other = bytes([digest[0] ^ 1]) + digest[1:]
        if not _pkey.verify_digest(pkey, digest, signature) or _pkey.verify_digest(pkey, other, signature):
            raise CryptoError("self-test failed: GOST R 34.10-2012 sign/verify round trip")
    finally:
        _pkey.free(pkey)


def ensure_digests() -> None:
    """Run :func:`check_streebog` once per process (the providers are loaded on the way)."""
    global _digests_ok
    if _digests_ok:
        return
    with _lock:
        if not _digests_ok:
            check_streebog()
            _digests_ok = True


def ensure_engine() -> None:
    """Run the digest and engine self-tests once per process."""
    global _engine_ok
    if _engine_ok:
        return
    ensure_digests()
    with _lock:
        if not _engine_ok:
            check_sign_verify()
            _engine_ok = True

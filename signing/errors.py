"""Errors of the signing layer.

::

    SigningError                      code
     ├─ EngineUnavailableError        engine_unavailable   (OpenSSL / gost engine missing)
     ├─ CryptoError                   crypto_error         (a native call failed)
     │   └─ InvalidSignatureError     invalid_signature
     │       └─ IntegrityCheckError   integrity_check_failed (a MAC over wrapped data does not match)
     ├─ InvalidInputError             invalid_input        (bad lengths, unknown parameters)
     │   └─ MalformedDataError        malformed_data       (truncated or malformed DER/PEM)
     └─ UnsupportedAlgorithmError     unsupported_algorithm

Each class has a stable ``code``; callers dispatch on type or code, never on message text.
"""

from __future__ import annotations


class SigningError(Exception):
    """Base of every error raised by ``signing``."""

    code = "signing_error"


class EngineUnavailableError(SigningError):
    """The native GOST implementation (OpenSSL 3 + gost engine) cannot be loaded."""

    code = "engine_unavailable"


class CryptoError(SigningError):
    """A native cryptographic operation failed."""

    code = "crypto_error"


class InvalidSignatureError(CryptoError):
    """A signature does not verify."""

    code = "invalid_signature"


class IntegrityCheckError(InvalidSignatureError):
    """Authenticated data (a KImp15 blob, a sealed key) fails its MAC: tampered or the wrong key."""

    code = "integrity_check_failed"


class InvalidInputError(SigningError):
    """An argument has a wrong length, range or value."""

    code = "invalid_input"


class MalformedDataError(InvalidInputError):
    """Encoded data (DER, PEM, wrapped blobs) is truncated or malformed."""

    code = "malformed_data"


class UnsupportedAlgorithmError(SigningError):
    """An algorithm, OID or parameter set is not supported."""

    code = "unsupported_algorithm"

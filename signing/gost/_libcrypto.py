"""The one handle on the system ``libcrypto.so.3`` shared with Python's ``_hashlib``.

Loading the ``default`` and ``gostprov`` providers into the default library context makes
``hashlib.new("md_gost12_256")`` and friends native; the gost ENGINE (needed for GOST R 34.10
key management and signatures, which the provider lacks) is loaded on first use by :func:`engine`.

Prototypes are bound with :func:`bind`, which makes a *fresh* foreign-function object per
declaration instead of setting ``argtypes`` on the shared ``CDLL`` attributes: other modules of
the project declare their own prototypes on the same library and must not be able to clobber
ours (or we theirs). Calls through these objects release the GIL (``CFUNCTYPE``, not
``PYFUNCTYPE``), so native signing runs in parallel across threads.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable
from typing import Any

from signing.errors import CryptoError, EngineUnavailableError, SigningError

LIBCRYPTO_SONAME = "libcrypto.so.3"
INSTALL_HINT = "install the Debian package 'libengine-gost-openssl' (apt-get install libengine-gost-openssl)"
ENGINE_ID = b"gost"

#: Upper bound on how many queued OpenSSL errors one message quotes (the queue is drained anyway).
_MAX_QUOTED_ERRORS = 4

_engine_lock = threading.Lock()
_engine_handle: int | None = None


@functools.cache
def libcrypto() -> ctypes.CDLL:
    """Return the process-wide libcrypto handle with the default and gost providers loaded."""
    try:
        lib = ctypes.CDLL(LIBCRYPTO_SONAME)
    except OSError as exc:
        raise EngineUnavailableError(f"cannot load {LIBCRYPTO_SONAME}: {exc}; install OpenSSL 3") from exc
    lib.OSSL_PROVIDER_load.restype = ctypes.c_void_p
    lib.OSSL_PROVIDER_load.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    for name in (b"default", b"gostprov"):
        if not lib.OSSL_PROVIDER_load(None, name):
            lib.ERR_clear_error()
            raise EngineUnavailableError(f"OpenSSL provider {name.decode()!r} is missing: {INSTALL_HINT}")
    return lib


def bind(name: str, restype: Any, *argtypes: Any) -> Callable[..., Any]:
    """Return a new foreign function for libcrypto's ``name`` with the given C prototype."""
    prototype = ctypes.CFUNCTYPE(restype, *argtypes)
    try:
        return prototype((name, libcrypto()))
    except AttributeError as exc:
        raise EngineUnavailableError(f"{LIBCRYPTO_SONAME} lacks {name}: {exc}") from exc


_c_int = ctypes.c_int
_c_ulong = ctypes.c_ulong
_vp = ctypes.c_void_p


class _Err:
    """Prototypes of the error-queue functions (bound lazily, once)."""

    @functools.cached_property
    def get_error(self) -> Callable[[], int]:
        return bind("ERR_get_error", _c_ulong)

    @functools.cached_property
    def error_string_n(self) -> Callable[[int, ctypes.Array[ctypes.c_char], int], None]:
        return bind("ERR_error_string_n", None, _c_ulong, ctypes.c_char_p, ctypes.c_size_t)

    @functools.cached_property
    def clear_error(self) -> Callable[[], None]:
        return bind("ERR_clear_error", None)


_err = _Err()


def drain_errors() -> list[str]:
    """Empty this thread's OpenSSL error queue and return its entries as text, oldest first."""
    messages: list[str] = []
    buf = ctypes.create_string_buffer(256)
    while code := _err.get_error():
        _err.error_string_n(code, buf, len(buf))
        messages.append(buf.value.decode("ascii", "replace"))
    return messages


def clear_errors() -> None:
    """Discard this thread's OpenSSL error queue (after an expected failure, e.g. a bad signature)."""
    _err.clear_error()


def crypto_error(what: str, error_class: type[SigningError] = CryptoError) -> SigningError:
    """Build an exception for a failed native call, draining the OpenSSL error queue into it.

    ``error_class`` is any ``signing.errors`` class (default :class:`CryptoError`). The queue
    is always emptied so a stale entry never leaks into a later, unrelated failure in this thread.
    """
    queued = drain_errors()
    detail = "; ".join(queued[:_MAX_QUOTED_ERRORS]) if queued else "no OpenSSL error queued"
    return error_class(f"{what} failed: {detail}")


def engine() -> int:
    """Return the initialised gost ENGINE handle (an ``ENGINE*`` as int), loading it on first use.

    Only the engine's public-key methods (GOST R 34.10 keys: ASN.1 + EVP_PKEY methods) are
    registered, so key objects and contexts of the GOST key types find it; the engine is *not*
    made the default for digests, ciphers or anything else (the providers serve those).
    Raises :class:`EngineUnavailableError` naming ``libengine-gost-openssl`` when it is missing.
    """
    global _engine_handle
    if _engine_handle is not None:
        return _engine_handle
    with _engine_lock:
        if _engine_handle is None:
            _engine_handle = _load_engine()
    return _engine_handle


def _load_engine(engine_id: bytes = ENGINE_ID) -> int:
    by_id = bind("ENGINE_by_id", _vp, ctypes.c_char_p)
    init = bind("ENGINE_init", _c_int, _vp)
    free = bind("ENGINE_free", _c_int, _vp)
    handle = by_id(engine_id)
    if not handle:
        detail = "; ".join(drain_errors()[:_MAX_QUOTED_ERRORS])
        name = engine_id.decode(errors="replace")
        raise EngineUnavailableError(
            f"the OpenSSL {name!r} engine cannot be loaded ({detail}): {INSTALL_HINT}"
        )
    try:
        if init(handle) != 1:
            raise crypto_error("ENGINE_init(gost)", EngineUnavailableError)
        for register in ("ENGINE_register_pkey_asn1_meths", "ENGINE_register_pkey_meths"):
            if bind(register, _c_int, _vp)(handle) != 1:
                raise crypto_error(register, EngineUnavailableError)
    finally:
        # ENGINE_init took its own functional reference; drop the structural one from ENGINE_by_id.
        free(handle)
    return int(handle)

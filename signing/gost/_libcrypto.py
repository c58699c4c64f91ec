"""The one handle on the system ``libcrypto.so.3`` shared with Python's ``_hashlib``.

Loading the ``default`` and ``gostprov`` providers into the default library context makes
``hashlib.new("md_gost12_256")`` and friends native; the gost ENGINE (needed for GOST R 34.10
key management and signatures, which the provider lacks) is loaded on first use.
"""

from __future__ import annotations

import ctypes
import functools

from signing.errors import EngineUnavailableError

LIBCRYPTO_SONAME = "libcrypto.so.3"
INSTALL_HINT = "install the Debian package 'libengine-gost-openssl' (apt-get install libengine-gost-openssl)"


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

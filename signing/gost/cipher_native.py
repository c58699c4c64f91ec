"""ctypes layer over OpenSSL ``EVP_CIPHER`` / ``EVP_MAC`` for the ciphers of the ``gostprov`` provider.

Private to :mod:`signing.gost`: :mod:`signing.gost.cipher` and :mod:`signing.gost.kexp15` build on it.
Every native context is owned by exactly one Python object, freed by its idempotent ``close()``
(and, as a last resort, by ``__del__``), so no ``EVP_*_CTX`` outlives its owner. Keys are scheduled
once into a *template* context that is only ever copied: each operation runs on its own copy.

Function pointers are taken with ``lib["name"]`` rather than ``lib.name``: indexing a ``CDLL``
returns a fresh pointer object, so the prototypes declared here never clash with prototypes that
other modules declare on the shared handle from :func:`signing.gost._libcrypto.libcrypto`.
ctypes releases the GIL around every call, so bulk encryption runs in parallel across threads.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from typing import Any, Final

from signing.errors import CryptoError, UnsupportedAlgorithmError
from signing.gost._libcrypto import libcrypto

BytesLike = bytes | bytearray | memoryview
"""What the binding accepts wherever it reads bytes."""

# EVP_CipherUpdate takes an ``int`` length: feed big inputs in chunks below 2**31 (a multiple
# of every block size, so block modes never see a chunk boundary inside a block).
MAX_CHUNK: Final = 1 << 30
_MAX_MAC_SIZE: Final = 64  # EVP_MAC_final writes the full tag; both GOST MACs are at most 16 bytes
_ERR_BUF: Final = 256

_VP = ctypes.c_void_p
_INT = ctypes.c_int
_SIZE = ctypes.c_size_t


class _OsslParam(ctypes.Structure):
    """``OSSL_PARAM`` from ``openssl/core.h``."""

    _fields_ = (
        ("key", ctypes.c_char_p),
        ("data_type", ctypes.c_uint),
        ("data", _VP),
        ("data_size", _SIZE),
        ("return_size", _SIZE),
    )


_OSSL_PARAM_UNSIGNED_INTEGER: Final = 2
_OSSL_PARAM_UNMODIFIED: Final = _SIZE(-1).value
_EVP_CTRL_KEY_MESH: Final = 0x20  # openssl/evp.h


class _Api:
    """The prototypes this module uses, declared once on private function pointers."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        def fn(name: str, restype: Any, *argtypes: Any) -> Any:
            func = lib[name]
            func.restype = restype
            func.argtypes = list(argtypes)
            return func

        self.cipher_fetch = fn("EVP_CIPHER_fetch", _VP, _VP, ctypes.c_char_p, ctypes.c_char_p)
        self.cipher_ctx_new = fn("EVP_CIPHER_CTX_new", _VP)
        self.cipher_ctx_free = fn("EVP_CIPHER_CTX_free", None, _VP)
        self.cipher_ctx_copy = fn("EVP_CIPHER_CTX_copy", _INT, _VP, _VP)
        self.cipher_init = fn("EVP_CipherInit_ex2", _INT, _VP, _VP, _VP, _VP, _INT, _VP)
        self.cipher_set_padding = fn("EVP_CIPHER_CTX_set_padding", _INT, _VP, _INT)
        self.cipher_set_params = fn("EVP_CIPHER_CTX_set_params", _INT, _VP, _VP)
        self.cipher_ctrl = fn("EVP_CIPHER_CTX_ctrl", _INT, _VP, _INT, _INT, _VP)
        self.cipher_ctx_cipher = fn("EVP_CIPHER_CTX_get0_cipher", _VP, _VP)
        self.cipher_provider = fn("EVP_CIPHER_get0_provider", _VP, _VP)
        self.cipher_nid = fn("EVP_CIPHER_get_nid", _INT, _VP)
        self.cipher_engine = fn("ENGINE_get_cipher_engine", _VP, _INT)
        self.engine_finish = fn("ENGINE_finish", _INT, _VP)
        self.cipher_update = fn("EVP_CipherUpdate", _INT, _VP, _VP, ctypes.POINTER(_INT), _VP, _INT)
        self.cipher_final = fn("EVP_CipherFinal_ex", _INT, _VP, _VP, ctypes.POINTER(_INT))
        self.mac_fetch = fn("EVP_MAC_fetch", _VP, _VP, ctypes.c_char_p, ctypes.c_char_p)
        self.mac_ctx_new = fn("EVP_MAC_CTX_new", _VP, _VP)
        self.mac_ctx_free = fn("EVP_MAC_CTX_free", None, _VP)
        self.mac_ctx_dup = fn("EVP_MAC_CTX_dup", _VP, _VP)
        self.mac_init = fn("EVP_MAC_init", _INT, _VP, _VP, _SIZE, _VP)
        self.mac_update = fn("EVP_MAC_update", _INT, _VP, _VP, _SIZE)
        self.mac_final = fn("EVP_MAC_final", _INT, _VP, _VP, ctypes.POINTER(_SIZE), _SIZE)
        self.err_get = fn("ERR_get_error", ctypes.c_ulong)
        self.err_string = fn("ERR_error_string_n", None, ctypes.c_ulong, ctypes.c_char_p, _SIZE)
        self.cleanse = fn("OPENSSL_cleanse", None, _VP, _SIZE)


@functools.cache
def _api() -> _Api:
    return _Api(libcrypto())


def _error(what: str) -> CryptoError:
    """Drain this thread's OpenSSL error queue into one ``CryptoError`` (no secrets in it)."""
    api = _api()
    reasons: list[str] = []
    buf = ctypes.create_string_buffer(_ERR_BUF)
    while code := api.err_get():
        api.err_string(code, buf, _ERR_BUF)
        reasons.append(buf.value.decode("ascii", "replace"))
    detail = f": {'; '.join(reasons)}" if reasons else ""
    return CryptoError(f"{what} failed{detail}")


@functools.cache
def _fetched_cipher(name: str) -> int:
    # Fetched EVP_CIPHERs are immutable and reference-counted: one per name for the process.
    ptr = _api().cipher_fetch(None, name.encode("ascii"), None)
    if not ptr:
        _error(f"EVP_CIPHER_fetch({name})")  # clears the queue
        raise UnsupportedAlgorithmError(f"cipher {name!r} is not provided by OpenSSL + gostprov")
    return int(ptr)


@functools.cache
def _fetched_mac(name: str) -> int:
    ptr = _api().mac_fetch(None, name.encode("ascii"), None)
    if not ptr:
        _error(f"EVP_MAC_fetch({name})")
        raise UnsupportedAlgorithmError(f"MAC {name!r} is not provided by OpenSSL + gostprov")
    return int(ptr)


def implementation(name: str) -> str:
    """Which code runs cipher ``name``: ``"gostprov"``, or ``"gost-engine"`` once the gost ENGINE is
    loaded in the process (``ENGINE_by_id`` registers its ciphers, and EVP then prefers them)."""
    api = _api()
    nid = api.cipher_nid(_fetched_cipher(name))
    engine = api.cipher_engine(nid) if nid else None
    if not engine:
        return "gostprov"
    api.engine_finish(engine)  # ENGINE_get_cipher_engine returned a functional reference
    return "gost-engine"


def readable(data: BytesLike) -> bytes | ctypes.Array[ctypes.c_char]:
    """Return something ctypes passes as a ``const void *`` to ``data`` without copying when it can."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray) or (not data.readonly and data.c_contiguous):
        return (ctypes.c_char * len(data)).from_buffer(data)
    return bytes(data)


def wipe(buf: bytearray) -> None:
    """Overwrite a mutable buffer holding secret bytes (best effort: Python may hold other copies)."""
    if buf:
        _api().cleanse((ctypes.c_char * len(buf)).from_buffer(buf), len(buf))


class _Owned:
    """An owned native pointer freed exactly once by ``close()`` (also from ``__del__``)."""

    __slots__ = ("_ctx", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._ctx: int | None = None  # set first: __del__ runs even when a subclass __init__ raises

    def _free(self, ctx: int) -> None:
        raise NotImplementedError

    def _live(self) -> int:
        if not self._ctx:
            raise CryptoError(f"{self._name} context is already closed")
        return self._ctx

    def close(self) -> None:
        """Free the native context; idempotent."""
        ctx = getattr(self, "_ctx", None)  # unset if __init__ never ran (bad arguments)
        self._ctx = None
        if ctx:
            self._free(ctx)

    def __del__(self) -> None:
        self.close()


class EvpCipherTemplate(_Owned):
    """A keyed ``EVP_CIPHER_CTX`` that is never run, only copied into new :class:`EvpCipher` s.

    The key schedule is paid once per key: Kuznyechik's costs ~40–90 µs, a copy ~2 µs.
    Copies are taken under a lock, so one template serves every thread.
    """

    __slots__ = ("_lock", "encrypt")

    def __init__(self, name: str, *, key: bytes, encrypt: bool) -> None:
        super().__init__(name)
        self._lock = threading.Lock()
        self.encrypt = encrypt
        api = _api()
        cipher = _fetched_cipher(name)
        self._ctx = api.cipher_ctx_new()
        if not self._ctx:
            raise _error("EVP_CIPHER_CTX_new")
        if api.cipher_init(self._ctx, cipher, key, None, int(encrypt), None) != 1:
            self.close()
            raise _error(f"{name} init")

    def _free(self, ctx: int) -> None:
        _api().cipher_ctx_free(ctx)

    @property
    def name(self) -> str:
        """The provider's cipher name, e.g. ``kuznyechik-ctr``."""
        return self._name

    def copy_into(self, ctx: int) -> None:
        """Copy the keyed state into the fresh context ``ctx``."""
        with self._lock:
            if _api().cipher_ctx_copy(ctx, self._live()) != 1:
                raise _error(f"{self._name} copy")


class EvpCipher(_Owned):
    """One ``EVP_CIPHER_CTX`` copied from a template, given its IV, padding off.

    ``update`` may be called any number of times, then ``finish`` once. Not thread-safe.
    """

    __slots__ = ()

    def __init__(self, template: EvpCipherTemplate, *, iv: bytes | None, key_mesh: int | None = None) -> None:
        super().__init__(template.name)
        self._ctx = _api().cipher_ctx_new()
        if not self._ctx:
            raise _error("EVP_CIPHER_CTX_new")
        try:
            self._setup(template, iv=iv, key_mesh=key_mesh)
        except BaseException:
            self.close()
            raise

    def _free(self, ctx: int) -> None:
        _api().cipher_ctx_free(ctx)

    def _setup(self, template: EvpCipherTemplate, *, iv: bytes | None, key_mesh: int | None) -> None:
        api, ctx = _api(), self._live()
        template.copy_into(ctx)
        # Cipher and key NULL: only the IV is (re)set; the copied key schedule stays.
        if iv is not None and api.cipher_init(ctx, None, None, iv, int(template.encrypt), None) != 1:
            raise _error(f"{self._name} IV")
        api.cipher_set_padding(ctx, 0)
        if key_mesh is not None:
            self._set_key_mesh(key_mesh)

    def _set_key_mesh(self, section_size: int) -> None:
        # Once the gost ENGINE is loaded (ENGINE_by_id registers its ciphers), EVP_CipherInit runs the
        # engine's legacy implementation of these ciphers instead of gostprov's: same code, but the
        # section size is then a ctrl rather than an OSSL_PARAM.
        api, ctx = _api(), self._live()
        if api.cipher_provider(api.cipher_ctx_cipher(ctx)):
            holder = _SIZE(section_size)
            params = (_OsslParam * 2)()
            params[0].key = b"key-mesh"
            params[0].data_type = _OSSL_PARAM_UNSIGNED_INTEGER
            params[0].data = ctypes.addressof(holder)
            params[0].data_size = ctypes.sizeof(holder)
            params[0].return_size = _OSSL_PARAM_UNMODIFIED
            done = api.cipher_set_params(ctx, params)
        else:
            done = api.cipher_ctrl(ctx, _EVP_CTRL_KEY_MESH, section_size, None)
        if done != 1:
            raise _error(f"{self._name} key-mesh={section_size}")

    def update(self, data: BytesLike) -> bytes:
        """Feed ``data``; return what the cipher emits (block modes hold back a partial block)."""
        ctx = self._live()
        size = len(data)
        if size == 0:
            return b""
        if size > MAX_CHUNK:
            view = memoryview(data)
            return b"".join(self.update(view[i : i + MAX_CHUNK]) for i in range(0, size, MAX_CHUNK))
        out = ctypes.create_string_buffer(size + 32)  # room for a held-back block of up to 32 bytes
        written = _INT()
        if _api().cipher_update(ctx, out, ctypes.byref(written), readable(data), size) != 1:
            raise _error(f"{self._name} update")
        return ctypes.string_at(out, written.value)

    def finish(self) -> bytes:
        """Finish the operation (fails if a block mode holds a partial block); the context stays open."""
        ctx = self._live()
        out = ctypes.create_string_buffer(32)
        written = _INT()
        if _api().cipher_final(ctx, out, ctypes.byref(written)) != 1:
            raise _error(f"{self._name} final")
        return ctypes.string_at(out, written.value)


class EvpMacTemplate(_Owned):
    """A keyed ``EVP_MAC_CTX`` that is never fed, only duplicated (under a lock) into :class:`EvpMac` s."""

    __slots__ = ("_lock",)

    def __init__(self, name: str, *, key: bytes) -> None:
        super().__init__(name)
        self._lock = threading.Lock()
        api = _api()
        self._ctx = api.mac_ctx_new(_fetched_mac(name))
        if not self._ctx:
            raise _error("EVP_MAC_CTX_new")
        if api.mac_init(self._ctx, key, len(key), None) != 1:
            self.close()
            raise _error(f"{name} init")

    def _free(self, ctx: int) -> None:
        _api().mac_ctx_free(ctx)

    @property
    def name(self) -> str:
        """The provider's MAC name, e.g. ``magma-mac``."""
        return self._name

    def duplicate(self) -> int:
        """A new native context with the keyed state; the caller owns it."""
        with self._lock:
            ctx = _api().mac_ctx_dup(self._live())
        if not ctx:
            raise _error(f"{self._name} dup")
        return int(ctx)


class EvpMac(_Owned):
    """One ``EVP_MAC_CTX`` duplicated from a keyed template. Not thread-safe."""

    __slots__ = ()

    def __init__(self, template: EvpMacTemplate) -> None:
        super().__init__(template.name)
        self._ctx = template.duplicate()

    def _free(self, ctx: int) -> None:
        _api().mac_ctx_free(ctx)

    def update(self, data: BytesLike) -> None:
        """Absorb ``data``."""
        ctx = self._live()
        if len(data) and _api().mac_update(ctx, readable(data), len(data)) != 1:
            raise _error(f"{self._name} update")

    def finish(self) -> bytes:
        """Return the full-length tag; the context stays open until ``close``."""
        ctx = self._live()
        out = ctypes.create_string_buffer(_MAX_MAC_SIZE)
        written = _SIZE()
        if _api().mac_final(ctx, out, ctypes.byref(written), _MAX_MAC_SIZE) != 1:
            raise _error(f"{self._name} final")
        return ctypes.string_at(out, written.value)

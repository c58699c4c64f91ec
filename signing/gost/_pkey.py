"""Native GOST R 34.10-2012 operations on ``EVP_PKEY*`` handles, all performed by the gost engine.

Internal to :mod:`signing.gost`: the public API is :mod:`signing.gost.keys`. Every function
takes or returns raw pointers (ints); ownership rules are in each docstring. All arithmetic on
private scalars happens inside the engine; Python only moves opaque bytes to and from it. A fresh
``EVP_PKEY_CTX`` is made per operation, so one key may be used from many threads at once.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import Any

from signing.errors import CryptoError, InvalidInputError, MalformedDataError
from signing.gost import _keyder
from signing.gost._libcrypto import bind, clear_errors, crypto_error, engine
from signing.gost.params import ParamSet

_vp = ctypes.c_void_p
_int = ctypes.c_int
_size_t = ctypes.c_size_t
_p_size_t = ctypes.POINTER(ctypes.c_size_t)
_p_vp = ctypes.POINTER(ctypes.c_void_p)
_buf = ctypes.c_char_p

#: EVP_PKEY_CTRL_SET_IV (evp.h): the gost engine takes the VKO/KEG user keying material through it.
_EVP_PKEY_CTRL_SET_IV = 8


class _Native:
    """The libcrypto prototypes this module uses, bound once."""

    def __init__(self) -> None:
        b = bind
        self.ctx_new_id: Callable[..., int | None] = b("EVP_PKEY_CTX_new_id", _vp, _int, _vp)
        self.ctx_new: Callable[..., int | None] = b("EVP_PKEY_CTX_new", _vp, _vp, _vp)
        self.ctx_free: Callable[..., None] = b("EVP_PKEY_CTX_free", None, _vp)
        self.ctrl_str: Callable[..., int] = b("EVP_PKEY_CTX_ctrl_str", _int, _vp, _buf, _buf)
        self.ctrl: Callable[..., int] = b("EVP_PKEY_CTX_ctrl", _int, _vp, _int, _int, _int, _int, _vp)
        self.keygen_init: Callable[..., int] = b("EVP_PKEY_keygen_init", _int, _vp)
        self.keygen: Callable[..., int] = b("EVP_PKEY_keygen", _int, _vp, _p_vp)
        self.sign_init: Callable[..., int] = b("EVP_PKEY_sign_init", _int, _vp)
        self.sign: Callable[..., int] = b("EVP_PKEY_sign", _int, _vp, _buf, _p_size_t, _buf, _size_t)
        self.verify_init: Callable[..., int] = b("EVP_PKEY_verify_init", _int, _vp)
        self.verify: Callable[..., int] = b("EVP_PKEY_verify", _int, _vp, _buf, _size_t, _buf, _size_t)
        self.derive_init: Callable[..., int] = b("EVP_PKEY_derive_init", _int, _vp)
        self.derive_set_peer: Callable[..., int] = b("EVP_PKEY_derive_set_peer", _int, _vp, _vp)
        self.derive: Callable[..., int] = b("EVP_PKEY_derive", _int, _vp, _buf, _p_size_t)
        self.check: Callable[..., int] = b("EVP_PKEY_check", _int, _vp)
        self.public_check: Callable[..., int] = b("EVP_PKEY_public_check", _int, _vp)
        self.pkey_free: Callable[..., None] = b("EVP_PKEY_free", None, _vp)
        self.d2i_pubkey: Callable[..., int | None] = b("d2i_PUBKEY", _vp, _vp, _p_vp, ctypes.c_long)
        self.d2i_private: Callable[..., int | None] = b(
            "d2i_PrivateKey", _vp, _int, _vp, _p_vp, ctypes.c_long
        )
        self.i2d_pubkey: Callable[..., int] = b("i2d_PUBKEY", _int, _vp, _p_vp)
        self.i2d_private: Callable[..., int] = b("i2d_PrivateKey", _int, _vp, _p_vp)
        self.cleanse: Callable[..., None] = b("OPENSSL_cleanse", None, _vp, _size_t)


@functools.cache
def native() -> _Native:
    """The bound prototypes, with the gost engine loaded and registered."""
    engine()
    return _Native()


def free(pkey: int) -> None:
    """Release an ``EVP_PKEY*`` returned by this module (a no-op for 0)."""
    if pkey:
        native().pkey_free(pkey)


class _Ctx:
    """An ``EVP_PKEY_CTX*`` freed on exit; ``what`` names the operation in errors."""

    def __init__(self, ctx: int | None, what: str) -> None:
        if not ctx:
            raise crypto_error(f"{what}: EVP_PKEY_CTX_new")
        self.ptr = ctx
        self.what = what

    def __enter__(self) -> _Ctx:
        return self

    def __exit__(self, *exc: object) -> None:
        native().ctx_free(self.ptr)

    def ok(self, result: int, step: str, error_class: Any = CryptoError) -> None:
        if result <= 0:
            raise crypto_error(f"{self.what}: {step}", error_class)


def generate(paramset: ParamSet) -> int:
    """Generate a key pair in the engine; the caller owns the returned ``EVP_PKEY*``."""
    n = native()
    with _Ctx(n.ctx_new_id(paramset.pkey_nid, engine()), "key generation") as ctx:
        ctx.ok(n.keygen_init(ctx.ptr), "keygen_init")
        ctx.ok(n.ctrl_str(ctx.ptr, b"paramset", paramset.engine_name.encode()), "paramset")
        out = ctypes.c_void_p()
        ctx.ok(n.keygen(ctx.ptr, ctypes.byref(out)), "keygen")
    if not out.value:
        raise crypto_error("key generation: no key returned")
    return out.value


def _d2i(decoder: Callable[..., int | None], der: bytes, *prefix: Any) -> int | None:
    buf = ctypes.create_string_buffer(der, len(der))
    cursor = ctypes.c_void_p(ctypes.addressof(buf))
    try:
        pkey = decoder(*prefix, None, ctypes.byref(cursor), len(der))
    finally:
        native().cleanse(buf, len(der))
    if pkey:
        # OpenSSL 3 tries the provider decoders first; their failures stay queued on success.
        clear_errors()
    return pkey


def load_private(paramset: ParamSet, d_le: bytes) -> int:
    """Make an ``EVP_PKEY*`` from the little-endian scalar; the engine computes Q = d·P.

    Raises :class:`InvalidInputError` when d is not in [1, q-1]. The caller owns the result.
    """
    n = native()
    if len(d_le) != paramset.size:
        raise InvalidInputError(f"private key must be {paramset.size} bytes, got {len(d_le)}")
    pkey = _d2i(n.d2i_private, _keyder.encode_pkcs8(paramset, d_le), paramset.pkey_nid)
    if not pkey:
        raise crypto_error("private key import", InvalidInputError)
    try:
        _check(pkey, n.check, "private key check", InvalidInputError)
    except BaseException:
        free(pkey)
        raise
    return pkey


def load_public(paramset: ParamSet, point_le: bytes, *, check: bool = True) -> int:
    """Make an ``EVP_PKEY*`` from ``x_le‖y_le``; the decoder rejects points off the curve.

    With ``check`` (for points from outside) on a curve whose cofactor is not 1, the engine's full
    public key check also runs: it proves the point has order q, so no small-subgroup component
    can leak bits of d through VKO. On cofactor-1 curves every on-curve point but O has order q,
    so the decoder's check suffices. Raises :class:`MalformedDataError` for a bad point. The
    caller owns the result.
    """
    n = native()
    if len(point_le) != 2 * paramset.size:
        raise InvalidInputError(f"public key must be {2 * paramset.size} bytes, got {len(point_le)}")
    pkey = _d2i(n.d2i_pubkey, _keyder.encode_spki(paramset, point_le))
    if not pkey:
        raise crypto_error("public key import", MalformedDataError)
    if not check or paramset.cofactor == 1:
        return pkey
    try:
        _check(pkey, n.public_check, "public key check", MalformedDataError)
    except BaseException:
        free(pkey)
        raise
    return pkey


def _check(pkey: int, checker: Callable[..., int], what: str, error_class: Any) -> None:
    n = native()
    with _Ctx(n.ctx_new(pkey, None), what) as ctx:
        ctx.ok(checker(ctx.ptr), "check", error_class)


def _i2d(encoder: Callable[..., int], pkey: int, what: str) -> ctypes.Array[ctypes.c_char]:
    size = encoder(pkey, None)
    if size <= 0:
        raise crypto_error(what)
    buf = ctypes.create_string_buffer(size)
    cursor = ctypes.c_void_p(ctypes.addressof(buf))
    if encoder(pkey, ctypes.byref(cursor)) != size:
        raise crypto_error(what)
    return buf


def public_point(pkey: int) -> bytes:
    """Return ``x_le‖y_le`` of a key (private or public) through the engine's SPKI encoder."""
    return _keyder.decode_spki_point(_i2d(native().i2d_pubkey, pkey, "public key export").raw)


def private_scalar(pkey: int, paramset: ParamSet) -> bytes:
    """Return ``d_le`` through the engine's PKCS#8 encoder (wiping the intermediate buffer)."""
    buf = _i2d(native().i2d_private, pkey, "private key export")
    try:
        return _keyder.decode_pkcs8_scalar(buf.raw, paramset.size)
    finally:
        native().cleanse(buf, len(buf))


def sign_digest(pkey: int, digest: bytes, signature_size: int) -> bytes:
    """Sign a digest; returns s‖r big-endian exactly as the engine packs it.

    Written out flat (no helper objects): this is the hot path, and the binding's overhead over
    the engine's own time is a benchmarked target.
    """
    n = native()
    ctx = n.ctx_new(pkey, None)
    if not ctx:
        raise crypto_error("sign: EVP_PKEY_CTX_new")
    try:
        out = ctypes.create_string_buffer(signature_size)
        out_len = _size_t(signature_size)
        if n.sign_init(ctx) <= 0 or n.sign(ctx, out, ctypes.byref(out_len), digest, len(digest)) <= 0:
            raise crypto_error("sign")
    finally:
        n.ctx_free(ctx)
    if out_len.value != signature_size:
        raise CryptoError(f"sign: engine returned {out_len.value} bytes, expected {signature_size}")
    return out.raw


def verify_digest(pkey: int, digest: bytes, signature: bytes) -> bool:
    """True when ``signature`` (s‖r) is valid for ``digest``; False for any mismatch."""
    n = native()
    ctx = n.ctx_new(pkey, None)
    if not ctx:
        raise crypto_error("verify: EVP_PKEY_CTX_new")
    try:
        if n.verify_init(ctx) <= 0:
            raise crypto_error("verify: verify_init")
        result = n.verify(ctx, signature, len(signature), digest, len(digest))
    finally:
        n.ctx_free(ctx)
    if result != 1:
        # A bad signature queues "signature mismatch"; it is an answer, not an error.
        clear_errors()
    return bool(result == 1)


def derive(pkey: int, peer: int, ukm: bytes, *, vko_bits: int | None, output_size: int) -> bytes:
    """Run the engine's key agreement.

    ``vko_bits`` 256/512 selects VKO_GOSTR3410_2012_256/512 (R 50.1.113-2016 §4.3) with the UKM
    read little-endian; ``None`` selects the engine's KEG (R 1323565.1.020-2018, 32-byte UKM).
    """
    n = native()
    out = ctypes.create_string_buffer(output_size)
    out_len = _size_t(output_size)
    with _Ctx(n.ctx_new(pkey, None), "key agreement") as ctx:
        ctx.ok(n.derive_init(ctx.ptr), "derive_init")
        if vko_bits is not None:
            ctx.ok(n.ctrl_str(ctx.ptr, b"vko", str(vko_bits).encode()), "vko")
        ukm_buf = ctypes.create_string_buffer(ukm, len(ukm))
        ctx.ok(n.ctrl(ctx.ptr, -1, -1, _EVP_PKEY_CTRL_SET_IV, len(ukm), ukm_buf), "ukm")
        ctx.ok(n.derive_set_peer(ctx.ptr, peer), "set_peer", InvalidInputError)
        ctx.ok(n.derive(ctx.ptr, out, ctypes.byref(out_len)), "derive")
    try:
        if out_len.value != output_size:
            raise CryptoError(f"key agreement: engine returned {out_len.value} bytes, expected {output_size}")
        return out.raw
    finally:
        n.cleanse(out, output_size)

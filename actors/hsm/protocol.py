"""Messages of the unit RPC and their JSON bodies.

Every request is a frozen dataclass registered under one :class:`Op`; every reply is a frozen
dataclass too. Bodies are compact JSON objects with the dataclass field names as keys; ``bytes``
fields are base64 strings, ``tuple[bytes, ...]`` lists of them, a :class:`KeyRef` a nested
object. Decoding validates every field's type and raises :class:`HsmRequestError` (the unit
answers it) or :class:`HsmProtocolError` (a reply the client cannot read).

Operations::

    HEALTH        Health()                               -> HealthReport
    METRICS       Metrics()                              -> MetricsReport
    GENERATE_KEY  GenerateKey(algorithm, paramset)       -> KeyInfo (blob set by soft units)
    SIGN_DIGESTS  SignDigests(key, digests)              -> Signatures (same order)
    PUBLIC_KEY    GetPublicKey(key)                      -> KeyInfo (no blob)
    AGREE         Agree(key, peer_public, ukm, size)     -> Secret (VKO / ECDH shared secret)
    UNWRAP        Unwrap(key, peer_public, ukm, iv, wrapped, cipher) -> Secret (KEG + KImp15)
    INJECT_FAULT  InjectFault(kind)                      -> Done (only with --enable-test-faults)

Signatures are GOST ``s‖r`` (each |q| bytes, big-endian) and ECDSA ``r‖s`` (32 + 32 bytes), the
raw forms a PKCS#11 token returns; formats re-encode them (ECDSA as DER). Public keys are GOST
``x_le‖y_le`` and ECDSA X9.62 uncompressed points.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeVar

from actors.hsm.errors import (
    HsmError,
    HsmProtocolError,
    HsmRequestError,
    UnknownOperationError,
    error_for_code,
)

PROTOCOL_VERSION: Final = 1
MAX_DIGESTS_PER_CALL: Final = 10_000
MAX_OP_ID_LENGTH: Final = 128
KEY_ID_HEX_LENGTH: Final = 32
"""A key id is 16 random bytes written as 32 lowercase hex digits."""


class Op(enum.IntEnum):
    """Operation codes (the ``kind`` byte of a request frame)."""

    HEALTH = 1
    METRICS = 2
    GENERATE_KEY = 3
    SIGN_DIGESTS = 4
    PUBLIC_KEY = 5
    AGREE = 6
    UNWRAP = 7
    INJECT_FAULT = 0x7F


class KeyAlgorithm(enum.StrEnum):
    """Key types a unit can hold."""

    GOST3410_2012_256 = "gost3410_2012_256"
    GOST3410_2012_512 = "gost3410_2012_512"
    ECDSA_P256 = "ecdsa_p256"


class FaultKind(enum.StrEnum):
    """Faults a test can inject into a unit started with ``--enable-test-faults``."""

    CRASH_SLOT = "crash_slot"
    """The slot that takes the request raises an unexpected exception (and is replaced)."""
    CLOSE_SESSION = "close_session"
    """PKCS#11: the slot's session is closed behind its back (the next call must recover)."""
    EXIT_UNIT = "exit_unit"
    """The unit process exits at once with status 70, as a native crash would end it."""


@dataclass(frozen=True, slots=True)
class KeyRef:
    """Names a key for an operation."""

    key_id: str
    """The key id (32 hex digits) the unit returned from GENERATE_KEY."""
    blob: bytes | None = None
    """Soft units: the wrapped key blob (it also carries the key id, which must match). PKCS#11: None."""


# --- requests ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Health:
    """Ask for liveness and the unit's identity; answered without going through a slot."""

    op: ClassVar[Op] = Op.HEALTH


@dataclass(frozen=True, slots=True)
class Metrics:
    """Ask for the unit's counters and latency percentiles."""

    op: ClassVar[Op] = Op.METRICS


@dataclass(frozen=True, slots=True)
class GenerateKey:
    """Generate a key pair in the unit."""

    op: ClassVar[Op] = Op.GENERATE_KEY
    algorithm: str
    """A :class:`KeyAlgorithm` value."""
    paramset: str | None = None
    """GOST: a ``signing.gost.ParamSet`` member name (``TC26_256_A`` ...); None for ECDSA."""


@dataclass(frozen=True, slots=True)
class SignDigests:
    """Sign one or more digests with one key; the reply keeps their order."""

    op: ClassVar[Op] = Op.SIGN_DIGESTS
    key: KeyRef
    """The signing key."""
    digests: tuple[bytes, ...]
    """Digests to sign (GOST: |q| bytes; ECDSA: 32, 48 or 64 bytes)."""


@dataclass(frozen=True, slots=True)
class GetPublicKey:
    """Return a key's public half."""

    op: ClassVar[Op] = Op.PUBLIC_KEY
    key: KeyRef
    """The key."""


@dataclass(frozen=True, slots=True)
class Agree:
    """Key agreement: GOST VKO_GOSTR3410_2012_256/512, or ECDH (the x coordinate) for P-256."""

    op: ClassVar[Op] = Op.AGREE
    key: KeyRef
    """Our private key."""
    peer_public: bytes
    """The peer's public key in this key's encoding."""
    ukm: bytes = b""
    """GOST: the user keying material (1..|q|/2 bytes, little-endian, non-zero). ECDH: empty."""
    output_size: int = 32
    """GOST: 32 (VKO_256) or 64 (VKO_512, 512-bit keys). ECDH: 32."""


@dataclass(frozen=True, slots=True)
class Unwrap:
    """Unwrap a content-encryption key sent to us: KEG(d, Q_peer, ukm) then KImp15 (GOST keys only)."""

    op: ClassVar[Op] = Op.UNWRAP
    key: KeyRef
    """Our private key."""
    peer_public: bytes
    """The sender's (ephemeral) public key, ``x_le‖y_le``."""
    ukm: bytes
    """32 bytes of UKM for KEG (R 1323565.1.020-2018)."""
    iv: bytes
    """KImp15 IV: 8 bytes (Kuznyechik) or 4 (Magma), as the format in use prescribes."""
    wrapped: bytes
    """The KExp15 output."""
    cipher: str = "kuznyechik"
    """``kuznyechik`` or ``magma``."""


@dataclass(frozen=True, slots=True)
class InjectFault:
    """Test-only: make the unit fail in a chosen way (refused unless the unit allows it)."""

    op: ClassVar[Op] = Op.INJECT_FAULT
    kind: str
    """A :class:`FaultKind` value."""


Request = Health | Metrics | GenerateKey | SignDigests | GetPublicKey | Agree | Unwrap | InjectFault

# --- replies -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What a unit says about itself."""

    status: str
    """``ok`` (every slot alive), ``degraded`` (some slots down) or ``failing`` (none)."""
    unit_id: str
    """The id given at start (``--unit-id``)."""
    backend: str
    """``soft`` or ``pkcs11``."""
    pid: int
    """The unit's process id."""
    slots: int
    """Configured slot workers."""
    slots_alive: int
    """Slot workers running now."""
    slot_restarts: int
    """Slot workers replaced since start."""
    in_flight: int
    """Requests accepted and not yet answered, all connections together."""
    uptime_s: float
    """Seconds since the unit became ready."""
    kek_id: str | None = None
    """Soft units: fingerprint of the KEK (equal on a hot-standby pair)."""
    token_label: str | None = None
    """PKCS#11 units: the token's label."""


@dataclass(frozen=True, slots=True)
class MetricsReport:
    """Counters since start: per operation ``{count, errors, items, mean_us, p50_us, p99_us}``."""

    ops: dict[str, Any]
    """Per operation name: counts and service-time percentiles (inside the unit, in µs)."""
    errors: dict[str, int]
    """Per error code: how many replies carried it."""
    in_flight: int
    """Requests in progress now."""
    slot_restarts: int
    """Slot workers replaced since start."""
    key_cache: dict[str, int]
    """Soft units: ``{hits, misses}`` of the unwrapped-key caches of all slots."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key as the unit describes it."""

    key_id: str
    """32 hex digits; PKCS#11: also the object's CKA_ID (bytes) and CKA_LABEL (hex)."""
    algorithm: str
    """A :class:`KeyAlgorithm` value."""
    paramset: str | None
    """GOST parameter set name; None for ECDSA."""
    public_key: bytes
    """GOST ``x_le‖y_le``; ECDSA uncompressed X9.62 point."""
    blob: bytes | None = None
    """Soft units, GENERATE_KEY only: the key wrapped under the unit's KEK."""

    def ref(self, blob: bytes | None = None) -> KeyRef:
        """A :class:`KeyRef` for this key (with this info's blob unless another is given)."""
        return KeyRef(key_id=self.key_id, blob=blob if blob is not None else self.blob)


@dataclass(frozen=True, slots=True)
class Signatures:
    """One signature per digest, in request order."""

    signatures: tuple[bytes, ...]
    """Raw signatures (GOST s‖r, ECDSA r‖s)."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A derived or unwrapped secret that leaves the unit by design (per-message keys, never KEKs)."""

    secret: bytes
    """The secret bytes."""


@dataclass(frozen=True, slots=True)
class Done:
    """An empty successful reply."""


Reply = HealthReport | MetricsReport | KeyInfo | Signatures | Secret | Done

# --- codec ---------------------------------------------------------------------------------------

_Decoder = Callable[[Any, str], Any]
_Encoder = Callable[[Any], Any]
_M = TypeVar("_M")


def _b64e(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _b64d(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise HsmRequestError(f"{where}: expected a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise HsmRequestError(f"{where}: invalid base64") from exc


def _typed(expected: type | tuple[type, ...], label: str) -> _Decoder:
    def decode(value: Any, where: str) -> Any:
        # bool is an int in Python; an int field must not accept true/false.
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise HsmRequestError(f"{where}: expected {label}")
        return value

    return decode


def _optional(inner: _Decoder) -> _Decoder:
    return lambda value, where: None if value is None else inner(value, where)


def _bytes_tuple(value: Any, where: str) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        raise HsmRequestError(f"{where}: expected a list")
    if len(value) > MAX_DIGESTS_PER_CALL:
        raise HsmRequestError(f"{where}: more than {MAX_DIGESTS_PER_CALL} items")
    return tuple(_b64d(item, where) for item in value)


def _key_ref(value: Any, where: str) -> KeyRef:
    if not isinstance(value, dict):
        raise HsmRequestError(f"{where}: expected an object")
    key_id = value.get("key_id")
    if not isinstance(key_id, str) or len(key_id) != KEY_ID_HEX_LENGTH:
        raise HsmRequestError(f"{where}.key_id: expected {KEY_ID_HEX_LENGTH} hex digits")
    try:
        bytes.fromhex(key_id)
    except ValueError as exc:
        raise HsmRequestError(f"{where}.key_id: expected {KEY_ID_HEX_LENGTH} hex digits") from exc
    blob = value.get("blob")
    return KeyRef(key_id=key_id.lower(), blob=None if blob is None else _b64d(blob, f"{where}.blob"))


def _encode_key_ref(ref: KeyRef) -> dict[str, Any]:
    out: dict[str, Any] = {"key_id": ref.key_id}
    if ref.blob is not None:
        out["blob"] = _b64e(ref.blob)
    return out


def _field_codec(annotation: Any) -> tuple[_Encoder, _Decoder]:
    """Encoder and decoder for one field type (the small set the messages use)."""
    plain: dict[Any, tuple[_Encoder, _Decoder]] = {
        bytes: (_b64e, _b64d),
        str: (lambda v: v, _typed(str, "a string")),
        int: (lambda v: v, _typed(int, "an integer")),
        float: (lambda v: v, _typed((int, float), "a number")),
        KeyRef: (_encode_key_ref, _key_ref),
        tuple[bytes, ...]: (lambda v: [_b64e(item) for item in v], _bytes_tuple),
        dict[str, Any]: (lambda v: v, _typed(dict, "an object")),
        dict[str, int]: (lambda v: v, _typed(dict, "an object")),
    }
    if annotation in plain:
        return plain[annotation]
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) and len(args) == 2 and type(None) in args:
        inner = next(arg for arg in args if arg is not type(None))
        encode, decode = plain[inner]
        return (lambda v: None if v is None else encode(v)), _optional(decode)
    raise TypeError(f"no wire codec for field type {annotation!r}")


@dataclass(frozen=True, slots=True)
class _Codec:
    cls: type[Any]
    fields: tuple[tuple[str, _Encoder, _Decoder, bool], ...]
    """(name, encode, decode, required)."""

    def encode(self, message: Any, extra: dict[str, Any] | None = None) -> bytes:
        body = {name: encode(getattr(message, name)) for name, encode, _, _ in self.fields}
        if extra:
            body.update(extra)
        return json.dumps(body, separators=(",", ":")).encode()

    def decode(self, body: bytes) -> tuple[Any, dict[str, Any]]:
        """The message and the raw JSON object (for envelope fields such as ``op_id``)."""
        try:
            data = json.loads(body) if body else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise HsmRequestError(f"{self.cls.__name__}: body is not JSON") from exc
        if not isinstance(data, dict):
            raise HsmRequestError(f"{self.cls.__name__}: body must be a JSON object")
        values: dict[str, Any] = {}
        for name, _, decode, required in self.fields:
            if name in data:
                values[name] = decode(data[name], f"{self.cls.__name__}.{name}")
            elif required:
                raise HsmRequestError(f"{self.cls.__name__}.{name}: missing")
        return self.cls(**values), data


def _codec(cls: type[Any]) -> _Codec:
    hints = typing.get_type_hints(cls)
    fields = []
    for field in dataclasses.fields(cls):
        encode, decode = _field_codec(hints[field.name])
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        fields.append((field.name, encode, decode, required))
    return _Codec(cls, tuple(fields))


_REQUESTS: dict[int, _Codec] = {
    cls.op: _codec(cls)
    for cls in (Health, Metrics, GenerateKey, SignDigests, GetPublicKey, Agree, Unwrap, InjectFault)
}
_REPLIES: dict[type[Any], _Codec] = {
    cls: _codec(cls) for cls in (HealthReport, MetricsReport, KeyInfo, Signatures, Secret, Done)
}
REPLY_TYPES: Final[dict[Op, type[Any]]] = {
    Op.HEALTH: HealthReport,
    Op.METRICS: MetricsReport,
    Op.GENERATE_KEY: KeyInfo,
    Op.SIGN_DIGESTS: Signatures,
    Op.PUBLIC_KEY: KeyInfo,
    Op.AGREE: Secret,
    Op.UNWRAP: Secret,
    Op.INJECT_FAULT: Done,
}
"""Which reply type each operation answers with."""


def is_known_op(kind: int) -> bool:
    """True when ``kind`` is a request operation code."""
    return kind in _REQUESTS


def encode_request(request: Request, *, op_id: str | None = None) -> bytes:
    """The JSON body of a request; ``op_id`` (the operation it serves) rides along for the unit's logs."""
    return _REQUESTS[request.op].encode(request, {"op_id": op_id} if op_id else None)


def decode_request(op: int, body: bytes) -> tuple[Request, str | None]:
    """Parse a request body for operation ``op`` into ``(request, op_id)``.

    Raises :class:`UnknownOperationError` for an unknown ``op`` and :class:`HsmRequestError` for
    a malformed body.
    """
    codec = _REQUESTS.get(op)
    if codec is None:
        raise UnknownOperationError(f"unknown operation code {op}")
    request, data = codec.decode(body)
    op_id = data.get("op_id")
    return request, op_id if isinstance(op_id, str) and len(op_id) <= MAX_OP_ID_LENGTH else None


def encode_reply(reply: Reply) -> bytes:
    """The JSON body of a successful reply."""
    return _REPLIES[type(reply)].encode(reply)


def decode_reply(reply_type: type[_M], body: bytes) -> _M:
    """Parse a successful reply; raises :class:`HsmProtocolError` when it is malformed."""
    try:
        reply: _M = _REPLIES[reply_type].decode(body)[0]
    except HsmRequestError as exc:
        raise HsmProtocolError(f"malformed reply: {exc}") from exc
    return reply


def encode_error(error: HsmError) -> bytes:
    """The JSON body of an error reply."""
    return json.dumps({"code": error.code, "message": str(error)}, separators=(",", ":")).encode()


def decode_error(body: bytes) -> HsmError:
    """Rebuild the error of an error reply."""
    try:
        data = json.loads(body)
        code, message = data["code"], data["message"]
    except (ValueError, KeyError, TypeError) as exc:
        raise HsmProtocolError("malformed error reply") from exc
    if not isinstance(code, str) or not isinstance(message, str):
        raise HsmProtocolError("malformed error reply")
    return error_for_code(code, message)

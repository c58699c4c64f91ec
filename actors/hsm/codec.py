"""Frame bodies of the unit RPC: compact binary for the signing hot path, JSON for the rest.

**Hot path (binary, all integers big-endian).** SIGN_DIGESTS is most of the traffic, and JSON with
base64 cost ~20 µs per call on both sides together (measured with ``bench/hsm_probe.py``), so::

    SignDigests     key_id (16) ‖ blob_len u16 ‖ blob ‖ digest_size u8 ‖ count u16 ‖ digests
                    ‖ [op_id_len u8 ‖ op_id (UTF-8)]       (blob_len 0 = no blob; digests all one size)
    Signatures      size u16 ‖ count u16 ‖ signatures      (one key signs: all one size)
    SignMany        count u16 ‖ count × (key_id (16) ‖ blob_len u16 ‖ blob ‖ digest_len u8 ‖ digest
                                     ‖ op_id_len u8 ‖ op_id)            (op_id_len 0 = none)
    ManySignatures  count u16 ‖ count × (status u8 ‖ len u16 ‖ data)
                                     (status 0: data = signature; 1: data = JSON {"code", "message"})

**Everything else (JSON).** A compact JSON object with the dataclass field names as keys; ``bytes``
fields are base64 strings, ``tuple[bytes, ...]`` lists of them, a :class:`KeyRef` a nested
object; requests may carry ``"op_id"``. Missing optional fields take their defaults, unknown
keys are ignored (a newer client may send more).

Decoding validates every length and type and raises :class:`HsmRequestError` (the unit answers
it) or, for replies, :class:`HsmProtocolError` (the client cannot read what the unit sent).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import struct
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

from actors.hsm.errors import (
    HsmError,
    HsmProtocolError,
    HsmRequestError,
    UnknownOperationError,
    error_for_code,
)
from actors.hsm.protocol import (
    KEY_ID_HEX_LENGTH,
    MAX_DIGESTS_PER_CALL,
    MAX_OP_ID_LENGTH,
    REQUEST_TYPES,
    Done,
    HealthReport,
    KeyInfo,
    KeyRef,
    ManySignatures,
    MetricsReport,
    Reply,
    Request,
    Secret,
    Signatures,
    SignDigests,
    SignItem,
    SignMany,
)

_M = TypeVar("_M")
_Decoder = Callable[[Any, str], Any]
_Encoder = Callable[[Any], Any]
_U16: Final = struct.Struct(">H")
_SIGNATURES_HEAD: Final = struct.Struct(">HH")
_STATUS_AND_SIZE: Final = struct.Struct(">BH")
_KEY_ID_SIZE: Final = KEY_ID_HEX_LENGTH // 2


class _BodyCodec(Protocol):
    def encode(self, message: Any, op_id: str | None = None) -> bytes: ...

    def decode(self, body: bytes) -> tuple[Any, str | None]: ...


# --- binary hot path -----------------------------------------------------------------------------


class _Cursor:
    """Reads a binary body front to back; running short is a :class:`HsmRequestError`."""

    __slots__ = ("body", "offset", "what")

    def __init__(self, body: bytes, what: str) -> None:
        self.body = body
        self.offset = 0
        self.what = what

    def take(self, size: int) -> bytes:
        end = self.offset + size
        if end > len(self.body):
            raise HsmRequestError(f"{self.what}: truncated body")
        chunk = self.body[self.offset : end]
        self.offset = end
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        value: int = _U16.unpack(self.take(2))[0]
        return value

    def key_ref(self) -> KeyRef:
        key_id = self.take(_KEY_ID_SIZE).hex()
        blob_size = self.u16()
        return KeyRef(key_id, self.take(blob_size) if blob_size else None)

    @property
    def rest(self) -> int:
        return len(self.body) - self.offset


def _key_id_bytes(key_id: str) -> bytes:
    try:
        raw = bytes.fromhex(key_id)
    except ValueError:
        raw = b""
    if len(raw) != _KEY_ID_SIZE:
        raise HsmRequestError(f"a key id is {KEY_ID_HEX_LENGTH} hex digits")
    return raw


def _key_ref_bytes(key: KeyRef) -> list[bytes]:
    blob = key.blob or b""
    return [_key_id_bytes(key.key_id), _U16.pack(len(blob)), blob]


def sign_item_size(item: SignItem) -> int:
    """Bytes ``item`` takes in a SIGN_MANY body, without encoding it.

    Raises :class:`HsmRequestError` when it cannot be encoded (a client checks an item before
    queueing it: inside a coalesced frame it would fail the whole frame).
    """
    if not 1 <= len(item.digest) <= 255:
        raise HsmRequestError("a digest is 1..255 bytes")
    _key_id_bytes(item.key.key_id)
    blob = len(item.key.blob or b"")
    if blob > 0xFFFF:
        raise HsmRequestError("a key blob is at most 65535 bytes")
    tag = len((item.op_id or "").encode()[:MAX_OP_ID_LENGTH]) if item.op_id else 0
    return _KEY_ID_SIZE + 2 + blob + 1 + len(item.digest) + 1 + tag


def _check_count(count: int, what: str) -> None:
    if not 1 <= count <= MAX_DIGESTS_PER_CALL:
        raise HsmRequestError(f"{what}: 1..{MAX_DIGESTS_PER_CALL} items per call, not {count}")


class _SignDigestsCodec:
    """SIGN_DIGESTS requests (see the module docstring)."""

    def encode(self, message: SignDigests, op_id: str | None = None) -> bytes:
        digests = message.digests
        _check_count(len(digests), "SignDigests")
        size = len(digests[0])
        if not 1 <= size <= 255 or any(len(digest) != size for digest in digests):
            raise HsmRequestError("the digests of one call must all have one length of 1..255 bytes")
        parts = [*_key_ref_bytes(message.key), bytes((size,)), _U16.pack(len(digests)), *digests]
        if op_id:
            tag = op_id.encode()[:MAX_OP_ID_LENGTH]
            parts += [bytes((len(tag),)), tag]
        return b"".join(parts)

    def decode(self, body: bytes) -> tuple[SignDigests, str | None]:
        cursor = _Cursor(body, "SignDigests")
        key = cursor.key_ref()
        size, count = cursor.u8(), cursor.u16()
        _check_count(count, "SignDigests")
        if not size:
            raise HsmRequestError("SignDigests: empty digests")
        block = cursor.take(size * count)
        digests = tuple(block[start : start + size] for start in range(0, len(block), size))
        op_id = None
        if cursor.rest:
            op_id = cursor.take(cursor.u8()).decode("utf-8", "replace")
            if cursor.rest:
                raise HsmRequestError("SignDigests: trailing bytes after op_id")
        return SignDigests(key=key, digests=digests), op_id


class _SignaturesCodec:
    """SIGN_DIGESTS replies (see the module docstring)."""

    def encode(self, message: Signatures, op_id: str | None = None) -> bytes:
        signatures = message.signatures
        size = len(signatures[0]) if signatures else 0
        if any(len(signature) != size for signature in signatures):
            raise HsmProtocolError("signatures of one call differ in length")
        return _SIGNATURES_HEAD.pack(size, len(signatures)) + b"".join(signatures)

    def decode(self, body: bytes) -> tuple[Signatures, str | None]:
        cursor = _Cursor(body, "Signatures")
        size, count = cursor.u16(), cursor.u16()
        if cursor.rest != size * count:
            raise HsmRequestError("Signatures: body length does not match its header")
        block = cursor.take(size * count)
        return Signatures(tuple(block[start : start + size] for start in range(0, len(block), size))), None


class _SignManyCodec:
    """SIGN_MANY requests (see the module docstring)."""

    def encode(self, message: SignMany, op_id: str | None = None) -> bytes:
        _check_count(len(message.items), "SignMany")
        parts = [_U16.pack(len(message.items))]
        for item in message.items:
            if not 1 <= len(item.digest) <= 255:
                raise HsmRequestError("a digest is 1..255 bytes")
            tag = (item.op_id or "").encode()[:MAX_OP_ID_LENGTH]
            parts += [
                *_key_ref_bytes(item.key),
                bytes((len(item.digest),)),
                item.digest,
                bytes((len(tag),)),
                tag,
            ]
        return b"".join(parts)

    def decode(self, body: bytes) -> tuple[SignMany, str | None]:
        # The unit's hot path (every coalesced signature passes here): plain offsets instead of a
        # cursor, and items naming the same key as the one before share its KeyRef.
        try:
            items, offset = self._items(body)
        except (IndexError, struct.error):
            raise HsmRequestError("SignMany: truncated body") from None
        if offset != len(body):
            raise HsmRequestError("SignMany: trailing bytes")
        return SignMany(tuple(items)), None

    @staticmethod
    def _items(body: bytes) -> tuple[list[SignItem], int]:
        (count,) = _U16.unpack_from(body, 0)
        _check_count(count, "SignMany")
        items = []
        offset = 2
        last_raw, key = b"", KeyRef("")
        for _ in range(count):
            start = offset + _KEY_ID_SIZE
            (blob_size,) = _U16.unpack_from(body, start)
            offset = start + 2 + blob_size
            raw = body[start - _KEY_ID_SIZE : offset]
            if raw != last_raw:
                if len(raw) != offset - start + _KEY_ID_SIZE:
                    raise IndexError  # the blob runs past the body
                key = KeyRef(raw[:_KEY_ID_SIZE].hex(), raw[_KEY_ID_SIZE + 2 :] or None)
                last_raw = raw
            size = body[offset]
            if not size:
                raise HsmRequestError("SignMany: empty digest")
            digest = body[offset + 1 : offset + 1 + size]
            offset += 1 + size
            tag = body[offset]
            op_id = body[offset + 1 : offset + 1 + tag].decode("utf-8", "replace") or None
            offset += 1 + tag
            if len(digest) != size or offset > len(body):
                raise IndexError
            items.append(SignItem(key, digest, op_id))
        return items, offset


class _ManySignaturesCodec:
    """SIGN_MANY replies (see the module docstring)."""

    def encode(self, message: ManySignatures, op_id: str | None = None) -> bytes:
        parts = [_U16.pack(len(message.outcomes))]
        for outcome in message.outcomes:
            status, data = (
                (b"\x01", encode_error(outcome)) if isinstance(outcome, HsmError) else (b"\x00", outcome)
            )
            parts += [status, _U16.pack(len(data)), data]
        return b"".join(parts)

    def decode(self, body: bytes) -> tuple[ManySignatures, str | None]:
        # The client's hot path (every coalesced reply passes here): plain offsets instead of a
        # cursor (~1.5 → ~0.7 µs for one signature), the same checks.
        outcomes: list[bytes | HsmError] = []
        try:
            (count,) = _U16.unpack_from(body, 0)
            offset = 2
            for _ in range(count):
                status, size = _STATUS_AND_SIZE.unpack_from(body, offset)
                start = offset + _STATUS_AND_SIZE.size
                offset = start + size
                if offset > len(body):
                    raise HsmRequestError("ManySignatures: truncated body")
                if status > 1:
                    raise HsmRequestError("ManySignatures: unknown item status")
                data = body[start:offset]
                outcomes.append(decode_error(data) if status else data)
        except struct.error:
            raise HsmRequestError("ManySignatures: truncated body") from None
        if offset != len(body):
            raise HsmRequestError("ManySignatures: trailing bytes")
        return ManySignatures(tuple(outcomes)), None


# --- JSON for the rest ---------------------------------------------------------------------------


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
class _JsonCodec:
    cls: type[Any]
    fields: tuple[tuple[str, _Encoder, _Decoder, bool], ...]
    """(name, encode, decode, required)."""

    @classmethod
    def of(cls, message_type: type[Any]) -> _JsonCodec:
        hints = typing.get_type_hints(message_type)
        fields = []
        for field in dataclasses.fields(message_type):
            encode, decode = _field_codec(hints[field.name])
            required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
            fields.append((field.name, encode, decode, required))
        return cls(message_type, tuple(fields))

    def encode(self, message: Any, op_id: str | None = None) -> bytes:
        body = {name: encode(getattr(message, name)) for name, encode, _, _ in self.fields}
        if op_id:
            body["op_id"] = op_id[:MAX_OP_ID_LENGTH]
        return json.dumps(body, separators=(",", ":")).encode()

    def decode(self, body: bytes) -> tuple[Any, str | None]:
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
        op_id = data.get("op_id")
        return self.cls(**values), op_id if isinstance(op_id, str) and len(
            op_id
        ) <= MAX_OP_ID_LENGTH else None


def _codec_for(message_type: type[Any]) -> _BodyCodec:
    if message_type is SignDigests:
        return _SignDigestsCodec()
    if message_type is Signatures:
        return _SignaturesCodec()
    if message_type is SignMany:
        return _SignManyCodec()
    if message_type is ManySignatures:
        return _ManySignaturesCodec()
    return _JsonCodec.of(message_type)


_REQUESTS: dict[int, _BodyCodec] = {op: _codec_for(cls) for op, cls in REQUEST_TYPES.items()}
_REPLIES: dict[type[Any], _BodyCodec] = {
    cls: _codec_for(cls)
    for cls in (HealthReport, MetricsReport, KeyInfo, Signatures, ManySignatures, Secret, Done)
}


def encode_request(request: Request, *, op_id: str | None = None) -> bytes:
    """The body of a request; ``op_id`` (the operation it serves) rides along for the unit's logs."""
    return _REQUESTS[request.op].encode(request, op_id)


def decode_request(op: int, body: bytes) -> tuple[Request, str | None]:
    """Parse a request body for operation ``op`` into ``(request, op_id)``.

    Raises :class:`UnknownOperationError` for an unknown ``op`` and :class:`HsmRequestError` for
    a malformed body.
    """
    codec = _REQUESTS.get(op)
    if codec is None:
        raise UnknownOperationError(f"unknown operation code {op}")
    request: Request
    request, op_id = codec.decode(body)
    return request, op_id


def encode_reply(reply: Reply) -> bytes:
    """The body of a successful reply."""
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

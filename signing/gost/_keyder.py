"""Just enough DER to hand raw GOST keys to the gost engine and take them back.

The engine reads and writes keys only as SubjectPublicKeyInfo / PKCS#8, so this module wraps
``x_le‖y_le`` and ``d_le`` in those structures and unwraps the engine's own output. It knows
exactly the shapes the engine produces; the general ASN.1/PKI layer lives in ``signing.asn1``.
"""

from __future__ import annotations

from signing.errors import MalformedDataError
from signing.gost.params import ParamSet

_SEQUENCE = 0x30
_INTEGER = 0x02
_BIT_STRING = 0x03
_OCTET_STRING = 0x04
_OID = 0x06


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _length(len(value)) + value


def _oid(dotted: str) -> bytes:
    arcs = [int(part) for part in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _tlv(_OID, bytes(body))


def _algorithm(paramset: ParamSet) -> bytes:
    params = _oid(paramset.oid)
    if paramset.digest_param_in_spki:
        params += _oid(paramset.digest_oid)
    return _tlv(_SEQUENCE, _oid(paramset.public_key_algorithm_oid) + _tlv(_SEQUENCE, params))


def encode_spki(paramset: ParamSet, point_le: bytes) -> bytes:
    """SubjectPublicKeyInfo for ``x_le‖y_le`` (BIT STRING ⊃ OCTET STRING, as RFC 9215 says)."""
    key = _tlv(_BIT_STRING, b"\x00" + _tlv(_OCTET_STRING, point_le))
    return _tlv(_SEQUENCE, _algorithm(paramset) + key)


def encode_pkcs8(paramset: ParamSet, d_le: bytes) -> bytes:
    """PKCS#8 PrivateKeyInfo with privateKey = OCTET STRING ⊃ OCTET STRING(d_le).

    The nested form is the one the engine cannot mistake: it reads the bare form (what it
    writes itself) by guessing from the first byte, which fails for some values of d.
    """
    version = _tlv(_INTEGER, b"\x00")
    key = _tlv(_OCTET_STRING, _tlv(_OCTET_STRING, d_le))
    return _tlv(_SEQUENCE, version + _algorithm(paramset) + key)


class _Reader:
    """A cursor over one DER buffer; every read checks bounds."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def at_end(self) -> bool:
        return self._pos == len(self._data)

    def read(self, expected_tag: int) -> bytes:
        data, pos = self._data, self._pos
        if pos + 2 > len(data) or data[pos] != expected_tag:
            raise MalformedDataError(f"DER: expected tag 0x{expected_tag:02x} at offset {pos}")
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            if count == 0 or count > 4 or pos + count > len(data):
                raise MalformedDataError("DER: bad length")
            length = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        if pos + length > len(data):
            raise MalformedDataError("DER: value runs past the end")
        self._pos = pos + length
        return data[pos : pos + length]


def decode_spki_point(spki: bytes) -> bytes:
    """Return ``x_le‖y_le`` from a GOST SubjectPublicKeyInfo."""
    outer = _Reader(_Reader(spki).read(_SEQUENCE))
    outer.read(_SEQUENCE)
    bits = outer.read(_BIT_STRING)
    if not bits or bits[0] != 0:
        raise MalformedDataError("DER: public key BIT STRING has unused bits")
    inner = _Reader(bits[1:])
    point = inner.read(_OCTET_STRING)
    if not inner.at_end():
        raise MalformedDataError("DER: trailing data after the public key")
    return point


def decode_pkcs8_scalar(pkcs8: bytes, size: int) -> bytes:
    """Return ``d_le`` (``size`` bytes) from the engine's PKCS#8 PrivateKeyInfo.

    The engine writes the bare ``d_le`` bytes as the privateKey OCTET STRING; it also reads (and,
    with ``GOST_PK_FORMAT`` set, writes) a nested OCTET STRING(d_le) or a big-endian INTEGER.
    The bare form is recognised by its exact length first, as the engine itself does.
    """
    outer = _Reader(_Reader(pkcs8).read(_SEQUENCE))
    outer.read(_INTEGER)
    outer.read(_SEQUENCE)
    wrapped = outer.read(_OCTET_STRING)
    if len(wrapped) == size:
        return wrapped
    if wrapped[:1] == bytes([_OCTET_STRING]):
        scalar = _Reader(wrapped).read(_OCTET_STRING)
        if len(scalar) != size:
            raise MalformedDataError("DER: private key has the wrong length")
        return scalar
    # Byte reversal, not int(): the scalar is never turned into a Python number.
    big_endian = _Reader(wrapped).read(_INTEGER)
    if len(big_endian) == size + 1 and big_endian[0] == 0:
        big_endian = big_endian[1:]
    if not big_endian or len(big_endian) > size:
        raise MalformedDataError("DER: private key has the wrong length")
    return big_endian[::-1] + bytes(size - len(big_endian))

"""OCSP (RFC 6960) for a CA that answers for its own certificates: requests, responses, errors.

* :func:`parse_request` reads an ``OCSPRequest`` (DER) into an :class:`OcspRequest`: its CertIDs
  and its nonce. Anything this responder cannot answer is refused as ``MalformedDataError`` (the
  caller answers ``malformedRequest``): truncated or trailing DER, no CertID or more than allowed,
  a critical extension it does not know, a nonce outside RFC 8954's 1..32 octets.
* :class:`IssuerHashes` says whether a CertID names a CA: issuerNameHash is the hash of the DER of
  the CA's subject, issuerKeyHash the hash of its subjectPublicKey bits (RFC 6960 §4.1.1), with the
  CertID's own hash algorithm: SHA-1 (what ``openssl ocsp`` sends by default), SHA-2 or Streebog.
* :func:`prepare_response` builds the complete to-be-signed ``ResponseData`` (responderID byKey,
  producedAt, one SingleResponse per CertID in request order with thisUpdate/nextUpdate, the
  request's nonce extension echoed byte for byte); :attr:`PreparedOcspResponse.digest` is what the
  CA key signs, in the HSM; :meth:`PreparedOcspResponse.finish` checks the signature with the CA's
  public key and wraps the ``BasicOCSPResponse`` (with the CA certificate in ``certs``, so clients
  that only know the issuer by name find the signer) in a successful ``OCSPResponse``.
  The CA signs directly, as RFC 6960 §4.2.2.2 allows: no delegated responder certificate.
* :func:`error_response`: the unsigned answers (malformedRequest, internalError, tryLater,
  unauthorized).
* :class:`OcspResponse` parses a response back (for caches, tests and clients).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from asn1crypto import core, keys
from asn1crypto import ocsp as asn1_ocsp

from signing.algorithms import (
    SignatureAlgorithm,
    digest_algorithm_by_oid,
    signature_algorithm_from_identifier,
)
from signing.crl import CRL_REASONS
from signing.errors import InvalidInputError, MalformedDataError, SigningError, UnsupportedAlgorithmError
from signing.keys import PublicKey, bit_string_octets
from signing.prepared import Prepared
from signing.x509 import Certificate

__all__ = [
    "ERROR_STATUSES",
    "CertIdentity",
    "CertStatus",
    "IssuerHashes",
    "OcspRequest",
    "OcspResponse",
    "PreparedOcspResponse",
    "error_response",
    "parse_request",
    "prepare_response",
]

SHA1_OID = "1.3.14.3.2.26"
"""CertIDs hash with SHA-1 unless told otherwise (``openssl ocsp``, browsers)."""

MAX_NONCE = 32
"""RFC 8954 §2.1: a nonce has 1 to 32 octets."""

ERROR_STATUSES = frozenset(
    {"malformed_request", "internal_error", "try_later", "sig_required", "unauthorized"}
)
"""The unsigned OCSPResponseStatus values, as asn1crypto names them."""

_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)


def _hash(oid: str, data: bytes) -> bytes | None:
    """``data`` hashed with the algorithm ``oid`` names; None for an algorithm not known here."""
    if oid == SHA1_OID:
        # SHA-1 here only identifies a certificate the requester already holds; nothing relies on
        # its collision resistance that RFC 6960 did not already accept.
        return hashlib.sha1(data, usedforsecurity=False).digest()
    try:
        algorithm = digest_algorithm_by_oid(oid)
    except UnsupportedAlgorithmError:
        return None
    return algorithm.hash(data)


@dataclass(frozen=True, slots=True)
class CertIdentity:
    """One requested CertID: the certificate an OCSP request asks about."""

    cert_id: asn1_ocsp.CertId
    """The CertID as requested; the response echoes it unchanged."""
    hash_oid: str
    """Dotted OID of its hash algorithm."""
    issuer_name_hash: bytes
    """Hash of the issuer's DER-encoded subject name."""
    issuer_key_hash: bytes
    """Hash of the issuer's subjectPublicKey bits."""
    serial_number: int
    """The certificate's serial number."""

    @property
    def der(self) -> bytes:
        """DER of the CertID (what tells two requests for the same certificate apart)."""
        return bytes(self.cert_id.dump())


@dataclass(frozen=True, slots=True)
class OcspRequest:
    """A parsed OCSPRequest: what is asked, and the nonce to echo."""

    cert_ids: tuple[CertIdentity, ...]
    """The requested CertIDs, in request order."""
    nonce: bytes | None
    """The nonce extension's extnValue octets as sent (DER of the inner OCTET STRING), or None."""


class IssuerHashes:
    """The issuerNameHash / issuerKeyHash pairs of one CA certificate, per CertID hash algorithm."""

    __slots__ = ("_cache", "_key_bits", "_name_der")

    def __init__(self, issuer: Certificate) -> None:
        self._name_der = bytes(issuer.asn1["tbs_certificate"]["subject"].dump())
        spki = keys.PublicKeyInfo.load(issuer.spki)
        self._key_bits = bit_string_octets(spki["public_key"])
        self._cache: dict[str, tuple[bytes, bytes] | None] = {}

    def pair(self, hash_oid: str) -> tuple[bytes, bytes] | None:
        """(issuerNameHash, issuerKeyHash) with the algorithm ``hash_oid``; None when it is unknown."""
        if hash_oid not in self._cache:
            name_hash = _hash(hash_oid, self._name_der)
            key_hash = _hash(hash_oid, self._key_bits)
            pair = None if name_hash is None or key_hash is None else (name_hash, key_hash)
            self._cache[hash_oid] = pair
        return self._cache[hash_oid]

    def names(self, cert_id: CertIdentity) -> bool:
        """Whether ``cert_id`` names this CA as the issuer (both hashes match)."""
        pair = self.pair(cert_id.hash_oid)
        return pair is not None and pair == (cert_id.issuer_name_hash, cert_id.issuer_key_hash)

    @property
    def key_hash(self) -> bytes:
        """SHA-1 of the CA's public key bits: its ResponderID ``byKey`` (RFC 6960 §4.2.1)."""
        return hashlib.sha1(self._key_bits, usedforsecurity=False).digest()


def _check_extensions(extensions: Any, where: str) -> None:
    for extension in extensions or ():
        if extension["critical"].native and extension["extn_id"].native != "nonce":
            raise MalformedDataError(f"unsupported critical {where} extension {extension['extn_id'].dotted}")


def _nonce(extensions: Any) -> bytes | None:
    found = [ext for ext in extensions or () if ext["extn_id"].native == "nonce"]
    if not found:
        return None
    if len(found) > 1:
        raise MalformedDataError("more than one nonce extension")
    raw = bytes(found[0]["extn_value"].contents)
    try:
        inner = core.OctetString.load(raw, strict=True)
        length = len(inner.native)
    except _PARSE_ERRORS as exc:
        raise MalformedDataError("the nonce is not an OCTET STRING") from exc
    if not 1 <= length <= MAX_NONCE:
        raise MalformedDataError(f"the nonce must have 1 to {MAX_NONCE} octets")
    return raw


def _identity(request: asn1_ocsp.Request) -> CertIdentity:
    _check_extensions(request["single_request_extensions"], "single request")
    cert_id = request["req_cert"]
    serial = int(cert_id["serial_number"].native)
    if serial < 0:
        raise MalformedDataError("a negative serial number")
    return CertIdentity(
        cert_id=cert_id,
        hash_oid=cert_id["hash_algorithm"]["algorithm"].dotted,
        issuer_name_hash=bytes(cert_id["issuer_name_hash"].native),
        issuer_key_hash=bytes(cert_id["issuer_key_hash"].native),
        serial_number=serial,
    )


def parse_request(der: bytes, *, max_cert_ids: int) -> OcspRequest:
    """Parse a DER OCSPRequest asking about at most ``max_cert_ids`` certificates.

    ``MalformedDataError`` for anything that cannot be answered (see the module docstring). A request
    signature, when present, is not checked: this responder answers anyone (RFC 6960 §4.1.2).
    """
    try:
        parsed = asn1_ocsp.OCSPRequest.load(der, strict=True)
        tbs = parsed["tbs_request"]
        if tbs["version"].native != "v1":
            raise MalformedDataError("unsupported OCSP request version")
        requests = list(tbs["request_list"])
        if not requests:
            raise MalformedDataError("the request asks about no certificate")
        if len(requests) > max_cert_ids:
            raise MalformedDataError(
                f"the request asks about {len(requests)} certificates (at most {max_cert_ids})"
            )
        extensions = tbs["request_extensions"]
        _check_extensions(extensions, "request")
        nonce = _nonce(extensions)
        identities = tuple(_identity(request) for request in requests)
    except SigningError:
        raise
    except _PARSE_ERRORS as exc:
        raise MalformedDataError(f"malformed OCSP request: {exc}") from exc
    return OcspRequest(identities, nonce)


@dataclass(frozen=True, slots=True)
class CertStatus:
    """What the CA knows about one requested certificate."""

    kind: Literal["good", "revoked", "unknown"]
    """good: issued here and not revoked; revoked; unknown: not a certificate of this CA."""
    revoked_at: dt.datetime | None = None
    """When it was revoked (revoked only; timezone-aware)."""
    reason: str | None = None
    """An RFC 5280 reason name (``signing.crl.CRL_REASONS``); None: no revocationReason."""

    @classmethod
    def good(cls) -> CertStatus:
        """Issued by this CA and not revoked."""
        return cls("good")

    @classmethod
    def unknown(cls) -> CertStatus:
        """Not a certificate this CA knows."""
        return cls("unknown")

    @classmethod
    def revoked(cls, revoked_at: dt.datetime, reason: str | None = None) -> CertStatus:
        """Revoked at ``revoked_at`` for ``reason``."""
        return cls("revoked", revoked_at, reason)


def _time(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise InvalidInputError("OCSP times must be timezone-aware")
    # GeneralizedTime without fractions (RFC 5280 §4.1.2.5.2, which RFC 6960 follows).
    return value.astimezone(dt.UTC).replace(microsecond=0)


def _cert_status(status: CertStatus) -> asn1_ocsp.CertStatus:
    if status.kind == "good":
        return asn1_ocsp.CertStatus(name="good", value=core.Null())
    if status.kind == "unknown":
        return asn1_ocsp.CertStatus(name="unknown", value=core.Null())
    if status.revoked_at is None:
        raise InvalidInputError("a revoked status needs its revocation time")
    info: dict[str, Any] = {"revocation_time": _time(status.revoked_at)}
    if status.reason is not None:
        if status.reason not in CRL_REASONS:
            raise InvalidInputError(f"unknown CRL reason {status.reason!r}")
        info["revocation_reason"] = status.reason
    return asn1_ocsp.CertStatus(name="revoked", value=asn1_ocsp.RevokedInfo(info))


@dataclass(frozen=True, slots=True)
class PreparedOcspResponse(Prepared[asn1_ocsp.ResponseData]):
    """A to-be-signed ResponseData waiting for the CA's signature (``verification_key``: its key)."""

    issuer_der: bytes = b""
    """DER of the CA certificate, carried in ``certs``."""

    def finish(self, signature: bytes) -> OcspResponse:
        """Check ``signature`` with the CA's public key and assemble the successful OCSPResponse
        (``InvalidSignatureError`` when it does not verify)."""
        basic = asn1_ocsp.BasicOCSPResponse.load(self.signed_der(asn1_ocsp.BasicOCSPResponse, signature))
        if self.issuer_der:
            basic["certs"] = [asn1_ocsp.Certificate.load(self.issuer_der)]
        response = asn1_ocsp.OCSPResponse(
            {
                "response_status": "successful",
                "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
            }
        )
        return OcspResponse.load(bytes(response.dump()))


def prepare_response(
    *,
    issuer: Certificate,
    signature_algorithm: SignatureAlgorithm,
    request: OcspRequest,
    statuses: Sequence[CertStatus],
    produced_at: dt.datetime,
    next_update: dt.datetime,
    include_issuer: bool = True,
) -> PreparedOcspResponse:
    """Assemble the ResponseData answering ``request`` for ``issuer`` (the CA signs it; no key here).

    ``statuses`` go with ``request.cert_ids`` in order; thisUpdate of every answer is ``produced_at``
    (the statuses are read live), nextUpdate is ``next_update``.
    """
    if len(statuses) != len(request.cert_ids):
        raise InvalidInputError("one status per requested CertID is needed")
    if next_update <= produced_at:
        raise InvalidInputError("nextUpdate must be later than producedAt")
    public_key = issuer.public_key()
    if signature_algorithm.key_algorithm is not public_key.key_algorithm:
        raise UnsupportedAlgorithmError(f"{signature_algorithm.name} does not go with the CA's key")
    now = _time(produced_at)
    fields: dict[str, Any] = {
        "responder_id": asn1_ocsp.ResponderId(name="by_key", value=IssuerHashes(issuer).key_hash),
        "produced_at": now,
        "responses": [
            {
                "cert_id": identity.cert_id.copy(),
                "cert_status": _cert_status(status),
                "this_update": now,
                "next_update": _time(next_update),
            }
            for identity, status in zip(request.cert_ids, statuses, strict=True)
        ],
    }
    if request.nonce is not None:
        extension = asn1_ocsp.ResponseDataExtension({"extn_id": "nonce", "critical": False})
        # Echoed octet for octet: OpenSSL compares the extnValue bytes of request and response.
        extension["extn_value"] = core.ParsableOctetString(request.nonce)
        fields["response_extensions"] = [extension]
    try:
        tbs = asn1_ocsp.ResponseData(fields)
        tbs.dump()
    except SigningError:
        raise
    except _PARSE_ERRORS as exc:
        raise InvalidInputError(f"cannot build OCSP response: {exc}") from exc
    return PreparedOcspResponse(tbs, signature_algorithm, public_key, issuer.der if include_issuer else b"")


def error_response(status: str) -> bytes:
    """DER of an unsigned OCSPResponse with the error ``status`` (:data:`ERROR_STATUSES`)."""
    if status not in ERROR_STATUSES:
        raise InvalidInputError(f"{status!r} is not an OCSP error status")
    return bytes(asn1_ocsp.OCSPResponse({"response_status": status}).dump())


class OcspResponse:
    """A parsed OCSPResponse with typed accessors; immutable."""

    __slots__ = ("_asn1", "_der")

    def __init__(self, response: asn1_ocsp.OCSPResponse, der: bytes) -> None:
        self._asn1 = response
        self._der = der

    @classmethod
    def load(cls, der: bytes) -> OcspResponse:
        """Parse a DER OCSPResponse; every field is decoded now (``MalformedDataError``)."""
        try:
            parsed = asn1_ocsp.OCSPResponse.load(der, strict=True)
            parsed.native  # noqa: B018 - forces the lazy parser through every field
        except _PARSE_ERRORS as exc:
            raise MalformedDataError(f"malformed OCSP response: {exc}") from exc
        return cls(parsed, der)

    @property
    def der(self) -> bytes:
        """The DER encoding."""
        return self._der

    @property
    def status(self) -> str:
        """The responseStatus (``successful``, ``malformed_request``...)."""
        value: str = self._asn1["response_status"].native
        return value

    @property
    def _basic(self) -> asn1_ocsp.BasicOCSPResponse:
        if self.status != "successful":
            raise InvalidInputError(f"an OCSP {self.status} response carries no answers")
        basic: asn1_ocsp.BasicOCSPResponse = self._asn1["response_bytes"]["response"].parsed
        return basic

    @property
    def produced_at(self) -> dt.datetime:
        """producedAt (UTC)."""
        value: dt.datetime = self._basic["tbs_response_data"]["produced_at"].native
        return value

    @property
    def responder_key_hash(self) -> bytes | None:
        """The ResponderID ``byKey`` value, None when the responder is named ``byName``."""
        responder = self._basic["tbs_response_data"]["responder_id"]
        return bytes(responder.native) if responder.name == "by_key" else None

    @property
    def nonce(self) -> bytes | None:
        """The nonce extension's extnValue octets, None without one."""
        for extension in self._basic["tbs_response_data"]["response_extensions"] or ():
            if extension["extn_id"].native == "nonce":
                return bytes(extension["extn_value"].contents)
        return None

    @property
    def answers(self) -> tuple[tuple[int, CertStatus], ...]:
        """(serial number, status) per SingleResponse, in response order."""
        found = []
        for single in self._basic["tbs_response_data"]["responses"]:
            serial = int(single["cert_id"]["serial_number"].native)
            status = single["cert_status"]
            if status.name == "revoked":
                info = status.chosen
                reason = info["revocation_reason"].native  # None when absent
                found.append((serial, CertStatus.revoked(info["revocation_time"].native, reason)))
            else:
                found.append((serial, CertStatus(status.name)))
        return tuple(found)

    @property
    def next_update(self) -> dt.datetime | None:
        """The earliest nextUpdate of the answers (UTC), None when one has none."""
        times = [single["next_update"].native for single in self._basic["tbs_response_data"]["responses"]]
        return None if not times or None in times else min(times)

    @property
    def certificates(self) -> tuple[bytes, ...]:
        """DER of the certificates in ``certs``."""
        return tuple(bytes(cert.dump()) for cert in self._basic["certs"] or ())

    def verify_signature(self, responder_key: PublicKey) -> None:
        """Raise ``InvalidSignatureError`` unless ``responder_key`` signed the ResponseData."""
        basic = self._basic
        algorithm = signature_algorithm_from_identifier(basic["signature_algorithm"])
        tbs = bytes(basic["tbs_response_data"].dump())
        signature = bit_string_octets(basic["signature"])
        responder_key.verify_digest(algorithm.digest.hash(tbs), signature, algorithm)

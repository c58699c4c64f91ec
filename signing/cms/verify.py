"""Verification of CMS / CAdES-BES signatures into one :class:`~signing.cms.report.ValidationReport`.

For every SignerInfo, in order (EN 319 102-1 basic signature validation):

1. format: known digest and signature algorithms that agree; when signed attributes are present,
   exactly one content-type and one message-digest (RFC 5652 §5.3, §11);
2. signing certificate: the certificate named by the SignerIdentifier (issuerAndSerialNumber or
   subjectKeyIdentifier), from the CMS or from the certificates given;
3. signing-certificate(-v2) reference: its hash and issuerSerial name that certificate;
4. content-type: equals the encapsulated content type;
5. message-digest: equals the digest of the content (attached, or the content / digest given);
6. signature value over the DER signed attributes (or the content digest when there are none);
7. claimed signing time within the certificate's validity; 8. certificate chain to the trust anchors.

Undecodable input raises ``MalformedDataError``; everything else becomes data in the report.

Revocation is not looked up here (the signing layer does no I/O): a caller that knows revocation
statuses passes the report through ``signing.cms.validation.apply_revocation``, which adds each
signer's ``revocation`` and fails the certificate-chain check with REVOKED where the rules say so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from asn1crypto import cms, core

from signing.algorithms import (
    DigestAlgorithm,
    SignatureAlgorithm,
    digest_algorithm_by_oid,
    signature_algorithm_from_identifier,
)
from signing.cms.attributes import (
    certificate_reference_problem,
    has_certificate_reference,
    single_value,
)
from signing.cms.container import PARSE_ERRORS, load_signed_data
from signing.cms.der import SET, tlv
from signing.cms.report import (
    CertificateSummary,
    Check,
    CheckName,
    Indication,
    SignatureFormat,
    SignatureLevel,
    SignerReport,
    SubIndication,
    ValidationReport,
    conclude,
    summarize_certificate,
    worst,
)
from signing.cms.validation import (
    DEFAULT_POLICY,
    ValidationPolicy,
    check_chain,
    check_signature_value,
    check_signing_time,
    validation_time,
)
from signing.errors import InvalidInputError, MalformedDataError, UnsupportedAlgorithmError
from signing.x509 import Certificate

__all__ = ["ContentDigest", "verify_cades"]

ContentDigest = bytes | Mapping[str, bytes]
"""The digest of a detached document: one value (for signers of its length), or by digest name."""

_NO_CERTIFICATE = "the signing certificate was not identified"


class _ContentSource:
    """Digests of the signed content, computed once per algorithm."""

    def __init__(self, content: bytes | None, digest: ContentDigest | None) -> None:
        self._content = content
        self._given = digest
        self._cache: dict[str, bytes] = {}

    def digest(self, algorithm: DigestAlgorithm) -> bytes | None:
        if self._content is not None:
            if algorithm.name not in self._cache:
                self._cache[algorithm.name] = algorithm.hash(self._content)
            return self._cache[algorithm.name]
        if isinstance(self._given, bytes):
            return self._given if len(self._given) == algorithm.size else None
        if self._given is not None:
            return self._given.get(algorithm.name)
        return None


@dataclass(frozen=True, slots=True)
class _Context:
    content_type: str
    source: _ContentSource
    anchors: tuple[Certificate, ...]
    pool: tuple[Certificate, ...]
    at: dt.datetime
    policy: ValidationPolicy


@dataclass(frozen=True, slots=True)
class _Fields:
    """What a SignerInfo says, read and checked for form."""

    digest: DigestAlgorithm
    algorithm: SignatureAlgorithm
    attributes: cms.CMSAttributes | None
    signed: bytes | None
    content_type: str | None
    message_digest: bytes | None
    signing_time: dt.datetime | None
    signature: bytes


def verify_cades(
    signature: bytes,
    *,
    content: bytes | None = None,
    content_digest: ContentDigest | None = None,
    trust_anchors: Iterable[Certificate] = (),
    certificates: Iterable[Certificate] = (),
    at: dt.datetime | None = None,
    policy: ValidationPolicy = DEFAULT_POLICY,
    max_signers: int | None = None,
) -> ValidationReport:
    """Validate every signature of a CMS / CAdES-BES ``signature`` (DER or PEM).

    A detached signature needs the document (``content``) or its digest (``content_digest``); for an
    attached one, a document given replaces the encapsulated one (so a different document fails with
    HASH_FAILURE). ``certificates`` adds certificates the CMS lacks (the signer's, intermediates);
    ``at`` is the validation time (default now). Raises ``MalformedDataError`` when ``signature`` is
    not a well-formed SignedData and ``InvalidInputError`` when both content and digest are given, or
    when it has more than ``max_signers`` signers (each costs a signature check: a caller's cap on the
    CPU one CMS may take, checked before any is verified).
    """
    if content is not None and content_digest is not None:
        raise InvalidInputError("give either the content or its digest, not both")
    parsed = load_signed_data(signature)
    when = validation_time(at)
    known = parsed.content if content_digest is None else None
    context = _Context(
        content_type=parsed.content_type,
        source=_ContentSource(content if content is not None else known, content_digest),
        anchors=tuple(trust_anchors),
        pool=(*parsed.certificates, *certificates),
        at=when,
        policy=policy,
    )
    infos = parsed.signer_infos
    if max_signers is not None and len(infos) > max_signers:
        raise InvalidInputError(f"the CMS has {len(infos)} signers; at most {max_signers} are verified")
    if not infos:
        return ValidationReport(
            format=SignatureFormat.CMS,
            indication=Indication.TOTAL_FAILED,
            sub_indication=SubIndication.FORMAT_FAILURE,
            detail="the SignedData has no signature",
            validation_time=when,
            detached=parsed.detached,
        )
    signers = tuple(_verify_signer(index, info, context) for index, info in enumerate(infos))
    indication, sub_indication = worst(signers)
    return ValidationReport(
        format=SignatureFormat.CMS,
        indication=indication,
        sub_indication=sub_indication,
        validation_time=when,
        detached=parsed.detached,
        signers=signers,
    )


def _verify_signer(index: int, encoding: bytes, context: _Context) -> SignerReport:
    try:
        info = cms.SignerInfo.load(encoding, strict=True)
        signed = _signed_attributes(info)
        identifier = _describe_signer(info["sid"])
        certificate = _find_certificate(info["sid"], context.pool)
    except PARSE_ERRORS as exc:
        problem = Check.failed(CheckName.FORMAT, SubIndication.FORMAT_FAILURE, f"malformed SignerInfo: {exc}")
        return _report(index, "", None, None, [problem])
    try:
        fields = _read_fields(info, signed)
    except (MalformedDataError, *PARSE_ERRORS) as exc:
        problem = Check.failed(CheckName.FORMAT, SubIndication.FORMAT_FAILURE, str(exc))
        return _report(index, identifier, certificate, None, [problem])
    except UnsupportedAlgorithmError as exc:
        problem = Check.failed(CheckName.FORMAT, SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE, str(exc))
        return _report(index, identifier, certificate, None, [problem])
    checks = [Check.passed(CheckName.FORMAT), _certificate_check(certificate, identifier)]
    checks.append(_reference_check(fields, certificate, context.policy))
    checks.append(_content_type_check(fields, context.content_type))
    checks.append(_message_digest_check(fields, context.source))
    checks.append(_signature_check(fields, certificate, context.source))
    if certificate is None:
        checks.append(Check.skipped(CheckName.SIGNING_TIME, _NO_CERTIFICATE))
        checks.append(Check.skipped(CheckName.CERTIFICATE_CHAIN, _NO_CERTIFICATE))
        return _report(index, identifier, None, fields, checks)
    checks.append(check_signing_time(certificate, fields.signing_time))
    chain_check, path = check_chain(
        certificate,
        trust_anchors=context.anchors,
        intermediates=context.pool,
        at=context.at,
        signing_time=fields.signing_time,
        policy=context.policy,
    )
    checks.append(chain_check)
    return _report(index, identifier, certificate, fields, checks, path)


def _signed_attributes(info: cms.SignerInfo) -> bytes | None:
    """The signed bytes: the received ``[0]`` attributes as ``SET OF``, before anything parses them."""
    attributes = info["signed_attrs"]
    if isinstance(attributes, core.Void):
        return None
    return tlv(SET, bytes(attributes.contents))


def _report(
    index: int,
    identifier: str,
    certificate: Certificate | None,
    fields: _Fields | None,
    checks: list[Check],
    path: tuple[CertificateSummary, ...] = (),
) -> SignerReport:
    indication, sub_indication = conclude(checks)
    cades = (
        fields is not None and fields.attributes is not None and has_certificate_reference(fields.attributes)
    )
    summary = None if certificate is None else summarize_certificate(certificate, with_der=True)
    return SignerReport(
        index=index,
        indication=indication,
        sub_indication=sub_indication,
        level=SignatureLevel.CADES_BES if cades else SignatureLevel.CMS,
        signer_identifier=identifier,
        signing_certificate=summary,
        signing_time=None if fields is None else fields.signing_time,
        digest_algorithm=None if fields is None else fields.digest.name,
        signature_algorithm=None if fields is None else fields.algorithm.name,
        checks=tuple(checks),
        chain=path,
    )


_SIGNER_INFO_VERSIONS = {"issuer_and_serial_number": 1, "subject_key_identifier": 3}


def _read_fields(info: cms.SignerInfo, signed: bytes | None) -> _Fields:
    # RFC 5652 §5.3: version 1 goes with issuerAndSerialNumber, 3 with subjectKeyIdentifier.
    if int(info["version"]) != _SIGNER_INFO_VERSIONS.get(info["sid"].name):
        raise MalformedDataError(
            f"SignerInfo version {int(info['version'])} does not match its {info['sid'].name}"
        )
    digest = digest_algorithm_by_oid(info["digest_algorithm"]["algorithm"].dotted)
    algorithm = signature_algorithm_from_identifier(info["signature_algorithm"], digest_oid=digest.oid)
    if algorithm.digest is not digest:
        raise MalformedDataError(f"digestAlgorithm {digest.name} does not match {algorithm.name}")
    signature = bytes(info["signature"].native)
    if signed is None:
        return _Fields(digest, algorithm, None, None, None, None, None, signature)
    attributes = info["signed_attrs"]
    content_type = single_value(attributes, "content_type")
    message_digest = single_value(attributes, "message_digest")
    if content_type is None or message_digest is None:
        raise MalformedDataError("signed attributes must include content-type and message-digest")
    signing_time = single_value(attributes, "signing_time")
    return _Fields(
        digest=digest,
        algorithm=algorithm,
        attributes=attributes,
        signed=signed,
        content_type=content_type.dotted,
        message_digest=bytes(message_digest.native),
        signing_time=None if signing_time is None else signing_time.native,
        signature=signature,
    )


def _describe_signer(sid: cms.SignerIdentifier) -> str:
    if sid.name == "issuer_and_serial_number":
        chosen = sid.chosen
        return f"issuer={chosen['issuer'].human_friendly}, serial={chosen['serial_number'].native:X}"
    return f"subjectKeyIdentifier={sid.chosen.native.hex()}"


def _find_certificate(sid: cms.SignerIdentifier, pool: Iterable[Certificate]) -> Certificate | None:
    if sid.name == "issuer_and_serial_number":
        issuer, serial = sid.chosen["issuer"], sid.chosen["serial_number"].native
        matches = (c for c in pool if c.serial_number == serial and c.issuer == issuer)
    else:
        key_id = sid.chosen.native
        matches = (c for c in pool if c.subject_key_identifier == key_id)
    return next(matches, None)


def _certificate_check(certificate: Certificate | None, identifier: str) -> Check:
    if certificate is None:
        detail = f"no certificate for {identifier}"
        return Check.failed(CheckName.SIGNING_CERTIFICATE, SubIndication.NO_SIGNING_CERTIFICATE_FOUND, detail)
    return Check.passed(CheckName.SIGNING_CERTIFICATE, certificate.subject.human_friendly)


def _reference_check(fields: _Fields, certificate: Certificate | None, policy: ValidationPolicy) -> Check:
    name = CheckName.SIGNING_CERTIFICATE_REFERENCE
    if fields.attributes is None or not has_certificate_reference(fields.attributes):
        if policy.require_signing_certificate_reference:
            detail = "CAdES-BES requires a signed signing-certificate(-v2) attribute"
            return Check.failed(name, SubIndication.FORMAT_FAILURE, detail)
        return Check.not_applicable(name, "no signing-certificate attribute (plain CMS)")
    if certificate is None:
        return Check.skipped(name, _NO_CERTIFICATE)
    try:
        problem = certificate_reference_problem(fields.attributes, certificate)
    except UnsupportedAlgorithmError as exc:
        return Check.failed(name, SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE, str(exc))
    except (MalformedDataError, *PARSE_ERRORS) as exc:
        return Check.failed(name, SubIndication.FORMAT_FAILURE, f"malformed signing-certificate: {exc}")
    if problem is not None:
        return Check.failed(name, SubIndication.NO_SIGNING_CERTIFICATE_FOUND, problem)
    return Check.passed(name)


def _content_type_check(fields: _Fields, content_type: str) -> Check:
    name = CheckName.CONTENT_TYPE
    if fields.content_type is None:
        return Check.not_applicable(name, "no signed attributes")
    if fields.content_type != content_type:
        detail = f"signed content-type {fields.content_type} differs from the content's {content_type}"
        return Check.failed(name, SubIndication.FORMAT_FAILURE, detail)
    return Check.passed(name)


def _message_digest_check(fields: _Fields, source: _ContentSource) -> Check:
    name = CheckName.MESSAGE_DIGEST
    if fields.message_digest is None:
        return Check.not_applicable(name, "no signed attributes: the signature covers the content digest")
    expected = source.digest(fields.digest)
    if expected is None:
        detail = f"neither the content nor its {fields.digest.name} digest was given"
        return Check.failed(name, SubIndication.SIGNED_DATA_NOT_FOUND, detail)
    if expected != fields.message_digest:
        detail = f"the {fields.digest.name} digest of the content differs from the signed message-digest"
        return Check.failed(name, SubIndication.HASH_FAILURE, detail)
    return Check.passed(name, fields.digest.name)


def _signature_check(fields: _Fields, certificate: Certificate | None, source: _ContentSource) -> Check:
    name = CheckName.SIGNATURE_VALUE
    if certificate is None:
        return Check.skipped(name, _NO_CERTIFICATE)
    if fields.signed is not None:
        signed = fields.digest.hash(fields.signed)
    else:
        content_digest = source.digest(fields.digest)
        if content_digest is None:
            detail = f"the signature covers the content, whose {fields.digest.name} digest is unknown"
            return Check.failed(name, SubIndication.SIGNED_DATA_NOT_FOUND, detail)
        signed = content_digest
    try:
        public_key = certificate.public_key()
    except UnsupportedAlgorithmError as exc:
        return Check.failed(name, SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE, str(exc))
    except MalformedDataError as exc:
        return Check.failed(name, SubIndication.FORMAT_FAILURE, str(exc))
    return check_signature_value(public_key, signed, fields.signature, fields.algorithm)

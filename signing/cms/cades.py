"""CAdES-BES signatures (attached, detached, from a hash) and co-signatures: prepare → raw sign → finish.

No function here touches a key except the ``sign_*`` conveniences, which call ``Signer.sign_digest``
once. The three steps:

1. :func:`prepare_cades` (or :func:`prepare_cosignature`) builds the signed attributes and returns a
   :class:`PreparedSignature` whose :attr:`~PreparedSignature.digest_to_sign` is what the key holder
   signs — a software key, an HSM unit, anything with ``sign_digest``;
2. the caller signs that digest;
3. :func:`finish` checks the signature against the certificate's key and assembles the ContentInfo.

The output is SignedData v1 with one SignerInfo v1 (issuerAndSerialNumber), signed attributes
content-type, signing-time, message-digest and signing-certificate-v2, the signer's certificate (and any
extra certificates) in ``certificates``; GOST identifiers are OpenSSL's (:mod:`signing.cms.identifiers`).
A co-signature adds a SignerInfo to an existing SignedData, merging digestAlgorithms and certificates
and leaving every existing SignerInfo byte-for-byte as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import algos, cms, core

from signing.algorithms import DigestAlgorithm, SignatureAlgorithm, digest_algorithm_by_oid
from signing.cms.attributes import build_signed_attributes, single_value
from signing.cms.container import PARSE_ERRORS, ParsedSignedData, assemble_signed_data, load_signed_data
from signing.cms.der import CONTEXT_0, SEQUENCE, tlv
from signing.cms.identifiers import digest_identifier, signature_identifier
from signing.cms.raw import document_digest
from signing.errors import InvalidInputError, InvalidSignatureError, SigningError, UnsupportedAlgorithmError
from signing.keys import Signer, spki_key_algorithm
from signing.x509 import Certificate

__all__ = [
    "DATA",
    "PreparedSignature",
    "check_algorithm",
    "cosign_cades",
    "finish",
    "prepare_cades",
    "prepare_cosignature",
    "sign_cades",
    "signer_info_parts",
    "signing_time_or_now",
]

DATA = "1.2.840.113549.1.7.1"
"""Dotted OID of the ``data`` content type."""


@dataclass(frozen=True, slots=True)
class PreparedSignature:
    """A CAdES-BES signature waiting for the raw signature over :attr:`digest_to_sign`."""

    signed_attributes: bytes
    """DER ``SET OF Attribute``: the bytes the signature covers."""
    digest_to_sign: bytes
    """Digest of :attr:`signed_attributes` with the signature algorithm's digest: what the key signs."""
    signature_algorithm: SignatureAlgorithm
    """The algorithm the key holder must apply."""
    certificate: Certificate
    """The signer's certificate."""
    detached: bool
    """Whether the content stays outside the signature."""
    content: bytes | None = None
    """The content to encapsulate (a new attached signature only)."""
    certificates: tuple[Certificate, ...] = ()
    """Extra certificates to embed (intermediate CAs)."""
    base: bytes | None = None
    """The existing CMS a co-signature is added to."""


def check_algorithm(certificate: Certificate, algorithm: SignatureAlgorithm) -> None:
    """``UnsupportedAlgorithmError`` unless ``algorithm`` signs with the certificate's kind of key."""
    if spki_key_algorithm(certificate.spki) is not algorithm.key_algorithm:
        raise UnsupportedAlgorithmError(f"{algorithm.name} does not go with the certificate's key")


def signing_time_or_now(signing_time: dt.datetime | None) -> dt.datetime:
    """``signing_time`` (it must be timezone-aware), or now when None."""
    if signing_time is None:
        return dt.datetime.now(dt.UTC)
    if signing_time.tzinfo is None:
        raise InvalidInputError("the signing time must be timezone-aware")
    return signing_time


def _prepared(
    *,
    content_type: str,
    message_digest: bytes,
    certificate: Certificate,
    signature_algorithm: SignatureAlgorithm,
    signing_time: dt.datetime | None,
    detached: bool,
    content: bytes | None,
    certificates: Sequence[Certificate],
    base: bytes | None,
) -> PreparedSignature:
    digest = signature_algorithm.digest
    attributes = build_signed_attributes(
        content_type=content_type,
        message_digest=message_digest,
        signing_time=signing_time_or_now(signing_time),
        certificate=certificate,
        digest=digest,
    )
    return PreparedSignature(
        signed_attributes=attributes,
        digest_to_sign=digest.hash(attributes),
        signature_algorithm=signature_algorithm,
        certificate=certificate,
        detached=detached,
        content=content,
        certificates=tuple(certificates),
        base=base,
    )


def prepare_cades(
    content: bytes | None = None,
    *,
    certificate: Certificate,
    signature_algorithm: SignatureAlgorithm,
    content_digest: bytes | None = None,
    detached: bool = False,
    signing_time: dt.datetime | None = None,
    certificates: Sequence[Certificate] = (),
) -> PreparedSignature:
    """Prepare a new CAdES-BES signature of ``content`` or, detached only, of its ``content_digest``.

    ``content_digest`` is the document's digest with ``signature_algorithm``'s digest (a client that
    sends only the hash). ``signing_time`` defaults to now; ``certificates`` are embedded besides the
    signer's (intermediate CAs).
    """
    check_algorithm(certificate, signature_algorithm)
    if content_digest is not None and not detached:
        raise InvalidInputError("a signature made from a digest can only be detached")
    message_digest = document_digest(
        signature_algorithm.digest, content=content, content_digest=content_digest
    )
    return _prepared(
        content_type=DATA,
        message_digest=message_digest,
        certificate=certificate,
        signature_algorithm=signature_algorithm,
        signing_time=signing_time,
        detached=detached,
        content=None if detached else content,
        certificates=certificates,
        base=None,
    )


def prepare_cosignature(
    signature: bytes,
    *,
    certificate: Certificate,
    signature_algorithm: SignatureAlgorithm,
    content: bytes | None = None,
    content_digest: bytes | None = None,
    signing_time: dt.datetime | None = None,
    certificates: Sequence[Certificate] = (),
) -> PreparedSignature:
    """Prepare one more signer for the existing CMS ``signature`` (attached or detached).

    An attached CMS signs its own content (``content``/``content_digest`` must be left out); a
    detached one needs the document or its digest. When the document is known, it must be the one
    the existing signers signed (checked against their message-digest attributes).
    """
    check_algorithm(certificate, signature_algorithm)
    parsed = load_signed_data(signature)
    if not parsed.detached:
        if content is not None or content_digest is not None:
            raise InvalidInputError("an attached CMS carries its content: do not pass it again")
        content = parsed.content
    message_digest = document_digest(
        signature_algorithm.digest, content=content, content_digest=content_digest
    )
    _check_same_content(parsed, signature_algorithm.digest, content, message_digest)
    return _prepared(
        content_type=parsed.content_type,
        message_digest=message_digest,
        certificate=certificate,
        signature_algorithm=signature_algorithm,
        signing_time=signing_time,
        detached=parsed.detached,
        content=None,
        certificates=certificates,
        base=bytes(signature),
    )


def _check_same_content(
    parsed: ParsedSignedData, digest: DigestAlgorithm, content: bytes | None, message_digest: bytes
) -> None:
    """Refuse to co-sign a document other than the one the existing signers signed."""
    for encoding in parsed.signer_infos:
        try:
            signer_info = cms.SignerInfo.load(encoding, strict=True)
            attributes = signer_info["signed_attrs"]
            if isinstance(attributes, core.Void):
                continue
            theirs = digest_algorithm_by_oid(signer_info["digest_algorithm"]["algorithm"].dotted)
            value = single_value(attributes, "message_digest")
        except (SigningError, *PARSE_ERRORS):
            continue  # a signer this code cannot read is not evidence either way
        if theirs is digest:
            expected = message_digest
        elif content is not None:
            expected = theirs.hash(content)
        else:
            continue
        if value is not None and value.native != expected:
            raise InvalidInputError("the document is not the one the existing signatures cover")


def finish(prepared: PreparedSignature, signature: bytes, *, verify: bool = True) -> bytes:
    """Assemble the DER ContentInfo from ``prepared`` and the raw ``signature`` over its digest.

    With ``verify`` (the default) the signature is first checked with the certificate's key, so a
    faulty HSM or a wrong key raises ``InvalidSignatureError`` instead of yielding a CMS nobody can
    verify.
    """
    algorithm = prepared.signature_algorithm
    if verify:
        prepared.certificate.public_key().verify_digest(prepared.digest_to_sign, signature, algorithm)
    signer_info = _signer_info(prepared, signature)
    # CertificateChoices' "certificate" alternative is the plain Certificate encoding.
    own_certificates = [c.der for c in (prepared.certificate, *prepared.certificates)]
    own_digest = bytes(digest_identifier(algorithm.digest).dump())
    if prepared.base is None:
        return assemble_signed_data(
            version=1,
            digest_algorithms=[own_digest],
            encapsulated_content_info=_encapsulated(prepared.content),
            certificates=own_certificates,
            crls=None,
            signer_infos=[signer_info],
        )
    return _add_signer(prepared.base, own_digest, own_certificates, signer_info)


def _signer_info(prepared: PreparedSignature, signature: bytes) -> bytes:
    """``SignerInfo`` v1 with issuerAndSerialNumber, written around the very attribute bytes signed."""
    head, tail = signer_info_parts(prepared.certificate, prepared.signature_algorithm)
    # The signed SET OF becomes [0] IMPLICIT: same length and contents, another tag.
    signed_attributes = bytes([CONTEXT_0]) + prepared.signed_attributes[1:]
    return tlv(SEQUENCE, b"".join((head, signed_attributes, tail, bytes(core.OctetString(signature).dump()))))


def signer_info_parts(certificate: Certificate, algorithm: SignatureAlgorithm) -> tuple[bytes, bytes]:
    """The encoded fields of a SignerInfo v1 by ``certificate`` around its signed attributes.

    Before them: version, sid (issuerAndSerialNumber) and digestAlgorithm; after them:
    signatureAlgorithm (the signature value follows).
    """
    issuer_and_serial = tlv(
        SEQUENCE, bytes(certificate.issuer.dump()) + bytes(core.Integer(certificate.serial_number).dump())
    )
    head = (
        bytes(core.Integer(1).dump()) + issuer_and_serial + bytes(digest_identifier(algorithm.digest).dump())
    )
    return head, bytes(signature_identifier(algorithm).dump())


def _encapsulated(content: bytes | None) -> bytes:
    value: dict[str, object] = {"content_type": "data"}
    if content is not None:
        value["content"] = content
    return bytes(cms.EncapsulatedContentInfo(value).dump())


def _algorithm_oid(encoding: bytes) -> str:
    oid: str = algos.DigestAlgorithm.load(encoding)["algorithm"].dotted
    return oid


def _add_signer(base: bytes, own_digest: bytes, own_certificates: list[bytes], signer_info: bytes) -> bytes:
    parsed = load_signed_data(base)
    known = {
        algos.DigestAlgorithm.load(encoding)["algorithm"].dotted for encoding in parsed.digest_algorithms
    }
    own_oid = algos.DigestAlgorithm.load(own_digest)["algorithm"].dotted
    return assemble_signed_data(
        version=parsed.version,
        digest_algorithms=[*parsed.digest_algorithms, *([] if own_oid in known else [own_digest])],
        encapsulated_content_info=parsed.encapsulated_content_info,
        certificates=[*parsed.certificate_choices, *own_certificates],
        crls=parsed.crls,
        signer_infos=[*parsed.signer_infos, signer_info],
    )


def sign_cades(
    content: bytes | None = None,
    *,
    signer: Signer,
    certificate: Certificate,
    content_digest: bytes | None = None,
    detached: bool = False,
    signing_time: dt.datetime | None = None,
    certificates: Sequence[Certificate] = (),
) -> bytes:
    """Prepare, sign with ``signer`` and finish: a CAdES-BES signature in one call (tests, local use)."""
    prepared = prepare_cades(
        content,
        certificate=certificate,
        signature_algorithm=signer.signature_algorithm,
        content_digest=content_digest,
        detached=detached,
        signing_time=signing_time,
        certificates=certificates,
    )
    return _sign_and_finish(prepared, signer)


def cosign_cades(
    signature: bytes,
    *,
    signer: Signer,
    certificate: Certificate,
    content: bytes | None = None,
    content_digest: bytes | None = None,
    signing_time: dt.datetime | None = None,
    certificates: Sequence[Certificate] = (),
) -> bytes:
    """Add ``signer``'s CAdES-BES signature to the existing CMS ``signature`` in one call."""
    prepared = prepare_cosignature(
        signature,
        certificate=certificate,
        signature_algorithm=signer.signature_algorithm,
        content=content,
        content_digest=content_digest,
        signing_time=signing_time,
        certificates=certificates,
    )
    return _sign_and_finish(prepared, signer)


def _sign_and_finish(prepared: PreparedSignature, signer: Signer) -> bytes:
    try:
        return finish(prepared, signer.sign_digest(prepared.digest_to_sign))
    except InvalidSignatureError as exc:
        # finish() checks with the certificate's key: a software signer fails only with another key.
        raise InvalidInputError("the signer's signature does not verify with the certificate's key") from exc

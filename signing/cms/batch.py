"""Many new CAdES-BES signatures under one certificate, algorithm and signing time: templates, spliced.

Within a batch the signed attributes differ only in the message-digest value, and the ContentInfo
only in those attributes, the signature value and (attached) the content. :class:`CadesBatch` encodes
everything else once — with the very functions :func:`~signing.cms.cades.prepare_cades` and
:func:`~signing.cms.cades.finish` use — and per item joins the constant parts around the varying
ones, so an item costs microseconds instead of the hundred or two an asn1crypto build costs. The
output is byte-for-byte what ``prepare_cades`` → ``finish`` make (the tests compare both, and
re-encode with asn1crypto).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from asn1crypto import core

from signing.algorithms import SignatureAlgorithm
from signing.cms.attributes import build_signed_attributes
from signing.cms.cades import (
    DATA,
    PreparedSignature,
    check_algorithm,
    finish,
    signer_info_parts,
    signing_time_or_now,
)
from signing.cms.container import SIGNED_DATA_OID
from signing.cms.der import CONTEXT_0, SEQUENCE, SET, der_set_of, tlv
from signing.cms.identifiers import digest_identifier
from signing.cms.raw import document_digest
from signing.errors import InvalidInputError
from signing.x509 import Certificate

__all__ = ["CadesBatch"]

_OCTET_STRING = 0x04
_VERSION_1 = bytes(core.Integer(1).dump())
_DATA_OID = bytes(core.ObjectIdentifier(DATA).dump())


class CadesBatch:
    """``prepare_cades`` and ``finish`` for many documents signed with one certificate at one time.

    Build it once per batch; :meth:`prepare` each document (or its digest, detached only), have the
    key holder sign every ``digest_to_sign``, and :meth:`finish` each item with its signature.
    """

    def __init__(
        self,
        *,
        certificate: Certificate,
        signature_algorithm: SignatureAlgorithm,
        detached: bool,
        signing_time: dt.datetime | None = None,
        certificates: Sequence[Certificate] = (),
    ) -> None:
        check_algorithm(certificate, signature_algorithm)
        self._certificate = certificate
        self._algorithm = signature_algorithm
        self._detached = detached
        self._certificates = tuple(certificates)
        digest = signature_algorithm.digest
        self._prefix, self._suffix = _attribute_template(
            certificate, signature_algorithm, signing_time_or_now(signing_time)
        )
        # Hashing resumes from the state after the constant prefix: no name lookup, fewer blocks.
        self._prefix_hash: Any = digest.new(self._prefix)
        self._signer_head, self._signer_tail = signer_info_parts(certificate, signature_algorithm)
        own_certificates = der_set_of(c.der for c in (certificate, *self._certificates))
        self._data_head = _VERSION_1 + tlv(SET, bytes(digest_identifier(digest).dump()))
        self._data_certificates = tlv(CONTEXT_0, own_certificates)
        self._detached_encapsulated = tlv(SEQUENCE, _DATA_OID)

    @property
    def detached(self) -> bool:
        """Whether the content stays outside the signatures."""
        return self._detached

    def prepare(
        self, content: bytes | None = None, *, content_digest: bytes | None = None
    ) -> PreparedSignature:
        """What ``prepare_cades`` returns for ``content`` (or, detached only, its ``content_digest``)."""
        if content_digest is not None and not self._detached:
            raise InvalidInputError("a signature made from a digest can only be detached")
        message_digest = document_digest(
            self._algorithm.digest, content=content, content_digest=content_digest
        )
        attributes = b"".join((self._prefix, message_digest, self._suffix))
        hasher = self._prefix_hash.copy()
        hasher.update(message_digest)
        hasher.update(self._suffix)
        return PreparedSignature(
            signed_attributes=attributes,
            digest_to_sign=hasher.digest(),
            signature_algorithm=self._algorithm,
            certificate=self._certificate,
            detached=self._detached,
            content=None if self._detached else content,
            certificates=self._certificates,
        )

    def finish(self, prepared: PreparedSignature, signature: bytes, *, verify: bool = True) -> bytes:
        """What ``finish(prepared, signature, verify=verify)`` returns, for an item of this batch.

        Anything prepared elsewhere goes through :func:`~signing.cms.cades.finish` itself.
        """
        if not self._made_here(prepared):
            return finish(prepared, signature, verify=verify)
        if verify:
            self._certificate.public_key().verify_digest(prepared.digest_to_sign, signature, self._algorithm)
        # The signed SET OF becomes [0] IMPLICIT: same length and contents, another tag.
        signer_info = tlv(
            SEQUENCE,
            b"".join(
                (
                    self._signer_head,
                    bytes([CONTEXT_0]),
                    prepared.signed_attributes[1:],
                    self._signer_tail,
                    tlv(_OCTET_STRING, signature),
                )
            ),
        )
        body = b"".join(
            (
                self._data_head,
                self._encapsulated(prepared.content),
                self._data_certificates,
                tlv(SET, signer_info),
            )
        )
        return tlv(SEQUENCE, SIGNED_DATA_OID + tlv(CONTEXT_0, tlv(SEQUENCE, body)))

    def _made_here(self, prepared: PreparedSignature) -> bool:
        return (
            prepared.base is None
            and prepared.certificate is self._certificate
            and prepared.signature_algorithm is self._algorithm
            and prepared.detached is self._detached
            and prepared.certificates == self._certificates
        )

    def _encapsulated(self, content: bytes | None) -> bytes:
        if content is None:
            return self._detached_encapsulated
        # EncapsulatedContentInfo { eContentType data, eContent [0] EXPLICIT OCTET STRING }.
        return tlv(SEQUENCE, _DATA_OID + tlv(CONTEXT_0, tlv(_OCTET_STRING, content)))


def _attribute_template(
    certificate: Certificate, algorithm: SignatureAlgorithm, signing_time: dt.datetime
) -> tuple[bytes, bytes]:
    """The signed attributes before and after the message-digest value.

    Built twice by ``build_signed_attributes``, with all-zero and all-one digests: every byte of the
    value differs between the two and nothing else may. The SET OF order cannot depend on the value
    either: DER compares the attributes' encodings, and theirs differ in length or type OID first.
    """
    digest = algorithm.digest

    def build(message_digest: bytes) -> bytes:
        return build_signed_attributes(
            content_type=DATA,
            message_digest=message_digest,
            signing_time=signing_time,
            certificate=certificate,
            digest=digest,
        )

    zeros, ones = build(bytes(digest.size)), build(b"\xff" * digest.size)
    start = next(i for i, (a, b) in enumerate(zip(zeros, ones, strict=True)) if a != b)
    end = start + digest.size
    if zeros[:start] != ones[:start] or zeros[end:] != ones[end:] or zeros[start:end] != bytes(digest.size):
        raise AssertionError("the message digest is not one contiguous value in the signed attributes")
    return zeros[:start], zeros[end:]

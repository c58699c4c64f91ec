"""The CMS SignedData container: parsing into received encodings, and assembly from encoded parts.

Both directions work on encodings, for two reasons:

* what a signature covers must be hashed exactly as received. asn1crypto normalises values it has
  looked into (it adds NULL parameters to a SHA-2 AlgorithmIdentifier, for one) and re-encodes
  them on the next ``dump``; so the SignerInfos, digestAlgorithms, certificates and the
  encapsulated content are cut out of the SignedData before anything inside them is parsed;
* a co-signature must leave the existing SignerInfos byte-for-byte as they were and in their order
  (asn1crypto would re-sort a modified ``SET OF``). The digestAlgorithms and certificates sets are
  written in DER order; the SignerInfos keep the order of signing (the new one last), as OpenSSL does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from asn1crypto import algos, cms, core

from signing.cms.der import CONTEXT_0, SEQUENCE, SET, der_set_of, tlv
from signing.errors import MalformedDataError, SigningError, UnsupportedAlgorithmError
from signing.keys import load_der_or_pem
from signing.x509 import Certificate

__all__ = ["PARSE_ERRORS", "SIGNED_DATA_OID", "ParsedSignedData", "assemble_signed_data", "load_signed_data"]

PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)
"""What asn1crypto raises, lazily, on malformed input."""

SIGNED_DATA_OID = bytes(core.ObjectIdentifier("1.2.840.113549.1.7.2").dump())
"""Encoded OID of the ``signedData`` content type."""
_PEM_LABELS = ("CMS", "PKCS7", "PKCS #7 SIGNED DATA")
_VERSIONS = frozenset({1, 3, 4, 5})  # RFC 5652 §5.1


@dataclass(frozen=True, slots=True)
class ParsedSignedData:
    """A SignedData cut into its parts, each as received."""

    version: int
    """CMSVersion."""
    digest_algorithms: tuple[bytes, ...]
    """Encodings of the digestAlgorithms elements."""
    encapsulated_content_info: bytes
    """Encoding of encapContentInfo."""
    content_type: str
    """Dotted OID of the encapsulated content type."""
    content: bytes | None
    """The encapsulated content, or None for a detached signature."""
    certificate_choices: tuple[bytes, ...]
    """Encodings of the ``certificates`` elements (any CertificateChoices alternative)."""
    crls: bytes | None
    """Encoding of the whole ``crls`` field, if present."""
    signer_infos: tuple[bytes, ...]
    """Encodings of the SignerInfos, in order."""
    certificates: tuple[Certificate, ...]
    """The X.509 v3 certificates among :attr:`certificate_choices` (others are ignored)."""

    @property
    def detached(self) -> bool:
        """True when the content is not inside."""
        return self.content is None


def _raw(value: core.Asn1Value) -> bytes:
    # For a value whose children were never parsed, dump() is its received header and contents.
    return bytes(value.dump())


def load_signed_data(data: bytes) -> ParsedSignedData:
    """Parse a DER (or PEM ``CMS``/``PKCS7``) ContentInfo holding SignedData.

    Raises ``MalformedDataError`` for anything that is not a complete, well-formed SignedData
    container; the SignerInfos are only cut out here, their insides are checked by the verifier.
    """
    der = load_der_or_pem(data, *_PEM_LABELS)
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise MalformedDataError(f"not CMS SignedData but {info['content_type'].native}")
        signed_data = info["content"]
        # Cut the parts out before anything inside them is parsed (see the module docstring).
        signer_infos = tuple(_raw(signer_info) for signer_info in signed_data["signer_infos"])
        digest_algorithms = tuple(_raw(algorithm) for algorithm in signed_data["digest_algorithms"])
        choices = tuple(_raw(choice) for choice in signed_data["certificates"])
        crls = signed_data["crls"]
        encapsulated = signed_data["encap_content_info"]
        encapsulated_raw = _raw(encapsulated)
        version = int(signed_data["version"])
        if version not in _VERSIONS:
            raise MalformedDataError(f"SignedData version {version} does not exist")
        content_type = encapsulated["content_type"].dotted
        content = encapsulated["content"]
        raw_content = None if isinstance(content, core.Void) else bytes(content)
        for algorithm in digest_algorithms:
            _ = algos.DigestAlgorithm.load(algorithm, strict=True)["algorithm"].dotted
    except SigningError:
        raise
    except PARSE_ERRORS as exc:
        raise MalformedDataError(f"malformed CMS SignedData: {exc}") from exc
    return ParsedSignedData(
        version=version,
        digest_algorithms=digest_algorithms,
        encapsulated_content_info=encapsulated_raw,
        content_type=content_type,
        content=raw_content,
        certificate_choices=choices,
        crls=None if isinstance(crls, core.Void) else _raw(crls),
        signer_infos=signer_infos,
        certificates=_certificates(choices),
    )


def _certificates(choices: Iterable[bytes]) -> tuple[Certificate, ...]:
    found = []
    for encoding in choices:
        # The "certificate" alternative of CertificateChoices is an untagged SEQUENCE.
        if not encoding.startswith(b"\x30"):
            continue
        try:
            found.append(Certificate.load(encoding))
        except UnsupportedAlgorithmError:
            # An unsupported certificate (v1, unknown key) cannot be the signer's; others may still be.
            continue
    return tuple(found)


def assemble_signed_data(
    *,
    version: int,
    digest_algorithms: Iterable[bytes],
    encapsulated_content_info: bytes,
    certificates: Iterable[bytes],
    crls: bytes | None,
    signer_infos: Sequence[bytes],
) -> bytes:
    """DER ContentInfo(SignedData) from encoded parts.

    ``digest_algorithms`` and ``certificates`` are encodings of their elements (deduplicated and put in
    DER order); ``crls`` the whole ``[1]`` field or None; ``signer_infos`` are kept in the order given.
    """
    certificate_set = der_set_of(certificates)
    body = b"".join(
        (
            bytes(core.Integer(version).dump()),
            tlv(SET, der_set_of(digest_algorithms)),
            encapsulated_content_info,
            tlv(CONTEXT_0, certificate_set) if certificate_set else b"",
            crls or b"",
            tlv(SET, b"".join(signer_infos)),
        )
    )
    return tlv(SEQUENCE, SIGNED_DATA_OID + tlv(CONTEXT_0, tlv(SEQUENCE, body)))

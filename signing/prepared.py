"""Prepare → raw sign → finish: what certificates, CRLs and certification requests share.

Each of them is a to-be-signed structure, an algorithm identifier and a signature. The caller that
holds the key (an HSM unit, or a software key) signs :attr:`Prepared.digest`; ``finish`` checks the
signature with the public half before assembling the result, so a faulty HSM or a wrong key never
yields a structure nobody can verify (``InvalidSignatureError``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from asn1crypto import core

from signing.algorithms import SignatureAlgorithm
from signing.keys import PublicKey

__all__ = ["Prepared"]

TbsT = TypeVar("TbsT", bound=core.Sequence)


@dataclass(frozen=True, slots=True)
class Prepared(Generic[TbsT]):
    """A to-be-signed structure waiting for its signature over :attr:`digest`."""

    tbs: TbsT
    """The signed part, complete."""
    signature_algorithm: SignatureAlgorithm
    """The algorithm the key signs with; its digest is :attr:`digest`."""
    verification_key: PublicKey
    """The public half of the signing key: the signature is checked with it before anything leaves."""

    @property
    def tbs_der(self) -> bytes:
        """DER of the signed part."""
        return bytes(self.tbs.dump())

    @property
    def digest(self) -> bytes:
        """The digest to sign."""
        return self.signature_algorithm.digest.hash(self.tbs_der)

    def signed_der(self, container: type[core.Sequence], signature: bytes) -> bytes:
        """Check ``signature`` (``InvalidSignatureError`` when it does not verify) and return the DER of
        ``container`` (``Certificate``, ``CertificateList``, ``CertificationRequest``): its first three
        fields are the signed part, the algorithm identifier and the signature, in that order."""
        self.verification_key.verify_digest(self.digest, signature, self.signature_algorithm)
        tbs_field, algorithm_field, signature_field = (field[0] for field in container._fields[:3])
        signed = container(
            {
                tbs_field: self.tbs,
                algorithm_field: self.signature_algorithm.algorithm_identifier(),
                signature_field: signature,
            }
        )
        return bytes(signed.dump())

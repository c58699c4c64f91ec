"""AlgorithmIdentifiers as CMS carries them, byte-compatible with OpenSSL.

* digestAlgorithm: GOST R 34.11-2012 with NULL parameters (what OpenSSL's gost engine writes into
  SignerInfo and ESSCertIDv2), SHA-2 with absent parameters (RFC 5754);
* signatureAlgorithm: for GOST the *key* OID 1.2.643.7.1.1.1.1 / .1.2 with NULL parameters, as OpenSSL
  writes it (FACTS.md); for ECDSA and RSA the registry's identifier (ecdsa-with-SHA256 without
  parameters, sha256WithRSAEncryption with NULL, RSASSA-PSS with its parameters).
"""

from __future__ import annotations

from asn1crypto import algos, core

from signing.algorithms import DigestAlgorithm, SignatureAlgorithm

__all__ = ["digest_identifier", "signature_identifier"]

_GOST_DIGESTS = frozenset({"streebog256", "streebog512"})


def digest_identifier(digest: DigestAlgorithm) -> algos.DigestAlgorithm:
    """The DigestAlgorithmIdentifier of ``digest`` as CMS writes it."""
    if digest.name in _GOST_DIGESTS:
        return algos.DigestAlgorithm({"algorithm": digest.oid, "parameters": core.Null()})
    return digest.algorithm_identifier()


def signature_identifier(algorithm: SignatureAlgorithm) -> algos.SignedDigestAlgorithm:
    """The SignerInfo signatureAlgorithm of ``algorithm``."""
    if algorithm.key_algorithm.is_gost:
        return algos.SignedDigestAlgorithm(
            {"algorithm": algorithm.key_algorithm.oid, "parameters": core.Null()}
        )
    return algorithm.algorithm_identifier()

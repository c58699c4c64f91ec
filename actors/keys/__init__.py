"""Keys and certificates: users' keys in HSM units, PKCS#10 requests, the built-in CA, uploads.

Modules:
  errors     the keys error tree (each class with a stable ``code``)
  material   ``load_signing_material`` / ``SigningMaterial`` and ``trust_anchors``: the contract the
             operations layer signs through
  hsmkeys    key specs (algorithm + parameter set), SPKI of generated keys, raw → X.509 signature
             encoding, ``sign_prepared`` (prepare → sign in the HSM → finish)
  settings   ``CaSettings``: the built-in CA's policy (auto-issue, algorithm, validity, CRL validity,
             trust anchors)
  subject    certificate subjects: Russian attributes from a request, or from the user's profile
  ca         ``BuiltinCa``: the CA key generated in an HSM unit at first use, its self-signed
             certificate, issuing
  crl        ``CrlPublisher``: the built-in CA's CRL, stored in PostgreSQL and served by every worker;
             one worker signs the next under a claim when a revocation changes it or it ages;
             ``revocation_records`` for verification
  ocsp       ``OcspResponder``: the built-in CA's OCSP answers (RFC 6960), live statuses, signed in the
             HSM, reused briefly while the statuses are unchanged
  service    ``KeyService``: create keys, CSRs, issue, upload, list, defaults, revocation (with audit)

Storage lives in ``storage.repos.keys``; HTTP in ``edge.keys``.
"""

from actors.keys.material import SigningMaterial, load_signing_material, trust_anchors

__all__ = ["SigningMaterial", "load_signing_material", "trust_anchors"]

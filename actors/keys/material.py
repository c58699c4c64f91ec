"""What the operations layer needs to sign for a user: ``load_signing_material`` and ``trust_anchors``.

Contract (stable)::

    material = await load_signing_material(db, user_id=..., certificate_id=None | UUID)
    prepared = signing.<format>.prepare(..., certificate=material.certificate,
                                        signature_algorithm=material.signature_algorithm)
    raw = await balancer.sign_digest(material.hsm_key, prepared.digest)      # raw unit signature
    result = prepared.finish(material.encode_signature(raw))                 # X.509/CMS encoding

Checks, in this order, each with its own error (``actors.keys.errors``):

* the certificate exists and belongs to ``user_id`` — else :class:`CertificateNotFoundError`
  (``not_found``, 404: someone else's certificate looks missing); with ``certificate_id=None`` the
  user's default certificate — :class:`NoDefaultCertificateError` (409) when there is none;
* the certificate is not revoked — :class:`CertificateRevokedError` (409);
* its key is active — :class:`KeyRevokedError` (409);
* ``at`` (default: now) lies within its validity — :class:`CertificateNotValidNowError` (422);
* the certificate certifies the stored key (an invariant, checked anyway).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from uuid import UUID

from actors.hsmpool import HsmKey
from actors.keys.errors import (
    CertificateNotFoundError,
    CertificateNotValidNowError,
    CertificateRevokedError,
    KeyRevokedError,
    KeysError,
    NoDefaultCertificateError,
)
from actors.keys.hsmkeys import hsm_key, same_public_key, signature_algorithm_of, x509_signature
from signing.algorithms import SignatureAlgorithm
from signing.x509 import Certificate
from storage import Database
from storage.database import Connection
from storage.repos import keys as repo

__all__ = ["SigningMaterial", "load_signing_material", "trust_anchors"]


@dataclass(frozen=True, slots=True)
class SigningMaterial:
    """Everything needed to sign under one certificate; holds no private key."""

    certificate: Certificate
    """The signer's certificate (parsed)."""
    certificate_id: UUID
    """Its id."""
    key_id: UUID
    """Id of the certified key."""
    hsm_key: HsmKey
    """How the HSM pool names the key (pass to ``Balancer.sign_digest(s)``)."""
    signature_algorithm: SignatureAlgorithm
    """The algorithm the key signs with; its ``digest`` is what formats hash."""
    user_id: UUID
    """The owner."""

    def encode_signature(self, raw: bytes) -> bytes:
        """A unit's raw signature as X.509/CMS carry it: GOST ``s‖r`` unchanged, ECDSA ``r‖s`` → DER."""
        return x509_signature(self.signature_algorithm, raw)


async def load_signing_material(
    db: Database,
    *,
    user_id: UUID,
    certificate_id: UUID | None,
    at: dt.datetime | None = None,
) -> SigningMaterial:
    """The certificate ``certificate_id`` of ``user_id`` (None: the default) with its HSM key, checked.

    ``at`` is the time the signature is made (default: now, aware). See the module docstring for
    the errors.
    """
    rows = await db.run_readonly(repo.signing_rows, user_id, certificate_id)
    if rows is None:
        if certificate_id is None:
            raise NoDefaultCertificateError(
                "no certificate_id was given and the user has no default certificate"
            )
        raise CertificateNotFoundError(certificate_id)
    return material_of(rows, at=at or dt.datetime.now(dt.UTC))


def material_of(rows: repo.SigningRows, *, at: dt.datetime) -> SigningMaterial:
    """Check stored rows and build the material (see :func:`load_signing_material`)."""
    cert_row, key_row = rows.certificate, rows.key
    if cert_row.status != "valid":
        raise CertificateRevokedError(
            f"certificate {cert_row.id} was revoked at {cert_row.revoked_at:%Y-%m-%dT%H:%M:%SZ}"
            f" ({cert_row.revocation_reason}); it can no longer be used to sign"
        )
    if key_row.status != "active":
        raise KeyRevokedError(
            f"key {key_row.id} of certificate {cert_row.id} is revoked; it can no longer sign"
        )
    if at < cert_row.not_before:
        raise CertificateNotValidNowError(
            f"certificate {cert_row.id} is not valid before {cert_row.not_before:%Y-%m-%dT%H:%M:%SZ}"
        )
    if at > cert_row.not_after:
        raise CertificateNotValidNowError(
            f"certificate {cert_row.id} expired at {cert_row.not_after:%Y-%m-%dT%H:%M:%SZ}"
        )
    certificate = Certificate.load(cert_row.der)
    if not same_public_key(certificate.spki, key_row.public_key_spki):
        raise KeysError(f"certificate {cert_row.id} does not certify its stored key {key_row.id}")
    return SigningMaterial(
        certificate=certificate,
        certificate_id=cert_row.id,
        key_id=key_row.id,
        hsm_key=hsm_key(key_row.hsm_domain, key_row.hsm_key_id, key_row.wrapped_blob),
        signature_algorithm=signature_algorithm_of(key_row.algorithm),
        user_id=cert_row.user_id,
    )


async def trust_anchors(db: Database) -> list[Certificate]:
    """The built-in CA certificate(s) (active first) plus the extra trust anchors, parsed."""
    ders = await db.run_readonly(_anchor_ders)
    return [Certificate.load(der) for der in dict.fromkeys(ders)]


async def _anchor_ders(conn: Connection) -> list[bytes]:
    return [*await repo.ca_certificates(conn), *await repo.trust_anchor_certificates(conn)]

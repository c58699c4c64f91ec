"""``BuiltinCa``: the server's own certification authority, its key in an HSM unit.

At first use (the first issuance or the first download of its certificate) the CA key is generated
in an HSM unit and a self-signed CA certificate is made through prepare → sign in the HSM → finish;
both are stored in the ``ca`` table. Several workers (or nodes) may race to do this: the partial
unique index on the active row lets one insert win, and the others read the winner's row (their
generated soft key is simply dropped: it existed only as a wrapped blob in their memory).

Each worker keeps the loaded CA in memory; the row never changes while the CA is active except for
its counters. Its CRL is published by :attr:`BuiltinCa.crl` (``actors.keys.crl.CrlPublisher``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from uuid import UUID

import structlog
import trio

from actors.hsm.errors import HsmError, HsmUnavailableError
from actors.hsmpool import Balancer, HsmKey
from actors.identity.audit import audit
from actors.keys.crl import CrlPublisher
from actors.keys.errors import KeysError, KeyStoreUnavailableError
from actors.keys.hsmkeys import KeySpec, PublicHalf, hsm_key, sign_prepared, signature_algorithm_of, spki_of
from actors.keys.ocsp import OcspResponder
from actors.keys.settings import CaSettings
from actors.keys.subject import display_name
from signing.algorithms import SignatureAlgorithm
from signing.crl import Crl
from signing.keys import PublicKey
from signing.x509 import (
    Certificate,
    CertificateAuthority,
    NameSpec,
    authority_key_identifier,
    basic_constraints,
    key_identifier,
    key_usage,
    prepare_certificate,
    subject_key_identifier,
)
from storage import ConflictError, Database
from storage.repos import keys as repo

log = structlog.get_logger("actors.keys.ca")

BACKDATE = dt.timedelta(minutes=5)
"""How far notBefore is set in the past, so clients with a slightly slow clock accept a new certificate."""


@dataclass(frozen=True, slots=True)
class LoadedCa:
    """The active CA as one worker holds it."""

    id: UUID
    """Its ``ca`` row."""
    certificate: Certificate
    """Its self-signed certificate."""
    key: HsmKey
    """Its key in the HSM pool."""
    signature_algorithm: SignatureAlgorithm
    """What its key signs with (certificates and CRLs)."""
    authority: CertificateAuthority
    """Prepares certificates (signing goes through the Balancer)."""


class BuiltinCa:
    """The built-in CA of one worker process: created at first use, then cached."""

    def __init__(
        self,
        db: Database,
        hsm: Balancer,
        settings: CaSettings,
        *,
        crl_urls: tuple[str, ...] = (),
        ocsp_urls: tuple[str, ...] = (),
    ) -> None:
        """``crl_urls``: the CRL distribution points written into issued certificates; ``ocsp_urls``:
        the OCSP responders written into their authorityInfoAccess."""
        self._db = db
        self._crl_urls = crl_urls
        self._ocsp_urls = ocsp_urls
        self._hsm = hsm
        self._settings = settings
        self._loaded: LoadedCa | None = None
        self._lock = trio.Lock()
        self.crl_publisher = CrlPublisher(self, db, hsm, settings)
        self.ocsp = OcspResponder(
            self,
            db,
            hsm,
            cache_s=settings.ocsp_cache_s,
            validity=dt.timedelta(seconds=settings.ocsp_validity_s),
            max_cert_ids=settings.ocsp_max_cert_ids,
            nonce_signatures_per_s=settings.ocsp_nonce_signatures_per_s,
        )
        """The CA's OCSP responder (``actors.keys.ocsp``)."""
        """The CA's CRL, cached and re-signed on change (``actors.keys.crl``)."""

    @property
    def settings(self) -> CaSettings:
        """The CA's policy."""
        return self._settings

    async def get(self) -> LoadedCa:
        """The active CA, created now if there is none yet."""
        if self._loaded is not None:
            return self._loaded
        async with self._lock:  # one creation per worker; other workers are settled by the index
            if self._loaded is None:
                row = await self._db.run_readonly(repo.active_ca)
                if row is None:
                    row = await self._create()
                self._loaded = _load(row, self._crl_urls, self._ocsp_urls)
        return self._loaded

    async def crl(self) -> Crl:
        """The CA's current CRL (signed in the HSM when revocations changed or it aged; else cached)."""
        return await self.crl_publisher.current()

    async def issue(
        self,
        *,
        subject: NameSpec,
        public_key: PublicKey,
        validity_days: int,
        op_id: str | None = None,
    ) -> tuple[LoadedCa, Certificate]:
        """Issue an end-entity signing certificate for ``public_key`` (not stored here)."""
        ca = await self.get()
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        not_before = max(now - BACKDATE, ca.certificate.not_before)
        not_after = min(now + dt.timedelta(days=validity_days), ca.certificate.not_after)
        prepared = ca.authority.prepare(
            subject=subject, public_key=public_key, not_before=not_before, not_after=not_after
        )
        algorithm = prepared.signature_algorithm
        signature = await sign_prepared(self._hsm, ca.key, algorithm, prepared, op_id=op_id)
        return ca, prepared.finish(signature)

    async def _create(self) -> repo.CaRow:
        spec = KeySpec.parse(self._settings.algorithm, self._settings.paramset)
        try:
            generated = await self._hsm.generate_key(
                spec.algorithm,
                spec.paramset.name if spec.paramset else None,
                domain=self._settings.hsm_domain,
            )
        except HsmUnavailableError as exc:
            raise KeyStoreUnavailableError(f"no HSM unit can generate the CA key now: {exc}") from exc
        except HsmError as exc:
            # A misconfigured CA (an algorithm the units lack, an unknown domain) is the operator's
            # problem, not the client's: a 500 with the reason in the log.
            log.error("ca_key_generation_refused", code=exc.code, error=str(exc))
            raise KeysError(f"the HSM refused to generate the built-in CA key ({exc.code})") from exc
        key = generated.key
        spki = spki_of(generated.info)
        certificate = await self._self_signed(key, spki, generated.info.algorithm)
        new = repo.NewCa(
            algorithm=generated.info.algorithm,
            paramset=generated.info.paramset,
            hsm_domain=generated.domain,
            hsm_key_id=generated.info.key_id,
            wrapped_blob=generated.info.blob,
            certificate_der=certificate.der,
            subject=display_name(certificate.subject),
            not_before=certificate.not_before,
            not_after=certificate.not_after,
        )
        try:
            row = await self._db.run(repo.insert_ca, new)
        except ConflictError:
            winner = await self._db.run_readonly(repo.active_ca)
            if winner is None:  # the winner was retired in between: nothing sensible left to do
                raise
            log.info("ca_created_elsewhere", ca_id=str(winner.id))
            return winner
        audit(
            "audit_ca_created",
            ca_id=str(row.id),
            algorithm=row.algorithm,
            paramset=row.paramset,
            hsm_domain=row.hsm_domain,
            subject=row.subject,
        )
        return row

    async def _self_signed(self, key: HsmKey, spki: bytes, algorithm_name: str) -> Certificate:
        signer = PublicHalf(spki, signature_algorithm_of(algorithm_name))
        identifier = key_identifier(spki)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        prepared = prepare_certificate(
            subject=self._settings.subject,
            subject_public_key=signer.public_key(),
            issuer=self._settings.subject,
            issuer_public_key=signer.public_key(),
            signature_algorithm=signer.signature_algorithm,
            not_before=now - BACKDATE,
            not_after=now + dt.timedelta(days=self._settings.ca_validity_days),
            # The same extensions as signing.x509.self_signed_ca: a root that issues end entities.
            extensions=[
                basic_constraints(ca=True, path_length=0),
                key_usage({"key_cert_sign", "crl_sign"}),
                subject_key_identifier(identifier),
                authority_key_identifier(identifier),
            ],
        )
        signature = await sign_prepared(self._hsm, key, signer.signature_algorithm, prepared)
        return prepared.finish(signature)


def _load(row: repo.CaRow, crl_urls: tuple[str, ...], ocsp_urls: tuple[str, ...]) -> LoadedCa:
    certificate = Certificate.load(row.certificate_der)
    algorithm = signature_algorithm_of(row.algorithm)
    signer = PublicHalf(certificate.spki, algorithm)
    return LoadedCa(
        id=row.id,
        certificate=certificate,
        key=hsm_key(row.hsm_domain, row.hsm_key_id, row.wrapped_blob),
        signature_algorithm=algorithm,
        authority=CertificateAuthority(certificate, signer, crl_urls=crl_urls, ocsp_urls=ocsp_urls),
    )

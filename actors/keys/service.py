"""``KeyService``: what users (and operators) do with keys and certificates, with the rules of who may.

* A user creates keys for themselves, in an HSM unit, and works with their own keys and
  certificates only; another user's object answers exactly like a missing one (404).
* Operators (and administrators) may read, list and revoke any user's keys and certificates, and
  build requests or have certificates issued for them.
* Every key creation, issuance, upload, default change and revocation is audited.

Formats never touch keys: a request or certificate is prepared here, its digest signed in the HSM
through the Balancer, and finished (``actors.keys.hsmkeys.sign_prepared``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from uuid import UUID

from actors.hsm.errors import HsmError, HsmUnavailableError
from actors.hsmpool import Balancer, UnknownKeyDomainError
from actors.identity.audit import audit
from actors.identity.errors import PermissionDeniedError
from actors.identity.principal import Principal, Role
from actors.keys.ca import BuiltinCa
from actors.keys.errors import (
    AutoIssueDisabledError,
    CertificateNotFoundError,
    DuplicateCertificateError,
    InvalidKeyRequestError,
    KeyNotFoundError,
    KeyRevokedError,
    KeyStoreUnavailableError,
    NoUserAccountError,
)
from actors.keys.hsmkeys import KeySpec, hsm_key, sign_prepared, signature_algorithm_of, spki_of
from actors.keys.settings import CaSettings
from actors.keys.subject import display_name, profile_subject, subject_pairs
from actors.keys.upload import UploadCheck, check_upload, load_intermediates
from signing.csr import CertificationRequest, prepare_request
from signing.keys import load_public_key
from signing.x509 import Certificate
from storage import ConflictError, Database, NotFoundError
from storage.database import Connection
from storage.repos import identity as identity_repo
from storage.repos import keys as repo

REQUEST_KEY_USAGES = frozenset({"digital_signature", "non_repudiation"})
"""keyUsage asked for in every certificate request."""

Subject = Mapping[str, str] | None
"""Subject attributes (``actors.keys.subject``), or None for the user's profile."""


@dataclass(frozen=True, slots=True)
class StoredUpload:
    """An uploaded certificate as stored, with what the uploader should know."""

    row: repo.CertificateRow
    """The stored certificate."""
    warnings: tuple[str, ...]
    """Warnings of the checks (e.g. no trust anchor configured)."""


class KeyService:
    """Keys and certificates of one worker process: its database, HSM pool and built-in CA."""

    def __init__(
        self,
        db: Database,
        hsm: Balancer,
        settings: CaSettings,
        *,
        on_change: Callable[[], None] | None = None,
        crl_urls: tuple[str, ...] = (),
        ocsp_urls: tuple[str, ...] = (),
    ) -> None:
        """``crl_urls``: CRL distribution points of issued certificates (``crl_distribution_urls``);
        ``ocsp_urls``: their OCSP responders (``ocsp_urls``)."""
        self.db = db
        self.hsm = hsm
        self.settings = settings
        self.ca = BuiltinCa(db, hsm, settings, crl_urls=crl_urls, ocsp_urls=ocsp_urls)
        """The built-in CA."""
        self._on_change = on_change

    def _changed(self) -> None:
        # Other workers hear the committed change through the trigger's NOTIFY; this worker's own
        # caches are told at once, so its next request cannot outrun the notification.
        if self._on_change is not None:
            self._on_change()

    # --- keys --------------------------------------------------------------------------------------

    async def create_key(
        self,
        principal: Principal,
        *,
        algorithm: str,
        paramset: str | None = None,
        label: str | None = None,
        make_default: bool = False,
        hsm_domain: str | None = None,
    ) -> repo.KeyRow:
        """Generate a key for the caller in an HSM unit and store it."""
        user_id = _own_user(principal)
        spec = KeySpec.parse(algorithm, paramset)
        try:
            generated = await self.hsm.generate_key(
                spec.algorithm, spec.paramset.name if spec.paramset else None, domain=hsm_domain
            )
        except UnknownKeyDomainError as exc:
            raise InvalidKeyRequestError(f"no HSM unit serves key domain {hsm_domain!r}") from exc
        except HsmUnavailableError as exc:
            raise KeyStoreUnavailableError(f"no HSM unit can generate the key now: {exc}") from exc
        except HsmError as exc:
            raise InvalidKeyRequestError(
                f"the HSM units of domain {hsm_domain or self.hsm.default_domain!r} refused to generate a"
                f" {spec.algorithm.value} key ({exc.code})"
            ) from exc
        info = generated.info
        new = repo.NewKey(
            user_id=user_id,
            algorithm=info.algorithm,
            paramset=info.paramset,
            hsm_domain=generated.domain,
            hsm_key_id=info.key_id,
            wrapped_blob=info.blob,
            public_key_spki=spki_of(info),
            label=label,
        )
        row = await self.db.run(partial(repo.insert_key, make_default=make_default), new)
        self._changed()
        audit(
            "audit_key_created",
            user_id=str(user_id),
            key_id=str(row.id),
            algorithm=row.algorithm,
            paramset=row.paramset,
            hsm_domain=row.hsm_domain,
            client_id=principal.client_id,
        )
        return row

    async def get_key(self, principal: Principal, key_id: UUID) -> repo.KeyRow:
        """A key the caller may see (``KeyNotFoundError`` otherwise)."""
        try:
            row = await self.db.run_readonly(repo.get_key, key_id)
        except NotFoundError:
            raise KeyNotFoundError(key_id) from None
        if not _may_see(principal, row.user_id):
            raise KeyNotFoundError(key_id)
        return row

    async def list_keys(
        self,
        principal: Principal,
        *,
        user_id: UUID | None = None,
        status: repo.KeyStatus | None = None,
        limit: int = 100,
        after: tuple[dt.datetime, UUID] | None = None,
    ) -> list[repo.KeyRow]:
        """The caller's keys, or (operators) ``user_id``'s."""
        owner = _listed_user(principal, user_id)
        return await self.db.run_readonly(
            partial(repo.list_keys, status=status, limit=limit, after=after), owner
        )

    async def set_default_key(self, principal: Principal, key_id: UUID) -> repo.KeyRow:
        """Make an active key its owner's default (its newest valid certificate becomes default too)."""
        key = await self._active_key(principal, key_id)
        row = await self.db.run(repo.set_default_key, key.user_id, key_id)
        self._changed()
        audit("audit_default_key_set", user_id=str(key.user_id), key_id=str(key_id), by=_actor(principal))
        return row

    async def revoke_key(self, principal: Principal, key_id: UUID, *, reason: str) -> repo.KeyRow:
        """Revoke a key and its valid certificates; it signs nothing any more."""
        key = await self.get_key(principal, key_id)
        row, certificates = await self.db.run(repo.revoke_key, key_id, reason)
        self._changed()
        if key.status == "active":
            audit(
                "audit_key_revoked",
                user_id=str(key.user_id),
                key_id=str(key_id),
                reason=reason,
                certificates=[str(certificate_id) for certificate_id in certificates],
                by=_actor(principal),
            )
        return row

    # --- requests and certificates ------------------------------------------------------------------

    async def certification_request(
        self,
        principal: Principal,
        key_id: UUID,
        *,
        subject: Subject = None,
        subject_alt_names: Sequence[tuple[str, str]] = (),
    ) -> CertificationRequest:
        """A PKCS#10 request for the key, signed by the key in the HSM."""
        key = await self._active_key(principal, key_id)
        names = await self._subject(key.user_id, subject)
        algorithm = signature_algorithm_of(key.algorithm)
        prepared = prepare_request(
            subject=names,
            public_key=load_public_key(key.public_key_spki),
            signature_algorithm=algorithm,
            key_usages=REQUEST_KEY_USAGES,
            subject_alt_names=subject_alt_names,
        )
        stored = hsm_key(key.hsm_domain, key.hsm_key_id, key.wrapped_blob)
        return prepared.finish(await sign_prepared(self.hsm, stored, algorithm, prepared))

    async def issue_certificate(
        self,
        principal: Principal,
        key_id: UUID,
        *,
        subject: Subject = None,
        validity_days: int | None = None,
        make_default: bool = False,
    ) -> repo.CertificateRow:
        """Have the built-in CA certify the key now (when its policy allows) and store the certificate."""
        if not self.settings.auto_issue:
            raise AutoIssueDisabledError(
                "the built-in CA does not issue on request here: download the key's certificate request"
                " (POST /keys/{id}/csr), have it certified, and upload the certificate"
                " (PUT /keys/{id}/certificate)"
            )
        days = validity_days or self.settings.certificate_validity_days
        if days > self.settings.certificate_validity_days:
            raise InvalidKeyRequestError(
                f"validity_days may be at most {self.settings.certificate_validity_days}"
            )
        key = await self._active_key(principal, key_id)
        names = await self._subject(key.user_id, subject)
        ca, certificate = await self.ca.issue(
            subject=names, public_key=load_public_key(key.public_key_spki), validity_days=days
        )
        new = _new_certificate(key, certificate, source="builtin_ca", chain_validated=True, ca_id=ca.id)
        row = await self._store(new, make_default=make_default)
        audit(
            "audit_certificate_issued",
            user_id=str(key.user_id),
            key_id=str(key.id),
            certificate_id=str(row.id),
            serial=row.serial,
            subject=row.subject,
            not_after=row.not_after.isoformat(),
            by=_actor(principal),
        )
        return row

    async def upload_certificate(
        self,
        principal: Principal,
        key_id: UUID,
        *,
        certificate: bytes,
        chain: Sequence[bytes] = (),
        make_default: bool = False,
    ) -> StoredUpload:
        """Check a certificate an external CA issued for the key (``actors.keys.upload``) and store it."""
        key = await self._active_key(principal, key_id)
        parsed = Certificate.load(certificate)
        intermediates = load_intermediates(chain)
        ca_ders, extra_ders = await self.db.run_readonly(_anchor_ders)
        check: UploadCheck = check_upload(
            parsed,
            key=key,
            intermediates=intermediates,
            ca_certificates=[Certificate.load(der) for der in ca_ders],
            extra_anchors=[Certificate.load(der) for der in extra_ders],
            at=dt.datetime.now(dt.UTC),
        )
        new = _new_certificate(key, parsed, source="uploaded", chain_validated=check.chain_validated)
        row = await self._store(new, make_default=make_default)
        audit(
            "audit_certificate_uploaded",
            user_id=str(key.user_id),
            key_id=str(key.id),
            certificate_id=str(row.id),
            serial=row.serial,
            issuer=row.issuer,
            chain_validated=row.chain_validated,
            by=_actor(principal),
        )
        return StoredUpload(row, check.warnings)

    async def get_certificate(self, principal: Principal, certificate_id: UUID) -> repo.CertificateRow:
        """A certificate the caller may see (``CertificateNotFoundError`` otherwise)."""
        try:
            row = await self.db.run_readonly(repo.get_certificate, certificate_id)
        except NotFoundError:
            raise CertificateNotFoundError(certificate_id) from None
        if not _may_see(principal, row.user_id):
            raise CertificateNotFoundError(certificate_id)
        return row

    async def list_certificates(
        self,
        principal: Principal,
        *,
        user_id: UUID | None = None,
        key_id: UUID | None = None,
        status: repo.CertificateStatus | None = None,
        limit: int = 100,
        after: tuple[dt.datetime, UUID] | None = None,
    ) -> list[repo.CertificateRow]:
        """The caller's certificates (of one key if given), or (operators) ``user_id``'s."""
        owner = _listed_user(principal, user_id)
        listing = partial(repo.list_certificates, key_id=key_id, status=status, limit=limit, after=after)
        return await self.db.run_readonly(listing, owner)

    async def set_default_certificate(
        self, principal: Principal, certificate_id: UUID
    ) -> repo.CertificateRow:
        """Make a valid certificate its owner's default (what signing uses when none is named)."""
        current = await self.get_certificate(principal, certificate_id)
        if current.status != "valid":
            raise InvalidKeyRequestError(f"certificate {certificate_id} is revoked and cannot be the default")
        row = await self.db.run(repo.set_default_certificate, current.user_id, certificate_id)
        self._changed()
        audit(
            "audit_default_certificate_set",
            user_id=str(current.user_id),
            certificate_id=str(certificate_id),
            by=_actor(principal),
        )
        return row

    async def revoke_certificate(
        self, principal: Principal, certificate_id: UUID, *, reason: str
    ) -> repo.CertificateRow:
        """Revoke a certificate; nothing is signed under it any more."""
        current = await self.get_certificate(principal, certificate_id)
        row = await self.db.run(repo.revoke_certificate, certificate_id, reason)
        self._changed()
        if current.status == "valid":
            audit(
                "audit_certificate_revoked",
                user_id=str(current.user_id),
                certificate_id=str(certificate_id),
                serial=current.serial,
                reason=reason,
                by=_actor(principal),
            )
        return row

    async def ca_certificate(self) -> Certificate:
        """The built-in CA's certificate (the CA is created at first use)."""
        return (await self.ca.get()).certificate

    # --- helpers -----------------------------------------------------------------------------------

    async def _active_key(self, principal: Principal, key_id: UUID) -> repo.KeyRow:
        key = await self.get_key(principal, key_id)
        if key.status != "active":
            raise KeyRevokedError(f"key {key_id} is revoked")
        return key

    async def _subject(self, user_id: UUID, subject: Subject) -> list[tuple[str, str]]:
        if subject is not None:
            return subject_pairs(subject)
        user = await self.db.run_readonly(identity_repo.get_user, user_id)
        return profile_subject(user)

    async def _store(self, new: repo.NewCertificate, *, make_default: bool) -> repo.CertificateRow:
        try:
            row = await self.db.run(_insert_certificate, new, make_default)
        except ConflictError as exc:
            raise DuplicateCertificateError("this certificate is already stored") from exc
        except NotFoundError as exc:  # the key was revoked between the checks and the insert
            raise KeyRevokedError(f"key {new.key_id} is revoked") from exc
        self._changed()
        return row


async def _insert_certificate(
    conn: Connection, new: repo.NewCertificate, make_default: bool
) -> repo.CertificateRow:
    row = await repo.insert_certificate(conn, new, make_default=make_default)
    if new.ca_id is not None:
        await repo.count_issued(conn, new.ca_id)
    return row


async def _anchor_ders(conn: Connection) -> tuple[list[bytes], list[bytes]]:
    return await repo.ca_certificates(conn), await repo.trust_anchor_certificates(conn)


def _new_certificate(
    key: repo.KeyRow,
    certificate: Certificate,
    *,
    source: repo.CertificateSource,
    chain_validated: bool,
    ca_id: UUID | None = None,
) -> repo.NewCertificate:
    return repo.NewCertificate(
        key_id=key.id,
        user_id=key.user_id,
        der=certificate.der,
        serial=f"{certificate.serial_number:x}",
        subject=display_name(certificate.subject),
        issuer=display_name(certificate.issuer),
        not_before=certificate.not_before,
        not_after=certificate.not_after,
        source=source,
        chain_validated=chain_validated,
        ca_id=ca_id,
    )


def _own_user(principal: Principal) -> UUID:
    if principal.user_id is None:
        raise NoUserAccountError("no user account is behind this access token: it owns no keys")
    return principal.user_id


def _may_see(principal: Principal, owner_id: UUID) -> bool:
    return principal.owns(owner_id) or principal.has_role(Role.OPERATOR)


def _listed_user(principal: Principal, user_id: UUID | None) -> UUID:
    if user_id is None or principal.owns(user_id):
        return _own_user(principal)
    if not principal.has_role(Role.OPERATOR):
        raise PermissionDeniedError("listing another user's keys or certificates needs the role 'operator'")
    return user_id


def _actor(principal: Principal) -> str | None:
    return str(principal.user_id) if principal.user_id else principal.client_id

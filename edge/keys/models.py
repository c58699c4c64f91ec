"""The JSON shapes of the keys API (pydantic; they make its OpenAPI schemas).

Binary values travel as PEM text (certificates, requests, public keys) or base64 DER.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from signing.keys import pem_encode
from storage.repos.keys import CertificateRow, KeyRow

KeyAlgorithmName = Literal["gost3410_2012_256", "gost3410_2012_512", "ecdsa_p256"]
RevocationReason = Literal[
    "unspecified",
    "key_compromise",
    "affiliation_changed",
    "superseded",
    "cessation_of_operation",
    "privilege_withdrawn",
]
"""RFC 5280 CRLReason values a user or operator may give (CA-side reasons are not offered)."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MAX_CHAIN = 8
MAX_CERTIFICATE_TEXT = 64 * 1024


class Frozen(BaseModel):
    """Request bodies: unknown fields refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SubjectIn(Frozen):
    """Subject attributes (Russian qualified-certificate set); omitted ones are left out."""

    common_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    surname: Annotated[str, StringConstraints(max_length=64)] | None = None
    given_name: Annotated[str, StringConstraints(max_length=128)] | None = Field(
        None, description="given name and patronymic"
    )
    title: Annotated[str, StringConstraints(max_length=64)] | None = None
    organization_name: Text | None = None
    organizational_unit_name: Annotated[str, StringConstraints(max_length=64)] | None = None
    street_address: Text | None = None
    locality_name: Annotated[str, StringConstraints(max_length=128)] | None = None
    state_or_province_name: Annotated[str, StringConstraints(max_length=128)] | None = None
    country_name: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    email_address: Annotated[str, StringConstraints(max_length=128, pattern=r"^[^@\s]+@[^@\s]+$")] | None = (
        None
    )
    inn: Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")] | None = Field(
        None, description="ИНН, 12 digits"
    )
    innle: Annotated[str, StringConstraints(pattern=r"^[0-9]{10}$")] | None = Field(
        None, description="ИНН ЮЛ, 10 digits"
    )
    snils: Annotated[str, StringConstraints(pattern=r"^[0-9]{11}$")] | None = Field(
        None, description="СНИЛС, 11 digits"
    )
    ogrn: Annotated[str, StringConstraints(pattern=r"^[0-9]{13}$")] | None = Field(
        None, description="ОГРН, 13 digits"
    )
    ogrnip: Annotated[str, StringConstraints(pattern=r"^[0-9]{15}$")] | None = Field(
        None, description="ОГРНИП, 15 digits"
    )

    def attributes(self) -> dict[str, str]:
        """The given attributes by asn1crypto name."""
        return {name: value for name, value in self.model_dump().items() if value}


class KeyCreate(Frozen):
    """A key to generate in an HSM unit."""

    algorithm: KeyAlgorithmName
    paramset: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,40}$")] | None = Field(
        None,
        description="GOST parameter set: a name (CRYPTOPRO_A, TC26_256_B, TC26_512_C ...) or OID;"
        " default CRYPTOPRO_A / TC26_512_A; none for ecdsa_p256",
    )
    label: Text | None = None
    default: bool = Field(False, description="make it the default key (a user's first key always is)")
    hsm_domain: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, description="key store (soft, pkcs11:<token label>); default: the pool's first"
    )


class KeyOut(BaseModel):
    """A key as the API shows it (never its wrapped private key)."""

    id: UUID
    user_id: UUID
    algorithm: KeyAlgorithmName
    paramset: str | None
    signature_algorithm: str
    hsm_domain: str
    label: str | None
    status: Literal["active", "revoked"]
    is_default: bool
    public_key_pem: str
    created_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None


class KeyPage(BaseModel):
    """One page of keys, oldest first; pass ``next_cursor`` as ``cursor`` for the next."""

    items: list[KeyOut]
    next_cursor: str | None


class KeyListQuery(BaseModel):
    """Paging and filters of ``GET /keys``."""

    user_id: UUID | None = Field(None, description="another user's keys (operators only)")
    status: Literal["active", "revoked"] | None = None
    limit: int = Field(50, ge=1, le=200)
    cursor: Annotated[str, StringConstraints(max_length=200)] | None = None


class CertificateListQuery(BaseModel):
    """Paging and filters of ``GET /certificates``."""

    user_id: UUID | None = Field(None, description="another user's certificates (operators only)")
    key_id: UUID | None = Field(None, description="certificates of this key only")
    status: Literal["valid", "revoked"] | None = None
    limit: int = Field(50, ge=1, le=200)
    cursor: Annotated[str, StringConstraints(max_length=200)] | None = None


class CsrCreate(Frozen):
    """What to put into a certification request; no subject: the user's profile."""

    subject: SubjectIn | None = None


class CsrOut(BaseModel):
    """A PKCS#10 request signed by the key in the HSM."""

    key_id: UUID
    subject: str
    signature_algorithm: str
    pem: str


class IssueCreate(Frozen):
    """A certificate to have the built-in CA issue for the key."""

    subject: SubjectIn | None = None
    validity_days: int | None = Field(None, ge=1, le=3650)
    default: bool = Field(False, description="make it the default certificate (a user's first always is)")


class UploadCreate(Frozen):
    """A certificate an external CA issued for the key, with its intermediates."""

    certificate: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CERTIFICATE_TEXT)] = Field(
        description="PEM, or base64 of the DER"
    )
    chain: list[Annotated[str, StringConstraints(min_length=1, max_length=MAX_CERTIFICATE_TEXT)]] = Field(
        default_factory=list, max_length=MAX_CHAIN, description="intermediate CA certificates (PEM or base64)"
    )
    default: bool = False

    @field_validator("certificate")
    @classmethod
    def _certificate_encoding(cls, value: str) -> str:
        certificate_bytes(value)
        return value

    @field_validator("chain")
    @classmethod
    def _chain_encoding(cls, value: list[str]) -> list[str]:
        for item in value:
            certificate_bytes(item)
        return value


def certificate_bytes(text: str) -> bytes:
    """PEM text as is, anything else as base64 of DER (``ValueError`` when it is neither)."""
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        if not stripped.isascii():
            raise ValueError("PEM must be ASCII")
        return stripped.encode("ascii")
    try:
        return base64.b64decode("".join(stripped.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("neither PEM nor base64") from None


class CertificateOut(BaseModel):
    """A certificate as the API shows it."""

    id: UUID
    key_id: UUID
    user_id: UUID
    serial: str
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    source: Literal["builtin_ca", "uploaded"]
    chain_validated: bool
    status: Literal["valid", "revoked"]
    is_default: bool
    created_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None
    pem: str

    @classmethod
    def of(cls, row: CertificateRow) -> CertificateOut:
        """The public view of a stored certificate."""
        return cls(
            id=row.id,
            key_id=row.key_id,
            user_id=row.user_id,
            serial=row.serial,
            subject=row.subject,
            issuer=row.issuer,
            not_before=row.not_before,
            not_after=row.not_after,
            source=row.source,  # type: ignore[arg-type]  # CHECK constraint in the schema
            chain_validated=row.chain_validated,
            status=row.status,  # type: ignore[arg-type]
            is_default=row.is_default,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
            revocation_reason=row.revocation_reason,
            pem=_pem(row.der, "CERTIFICATE"),
        )


class UploadOut(CertificateOut):
    """A stored upload plus what the uploader should know."""

    warnings: list[str]


class CertificatePage(BaseModel):
    """One page of certificates, oldest first."""

    items: list[CertificateOut]
    next_cursor: str | None


class Revoke(Frozen):
    """Why a key or certificate is revoked."""

    reason: RevocationReason = "unspecified"


def key_out(row: KeyRow, signature_algorithm: str) -> KeyOut:
    """The public view of a stored key."""
    return KeyOut(
        id=row.id,
        user_id=row.user_id,
        algorithm=row.algorithm,  # type: ignore[arg-type]  # CHECK constraint in the schema
        paramset=row.paramset,
        signature_algorithm=signature_algorithm,
        hsm_domain=row.hsm_domain,
        label=row.label,
        status=row.status,  # type: ignore[arg-type]
        is_default=row.is_default,
        public_key_pem=_pem(row.public_key_spki, "PUBLIC KEY"),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        revocation_reason=row.revocation_reason,
    )


def _pem(der: bytes, label: str) -> str:
    return pem_encode(der, label).decode("ascii")

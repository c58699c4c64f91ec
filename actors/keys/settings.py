"""``CaSettings``: the built-in CA's policy and the extra trust anchors.

Meant as the ``ca`` section of ``config.Settings`` (it depends on pydantic only, so it moves there
verbatim); until it is there, :func:`ca_settings` falls back to the defaults, and the edge accepts
an explicit section (``edge.keys.register(app, ca=...)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CaAlgorithm = Literal["gost3410_2012_256", "gost3410_2012_512", "ecdsa_p256"]


class CaSettings(BaseModel):
    """The built-in certification authority (``actors.keys.ca``) and trust anchors for uploads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_issue: bool = True
    """Let the built-in CA issue a certificate at once on ``POST /keys/{id}/certificate``; off, users
    download the request (CSR) and upload a certificate from an external CA."""
    algorithm: CaAlgorithm = "gost3410_2012_256"
    """Key algorithm of the CA key, generated in an HSM unit at first use (changing it later does not
    replace an existing CA)."""
    paramset: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")] | None = None
    """GOST parameter set of the CA key (member name or OID); unset: CryptoPro A (256) / TC26 512 A."""
    hsm_domain: str | None = None
    """Key store of the CA key; unset: the pool's default domain (soft units first)."""
    subject: tuple[tuple[str, str], ...] = (
        ("common_name", "Klyuch built-in CA"),
        ("organization_name", "Klyuch"),
        ("country_name", "RU"),
    )
    """Distinguished name of the CA (asn1crypto attribute names or dotted OIDs, in order)."""
    ca_validity_days: Annotated[int, Field(ge=1, le=36_500)] = 3650
    """Validity of the CA's self-signed certificate."""
    certificate_validity_days: Annotated[int, Field(ge=1, le=3650)] = 365
    """Longest validity of an issued certificate (and the default); capped by the CA's own."""
    trust_anchor_files: tuple[Path, ...] = ()
    """PEM or DER files of external CA certificates that uploaded certificates must chain to; each is
    added to the database's trust anchors at start. None: uploads are accepted with a warning."""

    @model_validator(mode="after")
    def _coherent(self) -> CaSettings:
        if self.algorithm == "ecdsa_p256" and self.paramset is not None:
            raise ValueError("paramset must be unset for an ecdsa_p256 CA")
        if self.certificate_validity_days > self.ca_validity_days:
            raise ValueError("certificate_validity_days must not exceed ca_validity_days")
        if not self.subject:
            raise ValueError("the CA subject needs at least one attribute")
        return self


def ca_settings(settings: object) -> CaSettings:
    """The ``ca`` section of ``settings`` when it has one, else the defaults."""
    section: CaSettings | None = getattr(settings, "ca", None)
    return section if section is not None else CaSettings()

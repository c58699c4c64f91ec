"""``CaSettings`` (the ``ca`` section of ``config.Settings``), :func:`ca_settings` and the CRL policy.

The CRL's validity is ``CaSettings.crl_validity_s`` (at least :data:`MIN_CRL_VALIDITY`).
The OCSP responder URL of issued certificates comes from ``server.public_url`` (:func:`ocsp_urls`).
"""

from __future__ import annotations

import datetime as dt

from config.settings import CaAlgorithm, CaSettings, Settings

__all__ = [
    "MIN_CRL_VALIDITY",
    "CaAlgorithm",
    "CaSettings",
    "ca_settings",
    "crl_distribution_urls",
    "crl_validity",
    "ocsp_urls",
]

MIN_CRL_VALIDITY = dt.timedelta(seconds=60)
"""The shortest validity honoured: a shorter one would re-sign the CRL on almost every download."""


def ca_settings(settings: object) -> CaSettings:
    """The ``ca`` section of ``settings`` when it has one, else the defaults."""
    section: CaSettings | None = getattr(settings, "ca", None)
    return section if section is not None else CaSettings()


def crl_validity(settings: CaSettings) -> dt.timedelta:
    """How long a CRL of the built-in CA is valid (``crl_validity_s``, at least a minute)."""
    return max(dt.timedelta(seconds=settings.crl_validity_s), MIN_CRL_VALIDITY)


CRL_PATH = "/api/v1/ca/crl"
"""Where ``edge.keys.ca`` serves the CRL."""


def crl_distribution_urls(settings: Settings) -> tuple[str, ...]:
    """The CRL distribution points of issued certificates: ``ca.crl_url``, else the server's
    configured public URL + :data:`CRL_PATH`, else none."""
    return _published(settings.ca.crl_url, settings, CRL_PATH)


OCSP_PATH = "/api/v1/ca/ocsp"
"""Where ``edge.keys.ca`` answers OCSP requests."""


def ocsp_urls(settings: Settings) -> tuple[str, ...]:
    """The OCSP responder of issued certificates (authorityInfoAccess): ``ca.ocsp_url``, else the
    server's configured public URL + :data:`OCSP_PATH`, else none."""
    return _published(settings.ca.ocsp_url, settings, OCSP_PATH)


def _published(explicit: str | None, settings: Settings, path: str) -> tuple[str, ...]:
    """Where certificates send relying parties: the configured URL, else ``server.public_url`` +
    ``path``; none when neither is set (a loopback default would only mislead them)."""
    if explicit is not None:
        return (explicit,)
    if settings.server.public_url is not None:
        return (settings.server.public_url.rstrip("/") + path,)
    return ()

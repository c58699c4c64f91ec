"""``CaSettings`` (the ``ca`` section of ``config.Settings``), :func:`ca_settings` and the CRL policy.

The CRL's validity is read from ``CaSettings.crl_validity_s`` when the section has that field (the
proposed ``config.settings`` addition: ``crl_validity_s: PositiveSeconds = 86_400.0``); until then,
and for sections without it, :data:`DEFAULT_CRL_VALIDITY` applies.
"""

from __future__ import annotations

import datetime as dt

from config.settings import CaAlgorithm, CaSettings

__all__ = [
    "DEFAULT_CRL_VALIDITY",
    "MIN_CRL_VALIDITY",
    "CaAlgorithm",
    "CaSettings",
    "ca_settings",
    "crl_validity",
]

DEFAULT_CRL_VALIDITY = dt.timedelta(days=1)
"""nextUpdate − thisUpdate of the built-in CA's CRL unless configured."""
MIN_CRL_VALIDITY = dt.timedelta(seconds=60)
"""The shortest validity honoured: a shorter one would re-sign the CRL on almost every download."""


def ca_settings(settings: object) -> CaSettings:
    """The ``ca`` section of ``settings`` when it has one, else the defaults."""
    section: CaSettings | None = getattr(settings, "ca", None)
    return section if section is not None else CaSettings()


def crl_validity(settings: CaSettings) -> dt.timedelta:
    """How long a CRL of the built-in CA is valid (``crl_validity_s``, at least a minute)."""
    seconds = getattr(settings, "crl_validity_s", None)
    if seconds is None:
        return DEFAULT_CRL_VALIDITY
    return max(dt.timedelta(seconds=float(seconds)), MIN_CRL_VALIDITY)

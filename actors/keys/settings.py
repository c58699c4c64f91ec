"""``CaSettings`` (the ``ca`` section of ``config.Settings``) and :func:`ca_settings`."""

from __future__ import annotations

from config.settings import CaAlgorithm, CaSettings

__all__ = ["CaAlgorithm", "CaSettings", "ca_settings"]


def ca_settings(settings: object) -> CaSettings:
    """The ``ca`` section of ``settings`` when it has one, else the defaults."""
    section: CaSettings | None = getattr(settings, "ca", None)
    return section if section is not None else CaSettings()

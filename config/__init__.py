"""Klyuch configuration: one frozen ``Settings`` built once in ``main()`` and passed down by section.

Modules:
  settings  the ``Settings`` model and its sections (server, storage, hsm, security, limits, logging)
  loading   reading a TOML file and ``KLYUCH_*`` environment variables; readable errors naming the key
  display   the effective configuration as text with secrets masked (``klyuch config show``)
  processes what child processes share: environment, dying with the parent, reaping (stdlib only)

The names below load their modules when first used: a child process that needs only
``config.processes`` (an HSM unit) does not pay for the settings model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config.loading import ConfigError, load_settings
    from config.settings import (
        HsmSettings,
        LimitsSettings,
        LoggingSettings,
        SecuritySettings,
        ServerSettings,
        Settings,
        StorageSettings,
    )

_HOMES = {
    "ConfigError": "config.loading",
    "load_settings": "config.loading",
    "HsmSettings": "config.settings",
    "LimitsSettings": "config.settings",
    "LoggingSettings": "config.settings",
    "SecuritySettings": "config.settings",
    "ServerSettings": "config.settings",
    "Settings": "config.settings",
    "StorageSettings": "config.settings",
}

__all__ = [
    "ConfigError",
    "HsmSettings",
    "LimitsSettings",
    "LoggingSettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "StorageSettings",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    """Load the module of ``name`` on first use (PEP 562) and keep the name here."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'config' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value

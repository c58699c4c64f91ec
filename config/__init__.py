"""Klyuch configuration: one frozen ``Settings`` built once in ``main()`` and passed down by section.

Modules:
  settings  the ``Settings`` model and its sections (server, storage, hsm, security, limits, logging)
  loading   reading a TOML file and ``KLYUCH_*`` environment variables; readable errors naming the key
  display   the effective configuration as text with secrets masked (``klyuch config show``)
"""

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

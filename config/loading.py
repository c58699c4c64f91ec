"""Build ``Settings`` from defaults, an optional TOML file and ``KLYUCH_*`` variables (highest wins last).

Precedence, lowest to highest: defaults, the TOML file, environment variables, explicit overrides.
A bad value raises ``ConfigError`` whose message names each failing key both as a dotted path and as
the environment variable that sets it, so ``KLYUCH_SERVER__PORT=abc`` fails with "server.port".
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, TomlConfigSettingsSource

from config.settings import Settings

CONFIG_FILE_ENV = "KLYUCH_CONFIG"


class ConfigError(Exception):
    """The configuration cannot be used; the message names every failing key."""

    code = "config_error"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Return the effective settings; ``config_file`` defaults to ``$KLYUCH_CONFIG`` when set."""
    path = config_file or _config_file_from_env()
    if path is not None:
        _check_toml(path)
    cls = _settings_class(path)
    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _config_file_from_env() -> Path | None:
    value = os.environ.get(CONFIG_FILE_ENV)
    return Path(value) if value else None


def _check_toml(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"configuration file {path} cannot be read: {exc}") from None


def _settings_class(toml_file: Path | None) -> type[Settings]:
    """A ``Settings`` subclass whose sources include ``toml_file`` below the environment."""

    class FileSettings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            if toml_file is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
            return tuple(sources)

    FileSettings.__name__ = FileSettings.__qualname__ = "Settings"
    return FileSettings


def _is_secret(loc: list[str]) -> bool:
    """Whether the setting at ``loc`` holds a secret (a ``SecretStr``, or named like one): its
    refused value must not be echoed in the error."""
    if any(word in part for part in loc for word in ("secret", "passphrase", "pin", "password", "token")):
        return True
    model: Any = Settings
    for part in loc:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return False
        if "SecretStr" in repr(field.annotation):
            return True
        model = field.annotation
    return False


def _describe(exc: ValidationError) -> str:
    lines = ["invalid configuration:"]
    for error in exc.errors():
        loc = [str(part) for part in error["loc"] if not isinstance(part, int)]
        key = ".".join(loc) or "(settings)"
        env = "KLYUCH_" + "__".join(loc).upper() if loc else ""
        given = error.get("input")
        shown = "" if isinstance(given, dict) or _is_secret(loc) else f" (got {given!r})"
        where = f" [env {env}]" if env else ""
        lines.append(f"  {key}{where}: {error['msg']}{shown}")
    return "\n".join(lines)

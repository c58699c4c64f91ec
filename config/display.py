"""Render the effective configuration for people, secrets masked (``klyuch config show``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from config.settings import Settings

MASK = "********"


def render_settings(settings: Settings) -> str:
    """Return the settings as indented JSON with every secret replaced by a mask."""
    return json.dumps(_plain(settings.model_dump()), indent=2, sort_keys=False)


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value

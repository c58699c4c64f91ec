"""Notices as JSON objects: the form stored in ``device_notices.notice`` and shown to devices.

::

    {"op_id": "<uuid>", "user_id": "<uuid>", "created_at": "<ISO 8601>", "expires_at": "<ISO 8601>",
     "items": [{"name": str, "digest_hex": "<hex>", "digest_algorithm": str, "preview_text": str}, ...]}
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from actors.sessions.protocol import NoticeItem, OperationNotice


def item_to_json(item: NoticeItem) -> dict[str, str]:
    """One item as a JSON object."""
    return {
        "name": item.name,
        "digest_hex": item.digest_hex,
        "digest_algorithm": item.digest_algorithm,
        "preview_text": item.preview_text,
    }


def item_from_json(data: Any) -> NoticeItem:
    """Read an item; ``ValueError`` on a malformed one."""
    if not isinstance(data, dict):
        raise ValueError("an item must be a JSON object")  # noqa: TRY004 - one error type for bad input
    try:
        return NoticeItem(
            name=_text(data, "name"),
            digest_hex=_text(data, "digest_hex"),
            digest_algorithm=_text(data, "digest_algorithm"),
            preview_text=_text(data, "preview_text"),
        )
    except KeyError as exc:
        raise ValueError(f"item field {exc} is missing") from None


def notice_to_json(notice: OperationNotice) -> dict[str, Any]:
    """A notice as a JSON object."""
    return {
        "op_id": str(notice.op_id),
        "user_id": str(notice.user_id),
        "created_at": notice.created_at.isoformat(),
        "expires_at": notice.expires_at.isoformat(),
        "items": [item_to_json(item) for item in notice.items],
    }


def notice_from_json(data: Any) -> OperationNotice:
    """Read a notice; ``ValueError`` on a malformed one."""
    if not isinstance(data, dict):
        raise ValueError("a notice must be a JSON object")  # noqa: TRY004
    try:
        items = data["items"]
        if not isinstance(items, list):
            raise ValueError("items must be a list")  # noqa: TRY004
        return OperationNotice(
            op_id=UUID(_text(data, "op_id")),
            user_id=UUID(_text(data, "user_id")),
            items=tuple(item_from_json(item) for item in items),
            created_at=datetime.fromisoformat(_text(data, "created_at")),
            expires_at=datetime.fromisoformat(_text(data, "expires_at")),
        )
    except KeyError as exc:
        raise ValueError(f"notice field {exc} is missing") from None


def dumps_notice(notice: OperationNotice) -> str:
    """The notice as compact JSON text."""
    return json.dumps(notice_to_json(notice), separators=(",", ":"), ensure_ascii=False)


def loads_notice(text: str) -> OperationNotice:
    """Read JSON text made by :func:`dumps_notice`."""
    return notice_from_json(json.loads(text))


def _text(data: dict[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")  # noqa: TRY004
    return value

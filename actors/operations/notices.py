"""``OperationNotice``s for the devices: what an operation awaiting confirmation shows.

Items carry the document digests (the device's decision MAC covers them, in order), the digest
algorithm's name and a text preview. Built from a fresh operation's planned items, or from stored
rows when an operation is re-hydrated or a device connects (``PendingLookup``).
"""

from __future__ import annotations

from collections.abc import Iterable

from actors.operations.intake import PlannedItem
from actors.sessions.protocol import MAX_NAME_CHARS, MAX_PREVIEW_CHARS, NoticeItem, OperationNotice
from storage.repos.operations import NewItem, NoticeRow, OperationRow


def notice_of(row: OperationRow, items: Iterable[PlannedItem | NewItem | NoticeRow]) -> OperationNotice:
    """The notice of ``row`` with ``items`` (planned, being inserted, or stored), in item order."""
    return OperationNotice(
        op_id=row.id,
        user_id=row.user_id,
        items=tuple(
            NoticeItem(
                name=item.name[:MAX_NAME_CHARS],
                digest_hex=item.digest.hex(),
                digest_algorithm=row.digest_algorithm,
                preview_text=(item.preview or "")[:MAX_PREVIEW_CHARS],
            )
            for item in sorted(items, key=lambda item: item.idx)
        ),
        created_at=row.created_at,
        expires_at=row.expires_at,
    )

"""Planned items → the rows to store (``NewItem``) and the items of an answer (``ItemView``).

Shared by the synchronous path (``direct``), the service that creates operations and the
``PendingOperation`` actor, so a field added to an item is carried the same way on every path.
"""

from __future__ import annotations

from collections.abc import Sequence

from actors.operations.intake import PlannedItem
from actors.operations.model import ItemView
from storage.repos.operations import ItemResult, NewItem


def new_items(
    planned: Sequence[PlannedItem], *, documents: bool, previews: bool, bases: bool = False
) -> list[NewItem]:
    """The rows to insert for ``planned``; documents and previews are kept only when asked to.

    With ``bases``, a co-signature item keeps the existing CMS it adds to as its document (whatever
    ``documents`` says: executing it needs that CMS, and an operation that is not signed at once is
    re-read from the rows).
    """
    return [
        NewItem(
            idx=item.idx,
            name=item.name,
            input=item.input.value,
            digest=item.digest,
            document=item.base if bases and item.base is not None else item.content if documents else None,
            preview=item.preview if previews else None,
        )
        for item in planned
    ]


def item_views(planned: Sequence[PlannedItem], results: Sequence[ItemResult]) -> tuple[ItemView, ...]:
    """The answer's items: each planned item with its result (``results`` in the same order)."""
    return tuple(
        ItemView(
            index=item.idx,
            name=item.name,
            input=item.input,
            digest=item.digest,
            result=result.result,
            error_code=result.error_code,
            error_detail=result.error_detail,
        )
        for item, result in zip(planned, results, strict=True)
    )


__all__ = ["item_views", "new_items"]

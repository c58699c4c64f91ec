"""Errors of the writer link (they never reach a caller of ``Database.run_batched``).

::

    StorageUnavailableError
     └─ WriterUnavailableError     writer_unavailable   (no writer, it died or hangs, or the group is too big)
         └─ WriterProtocolError    writer_protocol      (a malformed or oversized frame)

``Database`` answers both by applying the group in process, so a caller sees its own outcome only.
"""

from __future__ import annotations

from storage.errors import StorageUnavailableError


class WriterUnavailableError(StorageUnavailableError):
    """The writer process cannot take this group now; apply it in process."""

    code = "writer_unavailable"


class WriterProtocolError(WriterUnavailableError):
    """A frame broke the protocol (too long, not a pickle of primitives, unknown request id)."""

    code = "writer_protocol"

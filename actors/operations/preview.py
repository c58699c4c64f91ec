"""Text previews of documents for the confirmation screen of a device.

A document is previewed when it reads as text: UTF-8 (a byte-order mark is dropped) with no control
characters other than tab, line feed and carriage return. Anything else (PDF, images, archives,
other encodings) gets an empty preview: the device then shows the name and digest only. Only the
head of the document is decoded, so a large document costs no more than a small one.
"""

from __future__ import annotations

from actors.sessions.protocol import MAX_PREVIEW_CHARS

_ALLOWED_CONTROLS = frozenset("\t\n\r")
_BOM = b"\xef\xbb\xbf"


def text_preview(content: bytes, *, limit: int = MAX_PREVIEW_CHARS) -> str:
    """The first ``limit`` characters of ``content`` when it is text, else ``""``."""
    size = limit * 4 + len(_BOM)  # a UTF-8 character is at most 4 bytes
    head = content[:size]
    whole = len(content) <= size
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    try:
        # A cut in the middle of a character is not a sign of binary data: decode what is whole.
        text = head.decode("utf-8") if whole else _decode_prefix(head)
    except UnicodeDecodeError:
        return ""
    if any(_is_control(ch) for ch in text):
        return ""
    return text[:limit]


def _is_control(ch: str) -> bool:
    code = ord(ch)
    return (code < 0x20 and ch not in _ALLOWED_CONTROLS) or 0x7F <= code <= 0x9F


def _decode_prefix(head: bytes) -> str:
    for cut in range(3):
        try:
            return head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return head[: len(head) - 3].decode("utf-8")  # still failing: not UTF-8 (raises)

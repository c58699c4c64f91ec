"""``edge.request_id.new_request_id`` makes what ``uuid.uuid4().hex`` made: a random version-4 UUID in hex."""

from __future__ import annotations

import uuid

from edge.request_id import new_request_id


def test_a_new_request_id_is_a_uuid4_in_hex() -> None:
    ids = [new_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for request_id in ids:
        parsed = uuid.UUID(hex=request_id)
        assert parsed.hex == request_id
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    # Every other bit is random: each of the 122 random bits is seen both set and clear.
    fixed = (0xC000 << 48) | (0xF000 << 64)
    seen_set = seen_clear = 0
    for request_id in ids:
        value = int(request_id, 16)
        seen_set |= value
        seen_clear |= ~value
    assert seen_set & ~fixed & ((1 << 128) - 1) == ((1 << 128) - 1) & ~fixed
    assert seen_clear & ~fixed & ((1 << 128) - 1) == ((1 << 128) - 1) & ~fixed

"""The SIGN_MANY reply decoder reads every body as the cursor-based reader it replaced did.

``reference`` below is that reader, kept as the oracle: same outcomes for valid bodies, the same
error (class and message) for every malformed one.
"""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.hsm.codec import decode_error, decode_reply, encode_reply
from actors.hsm.errors import HsmError, HsmProtocolError, HsmRequestError, NoSlotError
from actors.hsm.protocol import ManySignatures


def reference(body: bytes) -> tuple[bytes | HsmError, ...]:
    offset = 0

    def take(size: int) -> bytes:
        nonlocal offset
        end = offset + size
        if end > len(body):
            raise HsmRequestError("ManySignatures: truncated body")
        chunk = body[offset:end]
        offset = end
        return chunk

    outcomes: list[bytes | HsmError] = []
    for _ in range(struct.unpack(">H", take(2))[0]):
        status = take(1)[0]
        data = take(struct.unpack(">H", take(2))[0])
        if status > 1:
            raise HsmRequestError("ManySignatures: unknown item status")
        outcomes.append(decode_error(data) if status else data)
    if len(body) - offset:
        raise HsmRequestError("ManySignatures: trailing bytes")
    return tuple(outcomes)


def _outcome(body: bytes) -> tuple[str, object]:
    try:
        return (
            "ok",
            [
                o if isinstance(o, bytes) else (type(o), str(o))
                for o in decode_reply(ManySignatures, body).outcomes
            ],
        )
    except HsmProtocolError as exc:
        return ("error", str(exc))


def _reference_outcome(body: bytes) -> tuple[str, object]:
    try:
        return ("ok", [o if isinstance(o, bytes) else (type(o), str(o)) for o in reference(body)])
    except HsmRequestError as exc:
        return ("error", f"malformed reply: {exc}")
    except HsmProtocolError as exc:  # a malformed error item
        return ("error", str(exc))


OUTCOMES = st.lists(st.binary(max_size=80) | st.builds(NoSlotError, st.text(max_size=20)), max_size=5)


@settings(max_examples=300, deadline=None)
@given(outcomes=OUTCOMES, cut=st.integers(0, 400), extra=st.binary(max_size=3), flip=st.integers(0, 400))
def test_every_body_decodes_as_the_reference_reads_it(
    outcomes: list[bytes | HsmError], cut: int, extra: bytes, flip: int
) -> None:
    body = encode_reply(ManySignatures(tuple(outcomes)))
    assert _outcome(body) == _reference_outcome(body)
    assert _outcome(body)[0] == "ok"
    for variant in (body[:cut], body + extra, body[:flip] + bytes([0x02]) + body[flip + 1 :]):
        assert _outcome(variant) == _reference_outcome(variant)


@given(body=st.binary(max_size=40))
def test_arbitrary_bytes_decode_as_the_reference_reads_them(body: bytes) -> None:
    assert _outcome(body) == _reference_outcome(body)

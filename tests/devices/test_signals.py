"""Cross-worker signals and stored notices: round trips, sizes, and refusal of anything else."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from actors.sessions import signals
from actors.sessions.codec import dumps_notice, loads_notice
from actors.sessions.protocol import Decision, NoticeItem, OperationNotice, OutcomeStatus


def _all_signals() -> list[signals.Signal]:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    return [
        signals.Pushed(a, b, c),
        signals.Withdrawn(a, b, c),
        signals.Withdrawn(a, None, c),
        signals.Authenticated(a, b, 7, c),
        signals.Revoked(a, b),
        signals.DecideCall(a, b, c, uuid.uuid4(), Decision.DECLINE, uuid.uuid4()),
        signals.OutcomeReply(a, OutcomeStatus.ALREADY_DECIDED),
    ]


@pytest.mark.parametrize("signal", _all_signals(), ids=lambda s: type(s).__name__)
def test_signals_round_trip_and_stay_small(signal: signals.Signal) -> None:
    payload = signals.encode(signal)
    assert signals.decode(payload) == signal
    assert len(payload) < 300, "NOTIFY payloads carry ids only"


def test_sent_by_marks_exactly_a_node_s_own_shared_signals() -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    op, user, device = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    json_text = '{"n":"' + me.hex + '"}'  # a notice may hold anything; it travels escaped
    own = [
        signals.Pushed(op, user, me),
        signals.Pushed(op, user, me, json_text),
        signals.Withdrawn(op, None, me),
        signals.Authenticated(device, user, 3, me),
    ]
    foreign = [
        signals.Pushed(op, user, other, json_text),
        signals.Withdrawn(op, user, other),
        signals.Authenticated(device, user, 3, other),
        signals.Revoked(device, user),
    ]
    marker = signals.sent_by(me)
    assert all(marker in signals.encode(signal) for signal in own)
    assert not any(marker in signals.encode(signal) for signal in foreign)


@pytest.mark.parametrize(
    "payload",
    ["", "[]", "{}", '{"k": "push"}', '{"k": "nope"}', '{"k": "outcome", "c": "x", "s": "accepted"}'],
)
def test_anything_else_is_refused(payload: str) -> None:
    with pytest.raises(ValueError, match="signal"):
        signals.decode(payload)


def _notice(items: int, preview: str) -> OperationNotice:
    now = datetime.now(UTC)
    return OperationNotice(
        uuid.uuid4(),
        uuid.uuid4(),
        tuple(NoticeItem(f"Договор №{i}.pdf", "ab" * 32, "streebog256", preview) for i in range(items)),
        now,
        now + timedelta(minutes=5),
    )


def test_a_push_carries_a_small_notice_and_leaves_a_large_one_in_the_table() -> None:
    small = _notice(1, "Платёж 1 000,00 ₽")
    text = dumps_notice(small)
    payload = signals.encode(signals.Pushed(small.op_id, small.user_id, uuid.uuid4(), text))
    decoded = signals.decode(payload)
    assert isinstance(decoded, signals.Pushed)
    assert decoded.notice is not None
    assert loads_notice(decoded.notice) == small
    assert len(payload.encode()) <= signals.NOTICE_PAYLOAD_LIMIT
    large = _notice(20, "Ж" * 500)
    pushed = signals.Pushed(large.op_id, large.user_id, uuid.uuid4(), dumps_notice(large))
    decoded = signals.decode(signals.encode(pushed))
    assert decoded == signals.Pushed(large.op_id, large.user_id, pushed.node)  # without the notice


def test_node_channels_are_valid_identifiers() -> None:
    channel = signals.node_channel(uuid.uuid4())
    assert channel.isidentifier()
    assert len(channel) < 64


def test_notices_round_trip() -> None:
    now = datetime.now(UTC)
    notice = OperationNotice(
        uuid.uuid4(),
        uuid.uuid4(),
        (NoticeItem("Договор №7.pdf", "ab" * 32, "streebog256", "Предпросмотр"),),
        now,
        now + timedelta(minutes=5),
    )
    assert loads_notice(dumps_notice(notice)) == notice


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("digest_hex", "AB" * 32),
        ("digest_hex", "zz"),
        ("digest_algorithm", "ы"),
        ("preview_text", "x" * 2001),
    ],
)
def test_items_are_validated(field: str, value: str) -> None:
    fields = {"name": "a", "digest_hex": "ab" * 32, "digest_algorithm": "streebog256", "preview_text": ""}
    with pytest.raises(ValueError):  # noqa: PT011 - every field's message differs
        NoticeItem(**{**fields, field: value})


def test_notices_need_items_and_aware_times() -> None:
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="items"):
        OperationNotice(uuid.uuid4(), uuid.uuid4(), (), now, now)
    item = NoticeItem("a", "ab" * 32, "streebog256", "")
    with pytest.raises(ValueError, match="timezone"):
        OperationNotice(uuid.uuid4(), uuid.uuid4(), (item,), datetime.now(), now)

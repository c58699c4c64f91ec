"""The wire format without processes: frames, message bodies, error codes, the handshake MACs."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.hsm import auth, wire
from actors.hsm.codec import (
    decode_error,
    decode_reply,
    decode_request,
    encode_error,
    encode_reply,
    encode_request,
    sign_item_size,
)
from actors.hsm.errors import (
    BlobInvalidError,
    FrameTooLargeError,
    HsmAuthError,
    HsmError,
    HsmProtocolError,
    HsmRequestError,
    SlotCrashedError,
    UnitLostError,
    UnknownOperationError,
    error_for_code,
)
from actors.hsm.protocol import (
    REPLY_TYPES,
    Agree,
    GenerateKey,
    HealthReport,
    KeyInfo,
    KeyRef,
    ManySignatures,
    Op,
    Signatures,
    SignDigests,
    SignItem,
    SignMany,
)

KEY_ID = "00112233445566778899aabbccddeeff"


def test_frame_layout_is_length_kind_id_body() -> None:
    frame = wire.pack(Op.SIGN_DIGESTS, 0x01020304, b"{}")
    assert frame == b"\x00\x00\x00\x07\x04\x01\x02\x03\x04{}"
    (length,) = wire.LENGTH.unpack(frame[:4])
    assert wire.split(frame[4 : 4 + length]) == (Op.SIGN_DIGESTS, 0x01020304, b"{}")


def test_frame_length_limits() -> None:
    assert wire.check_length(100, 100) == 100
    with pytest.raises(FrameTooLargeError):
        wire.check_length(101, 100)
    with pytest.raises(HsmProtocolError):
        wire.check_length(4, 100)  # shorter than kind + request id


@given(
    size=st.integers(min_value=1, max_value=255),
    count=st.integers(min_value=1, max_value=50),
    blob=st.one_of(st.none(), st.binary(min_size=1, max_size=200)),
    op_id=st.one_of(st.none(), st.text(min_size=1, max_size=40)),
    data=st.data(),
)
def test_sign_request_round_trip(
    size: int, count: int, blob: bytes | None, op_id: str | None, data: st.DataObject
) -> None:
    digests = tuple(data.draw(st.binary(min_size=size, max_size=size)) for _ in range(count))
    request = SignDigests(key=KeyRef(KEY_ID, blob), digests=digests)
    assert decode_request(Op.SIGN_DIGESTS, encode_request(request, op_id=op_id)) == (request, op_id)


def test_json_request_round_trip_with_op_id() -> None:
    request = Agree(key=KeyRef(KEY_ID, b"b"), peer_public=b"p" * 64, ukm=b"u" * 8, output_size=64)
    assert decode_request(Op.AGREE, encode_request(request, op_id="op-7")) == (request, "op-7")


def test_defaults_may_be_omitted_and_unknown_keys_are_ignored() -> None:
    body = json.dumps({"algorithm": "ecdsa_p256", "future_field": 1}).encode()
    assert decode_request(Op.GENERATE_KEY, body) == (GenerateKey(algorithm="ecdsa_p256", paramset=None), None)
    agree = Agree(key=KeyRef(KEY_ID), peer_public=b"\x04" * 65)
    assert decode_request(Op.AGREE, encode_request(agree))[0] == agree


@pytest.mark.parametrize(
    ("op", "body", "fragment"),
    [
        (Op.PUBLIC_KEY, b"not json", "not JSON"),
        (Op.PUBLIC_KEY, b"[]", "JSON object"),
        (Op.AGREE, b'{"key": {"key_id": "' + KEY_ID.encode() + b'"}}', "peer_public: missing"),
        (Op.PUBLIC_KEY, b'{"key": {"key_id": "xyz"}}', "32 hex digits"),
        (Op.AGREE, b'{"key": {"key_id": "' + KEY_ID.encode() + b'"}, "peer_public": "!!"}', "base64"),
        (Op.PUBLIC_KEY, b'{"key": "AA=="}', "an object"),
        (
            Op.AGREE,
            b'{"key": {"key_id": "' + KEY_ID.encode() + b'"}, "peer_public": "", "output_size": true}',
            "integer",
        ),
        (Op.GENERATE_KEY, b'{"algorithm": 5}', "a string"),
    ],
)
def test_malformed_requests_are_request_errors(op: Op, body: bytes, fragment: str) -> None:
    with pytest.raises(HsmRequestError, match=fragment):
        decode_request(op, body)


def test_signing_bodies_are_binary_and_checked() -> None:
    request = SignDigests(key=KeyRef(KEY_ID, b"blob"), digests=(b"\x01" * 32, b"\x02" * 32))
    body = encode_request(request)
    assert body == bytes.fromhex(KEY_ID) + b"\x00\x04blob" + b"\x20\x00\x02" + b"\x01" * 32 + b"\x02" * 32
    assert decode_request(Op.SIGN_DIGESTS, body) == (request, None)
    for cut in (0, 10, 17, 22, len(body) - 1):
        with pytest.raises(HsmRequestError, match="truncated"):
            decode_request(Op.SIGN_DIGESTS, body[:cut])
    with pytest.raises(HsmRequestError, match="truncated"):
        decode_request(Op.SIGN_DIGESTS, body + b"\x05ab")  # an op_id shorter than announced
    with pytest.raises(HsmRequestError, match="trailing"):
        decode_request(Op.SIGN_DIGESTS, body + b"\x01ab")
    with pytest.raises(HsmRequestError, match="one length"):
        encode_request(SignDigests(key=KeyRef(KEY_ID), digests=(b"\x01" * 32, b"\x01" * 48)))
    with pytest.raises(HsmRequestError, match=r"1\.\.10000"):
        encode_request(SignDigests(key=KeyRef(KEY_ID), digests=(b"\x01",) * 10_001))
    with pytest.raises(HsmRequestError, match=r"1\.\.10000"):
        encode_request(SignDigests(key=KeyRef(KEY_ID), digests=()))
    with pytest.raises(HsmRequestError, match="hex digits"):
        encode_request(SignDigests(key=KeyRef("zz"), digests=(b"\x01",)))
    reply = Signatures((b"s" * 64, b"t" * 64))
    assert encode_reply(reply) == b"\x00\x40\x00\x02" + b"s" * 64 + b"t" * 64
    with pytest.raises(HsmProtocolError):
        decode_reply(Signatures, encode_reply(reply)[:-1])


def test_unknown_operation() -> None:
    with pytest.raises(UnknownOperationError):
        decode_request(0x55, b"{}")


def test_replies_round_trip_and_every_op_has_a_reply_type() -> None:
    assert set(REPLY_TYPES) == set(Op)
    info = KeyInfo(KEY_ID, "gost3410_2012_256", "TC26_256_A", b"\x01" * 64, blob=b"blob")
    assert decode_reply(KeyInfo, encode_reply(info)) == info
    assert info.ref() == KeyRef(KEY_ID, b"blob")
    signatures = Signatures((b"a" * 64, b"b" * 64))
    assert decode_reply(Signatures, encode_reply(signatures)) == signatures
    with pytest.raises(HsmProtocolError):
        decode_reply(HealthReport, b'{"status": "ok"}')


@pytest.mark.parametrize("error", [SlotCrashedError("x"), BlobInvalidError("y"), UnitLostError("z")])
def test_errors_cross_the_wire_as_their_class(error: HsmError) -> None:
    again = decode_error(encode_error(error))
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert again.retryable == error.retryable


def test_error_codes_are_unique_and_unknown_codes_degrade() -> None:
    assert type(error_for_code("hsm_slot_crashed", "m")) is SlotCrashedError
    assert type(error_for_code("from_a_newer_unit", "m")) is HsmError
    with pytest.raises(HsmProtocolError):
        decode_error(b'{"code": 1}')


def test_handshake_macs_are_mutual_and_bound_to_both_nonces() -> None:
    key = os.urandom(32)
    hello = auth.hello_body(unit_id="u", backend="soft", max_frame=1 << 20, nonce=auth.new_nonce())
    assert auth.parse_hello(hello)["unit_id"] == "u"
    client_nonce = auth.new_nonce()
    body = auth.auth_body(key, hello, client_nonce)
    assert auth.verify_auth(key, hello, body) == client_nonce
    with pytest.raises(HsmAuthError):
        auth.verify_auth(os.urandom(32), hello, body)  # another key
    other_hello = auth.hello_body(unit_id="u", backend="soft", max_frame=1 << 20, nonce=auth.new_nonce())
    with pytest.raises(HsmAuthError):
        auth.verify_auth(key, other_hello, body)  # replayed against a fresh HELLO
    welcome = auth.welcome_body(key, hello, client_nonce)
    auth.verify_welcome(key, hello, client_nonce, welcome)
    with pytest.raises(HsmAuthError):
        auth.verify_welcome(key, hello, auth.new_nonce(), welcome)  # not for our nonce
    # The unit's MAC is not the client's: a client cannot reflect it back.
    assert auth.client_mac(key, hello, client_nonce) != auth.unit_mac(key, hello, client_nonce)


@pytest.mark.parametrize(
    "item",
    [
        SignItem(KeyRef(KEY_ID, b"blob-1"), b"\x01" * 32, "op-1"),
        SignItem(KeyRef("ff" * 16), b"\x02" * 64),
        SignItem(KeyRef(KEY_ID, b"b" * 300), b"\x03", "ж" * 200),  # op id cut to its limit
    ],
)
def test_the_size_of_a_sign_item_is_what_encoding_it_takes(item: SignItem) -> None:
    one = len(encode_request(SignMany((item,))))
    assert sign_item_size(item) == len(encode_request(SignMany((item, item)))) - one == one - 2


@pytest.mark.parametrize(
    "item",
    [
        SignItem(KeyRef("zz" * 16), b"\x01" * 32),
        SignItem(KeyRef(KEY_ID), b""),
        SignItem(KeyRef(KEY_ID), b"x" * 256),
    ],
)
def test_an_item_that_cannot_be_encoded_is_refused_before_queueing(item: SignItem) -> None:
    with pytest.raises(HsmRequestError):
        sign_item_size(item)


def test_sign_many_bodies_cut_anywhere_or_padded_are_refused() -> None:
    shared = KeyRef(KEY_ID, b"blob" * 40)
    items = (
        SignItem(shared, b"\x01" * 32, "op-1"),
        SignItem(shared, b"\x02" * 32),  # the same key again: decoded as the same KeyRef
        SignItem(KeyRef("ff" * 16), b"\x03" * 64, "op-3"),
    )
    body = encode_request(SignMany(items))
    decoded, _ = decode_request(Op.SIGN_MANY, body)
    assert decoded == SignMany(items)
    for cut in range(len(body)):
        with pytest.raises(HsmRequestError):
            decode_request(Op.SIGN_MANY, body[:cut])
    with pytest.raises(HsmRequestError, match="trailing"):
        decode_request(Op.SIGN_MANY, body + b"\x00")


def test_sign_many_round_trip_with_per_item_errors() -> None:
    items = (
        SignItem(KeyRef(KEY_ID, b"blob-1"), b"\x01" * 32, "op-1"),
        SignItem(KeyRef("ff" * 16), b"\x02" * 64),
    )
    assert decode_request(Op.SIGN_MANY, encode_request(SignMany(items))) == (SignMany(items), None)
    reply = ManySignatures((b"s" * 64, BlobInvalidError("bad blob")))
    decoded = decode_reply(ManySignatures, encode_reply(reply))
    assert decoded.outcomes[0] == b"s" * 64
    assert isinstance(decoded.outcomes[1], BlobInvalidError)
    assert str(decoded.outcomes[1]) == "bad blob"
    body = encode_request(SignMany(items))
    for cut in (0, 1, 20, len(body) - 1):
        with pytest.raises(HsmRequestError):
            decode_request(Op.SIGN_MANY, body[:cut])
    with pytest.raises(HsmRequestError, match="trailing"):
        decode_request(Op.SIGN_MANY, body + b"x")
    with pytest.raises(HsmProtocolError):
        decode_reply(ManySignatures, b"\x00\x01\x07\x00\x00")  # unknown item status

"""The small pure pieces: previews, the confirmation policy, base64 fields, callback payloads."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.operations import ConfirmationRequiredError, InvalidOperationError, Policy, Requester
from actors.operations.policy import choose_policy
from actors.operations.preview import text_preview
from actors.operations.units import CALLBACK_SIGNATURES_BUDGET, callback_payload
from edge.operations.codec import decode
from storage.repos.operations import ItemResult, OperationRow


def test_previews_of_text_and_not_of_binary() -> None:
    assert text_preview("Счёт № 1\r\n\tИтого: 5 ₽".encode()) == "Счёт № 1\r\n\tИтого: 5 ₽"
    assert text_preview(b"\xef\xbb\xbfwith a BOM") == "with a BOM"
    assert text_preview(b"%PDF-1.7\n\x00\x01binary") == ""
    assert text_preview(b"\xff\xfeU\x00T\x00F\x00-16") == ""
    assert text_preview(b"\x1b[31mescape") == ""
    assert text_preview(b"") == ""
    long = ("я" * 5000).encode()  # longer than the decoded head, which ends inside a character
    assert text_preview(long) == "я" * 2000
    assert text_preview(long, limit=10) == "я" * 10


@given(st.binary(max_size=300))
def test_a_preview_is_never_longer_than_its_limit(data: bytes) -> None:
    assert len(text_preview(data, limit=50)) <= 50


def test_policy() -> None:
    person = Requester(uuid.uuid4(), None)
    system = Requester(uuid.uuid4(), "erp")
    assert choose_policy("clients", system, None) is Policy.NONE
    assert choose_policy("clients", system, Policy.DEVICE) is Policy.DEVICE
    assert choose_policy("clients", person, None) is Policy.DEVICE
    with pytest.raises(ConfirmationRequiredError):
        choose_policy("clients", person, Policy.NONE)
    with pytest.raises(ConfirmationRequiredError):
        choose_policy("nobody", system, Policy.NONE)
    assert choose_policy("nobody", system, None) is Policy.DEVICE
    assert choose_policy("everyone", person, None) is Policy.NONE


def test_base64_fields() -> None:
    assert decode(base64.b64encode(b"abc").decode(), "x", limit=3) == b"abc"
    with pytest.raises(InvalidOperationError) as caught:
        decode(base64.b64encode(b"abcd").decode(), "items.2.content", limit=3)
    assert caught.value.field == "items.2.content"
    with pytest.raises(InvalidOperationError, match="base64"):
        decode("YWJj\n", "x", limit=10)  # no line breaks, standard alphabet only
    with pytest.raises(InvalidOperationError, match="base64"):
        decode("YW-j", "x", limit=10)
    with pytest.raises(InvalidOperationError, match="at most"):
        decode("A" * 1000, "x", limit=10)  # refused before decoding


def _row(**changes: object) -> OperationRow:
    now = dt.datetime.now(dt.UTC)
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "user_id": uuid.uuid4(),
        "client_id": "erp",
        "type": "sign",
        "format": "raw",
        "detached": False,
        "certificate_id": uuid.uuid4(),
        "digest_algorithm": "streebog256",
        "state": "completed",
        "policy": "none",
        "callback_url": "https://erp.example/cb",
        "item_count": 2,
        "created_at": now,
        "expires_at": now,
        "updated_at": now,
        "decided_by_device": None,
        "decided_at": None,
        "finished_at": now,
        "retain_until": now,
        "error": None,
        "error_detail": None,
        "owner_node": None,
        "lease_until": None,
    }
    values.update(changes)
    return OperationRow(**values)  # type: ignore[arg-type]


def test_callback_payloads_carry_small_signatures_and_never_documents() -> None:
    results = [ItemResult(0, b"\x01" * 64), ItemResult(1, None, "hsm_unavailable", "down")]
    raw = callback_payload(_row(), results)
    assert raw["results_included"] is True
    assert raw["items"][0] == {
        "index": 0,
        "status": "signed",
        "signature": base64.b64encode(b"\x01" * 64).decode(),
    }
    assert raw["items"][1] == {
        "index": 1,
        "status": "failed",
        "error": {"code": "hsm_unavailable", "detail": "down"},
    }
    attached = callback_payload(_row(format="cades-bes"), results)  # the CMS holds the document
    assert attached["results_included"] is False
    assert "signature" not in attached["items"][0]
    big = [ItemResult(i, bytes(4096)) for i in range(CALLBACK_SIGNATURES_BUDGET // 4096)]
    assert callback_payload(_row(format="cades-bes", detached=True), big)["results_included"] is False
    declined = callback_payload(_row(state="declined", error="declined", error_detail="no"), [])
    assert declined["error"] == {"code": "declined", "detail": "no"}
    assert declined["href"] == f"/api/v1/operations/{declined['operation_id']}"

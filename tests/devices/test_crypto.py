"""Device key derivation and MAC layouts against vectors computed with openssl (gost engine)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from actors.sessions.codec import item_from_json
from actors.sessions.crypto import (
    DeviceKeys,
    auth_mac,
    decision_mac,
    decision_message,
    macs_equal,
    server_proof,
)
from actors.sessions.protocol import Decision, NoticeItem

VECTORS = json.loads((Path(__file__).parent / "vectors" / "device_protocol.json").read_text())


def _h(name: str) -> bytes:
    return bytes.fromhex(VECTORS[name])


@pytest.fixture(scope="module")
def keys() -> DeviceKeys:
    return DeviceKeys.derive(UUID(VECTORS["device_id"]), _h("secret"))


def _items() -> tuple[NoticeItem, ...]:
    return tuple(item_from_json(item) for item in VECTORS["items"])


def test_key_separation_matches_vectors(keys: DeviceKeys) -> None:
    assert keys.auth_key == _h("k_auth")
    assert keys.confirm_key == _h("k_confirm")
    assert keys.auth_key != keys.confirm_key
    other = DeviceKeys.derive(UUID(int=1), _h("secret"))
    assert other.auth_key != keys.auth_key, "keys depend on the device id"


def test_auth_mac_and_server_proof_match_vectors(keys: DeviceKeys) -> None:
    assert auth_mac(keys, _h("server_nonce"), _h("client_nonce")) == _h("auth_mac")
    assert server_proof(keys, _h("server_nonce"), _h("client_nonce")) == _h("server_proof")
    # The proof is not the device's MAC with the nonces swapped into the device's own layout.
    assert server_proof(keys, _h("server_nonce"), _h("client_nonce")) != auth_mac(
        keys, _h("client_nonce"), _h("server_nonce")
    )


def test_decision_layout_and_macs_match_vectors(keys: DeviceKeys) -> None:
    op_id = UUID(VECTORS["op_id"])
    nonce = _h("decision_nonce")
    assert decision_message(op_id, Decision.CONFIRM, nonce, _items()) == _h("confirm_message")
    assert decision_mac(keys, op_id, Decision.CONFIRM, nonce, _items()) == _h("confirm_mac")
    assert decision_mac(keys, op_id, Decision.DECLINE, nonce, _items()) == _h("decline_mac")


@pytest.mark.parametrize(
    "change",
    ["op", "nonce", "digest", "algorithm", "order", "drop"],
)
def test_every_covered_field_changes_the_mac(keys: DeviceKeys, change: str) -> None:
    op_id, nonce, items = UUID(VECTORS["op_id"]), _h("decision_nonce"), list(_items())
    if change == "op":
        op_id = UUID(int=op_id.int ^ 1)
    elif change == "nonce":
        nonce = bytes([nonce[0] ^ 1]) + nonce[1:]
    elif change == "digest":
        items[0] = NoticeItem(items[0].name, "ab" + items[0].digest_hex[2:], "streebog256", "")
    elif change == "algorithm":
        items[0] = NoticeItem(items[0].name, items[0].digest_hex, "streebog512", "")
    elif change == "order":
        items.reverse()
    else:
        items.pop()
    assert decision_mac(keys, op_id, Decision.CONFIRM, nonce, items) != _h("confirm_mac")


def test_name_and_preview_are_not_covered(keys: DeviceKeys) -> None:
    # What is signed is the digest; names and previews are display text only.
    items = [NoticeItem("other", i.digest_hex, i.digest_algorithm, "changed") for i in _items()]
    mac = decision_mac(keys, UUID(VECTORS["op_id"]), Decision.CONFIRM, _h("decision_nonce"), items)
    assert mac == _h("confirm_mac")


def test_lengths_are_checked(keys: DeviceKeys) -> None:
    with pytest.raises(ValueError, match="server_nonce"):
        auth_mac(keys, b"\x00" * 31, _h("client_nonce"))
    with pytest.raises(ValueError, match="nonce"):
        decision_message(UUID(int=0), Decision.CONFIRM, b"", _items())
    with pytest.raises(ValueError, match="32 bytes"):
        DeviceKeys.derive(UUID(int=0), b"short")
    assert not macs_equal(b"\x00" * 32, b"\x00" * 31)


def test_keys_are_hidden_from_repr(keys: DeviceKeys) -> None:
    assert keys.auth_key.hex() not in repr(keys)
    assert keys.confirm_key.hex() not in repr(keys)


def _openssl_hmac(key: bytes, data: bytes, tmp_path: Path) -> bytes:
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    openssl = shutil.which("openssl")
    assert openssl is not None
    command = ["dgst", "-engine", "gost", "-md_gost12_256", "-mac", "hmac", "-macopt", f"hexkey:{key.hex()}"]
    out = subprocess.run(
        [openssl, *command, str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return bytes.fromhex(out.strip().rsplit("= ", 1)[1])


def test_fresh_random_values_agree_with_openssl(tmp_path: Path) -> None:
    import os
    import uuid

    device_id, secret = uuid.uuid4(), os.urandom(32)
    keys = DeviceKeys.derive(device_id, secret)
    label_data = b"\x01klyuch device confirm v1\x00" + device_id.bytes + b"\x01\x00"
    assert keys.confirm_key == _openssl_hmac(secret, label_data, tmp_path)
    items: Any = [NoticeItem("n", os.urandom(32).hex(), "streebog256", "")]
    nonce = os.urandom(32)
    message = decision_message(device_id, Decision.DECLINE, nonce, items)
    assert decision_mac(keys, device_id, Decision.DECLINE, nonce, items) == _openssl_hmac(
        keys.confirm_key, message, tmp_path
    )

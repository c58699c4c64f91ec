"""The enrolment payload and its QR images (PNG read back by zbarimg, SVG module by module)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from edge.devices.qr import EnrolmentPayload, qr_png, qr_svg
from tests.devices.qrcheck import ZBARIMG, decode_png, expected_modules, svg_modules


def _payload() -> EnrolmentPayload:
    return EnrolmentPayload("https://sign.example.ru:8443", uuid.uuid4(), os.urandom(32))


def test_payload_round_trip_and_is_compact() -> None:
    payload = _payload()
    text = payload.encode()
    assert text.startswith("klyuch://enroll?u=https%3A%2F%2Fsign.example.ru%3A8443&d=")
    assert len(text) < 160
    assert EnrolmentPayload.parse(text) == payload
    assert payload.secret.hex() not in repr(payload)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("https://enroll?u=http://x&d=00&k=00", "klyuch://enroll"),
        ("klyuch://enroll?u=http://x&d=" + "0" * 32, "exactly one"),
        ("klyuch://enroll?u=ftp://x&d=" + "0" * 32 + "&k=" + "A" * 43, "http"),
        ("klyuch://enroll?u=http://x&d=" + "0" * 32 + "&k=AAAA", "32 bytes"),
        ("klyuch://enroll?u=http://x&d=" + "0" * 32 + "&k=" + "A" * 43 + "&k=B", "exactly one"),
    ],
)
def test_bad_payloads_are_named(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        EnrolmentPayload.parse(text)


def test_png_is_a_png_that_decodes_to_the_payload(tmp_path: Path) -> None:
    text = _payload().encode()
    png = qr_png(text)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    if ZBARIMG is None:
        pytest.skip("zbarimg (zbar-tools) is not installed: PNG checked by signature only")
    assert decode_png(png, tmp_path) == text


def test_svg_draws_exactly_the_payloads_modules() -> None:
    text = _payload().encode()
    svg = qr_svg(text)
    assert svg.lstrip().startswith(b"<?xml")
    assert b"<svg" in svg
    assert svg_modules(svg) == expected_modules(text)
    assert svg_modules(svg) != expected_modules(_payload().encode())

"""Hypothesis: round trips over random documents, and random damage never escapes as anything but
``MalformedDataError`` or a non-passing report."""

from __future__ import annotations

import functools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signing.cms import Indication, ValidationReport, cosign_cades, sign_cades, verify_cades, verify_raw
from signing.cms.container import load_signed_data
from signing.cms.raw import sign_raw
from signing.errors import MalformedDataError
from signing.gost.params import ParamSet
from tests.signing.cms.conftest import pki

GOST, ECDSA = pki(ParamSet.TC26_256_A), pki("P-256")
ANCHORS = (GOST.root, ECDSA.root)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(content=st.binary(max_size=3000), detached=st.booleans(), ecdsa=st.booleans())
def test_round_trip(content: bytes, detached: bool, ecdsa: bool) -> None:
    p = ECDSA if ecdsa else GOST
    signature = sign_cades(content, signer=p.key, certificate=p.certificate, detached=detached)
    report = verify_cades(signature, content=content if detached else None, trust_anchors=ANCHORS)
    assert report.passed, report.model_dump_json(indent=1)
    parsed = load_signed_data(signature)
    assert parsed.content == (None if detached else content)


@FAST
@given(content=st.binary(max_size=512), other=st.binary(max_size=512))
def test_other_document_fails(content: bytes, other: bytes) -> None:
    signature = sign_cades(content, signer=GOST.key, certificate=GOST.certificate, detached=True)
    report = verify_cades(signature, content=other, trust_anchors=ANCHORS)
    assert report.passed is (other == content)
    raw = sign_raw(GOST.key, content=content)
    assert verify_raw(GOST.certificate, raw, content=other, trust_anchors=ANCHORS).passed is (
        other == content
    )


@FAST
@given(content=st.binary(max_size=1024), detached=st.booleans())
def test_cosignature_round_trip(content: bytes, detached: bool) -> None:
    first = sign_cades(content, signer=GOST.key, certificate=GOST.certificate, detached=detached)
    extra = content if detached else None
    both = cosign_cades(first, signer=ECDSA.key, certificate=ECDSA.certificate, content=extra)
    assert load_signed_data(both).signer_infos[0] == load_signed_data(first).signer_infos[0]
    report = verify_cades(both, content=extra, trust_anchors=ANCHORS)
    assert report.passed
    assert len(report.signers) == 2


@functools.cache
def _victim() -> bytes:
    return sign_cades(b"victim document", signer=GOST.key, certificate=GOST.certificate)


def _verify_or_malformed(data: bytes) -> ValidationReport | None:
    try:
        return verify_cades(data, trust_anchors=ANCHORS)
    except MalformedDataError:
        return None


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_damage_is_typed(data: st.DataObject) -> None:
    original = _victim()
    position = data.draw(st.integers(0, len(original) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda b: b != original[position]))
    damaged = original[:position] + bytes([value]) + original[position + 1 :]
    report = _verify_or_malformed(damaged)
    # One changed byte anywhere: the structure breaks, or something fails to verify, or it is a
    # byte no check covers (an unsigned certificate field such as a BER-tolerated length form).
    if report is not None:
        assert isinstance(report.indication, Indication)


@settings(max_examples=100, deadline=None)
@given(garbage=st.binary(max_size=400))
def test_garbage_is_typed(garbage: bytes) -> None:
    report = _verify_or_malformed(garbage)
    assert report is None or not report.passed

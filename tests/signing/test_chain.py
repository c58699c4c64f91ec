"""Certificate path building and validation: valid chains across algorithms, and one test per
failure code with a chain built to fail exactly that check."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Sequence

import pytest
from asn1crypto import x509 as asn1_x509

from signing.chain import (
    MAX_PATH_LENGTH,
    ChainFailure,
    ChainValidationResult,
    pyhanko_signature_validator,
    verify_chain,
)
from signing.errors import InvalidInputError
from signing.gost.params import ParamSet
from signing.keys import PrivateKey
from signing.x509 import (
    CA_PROFILE,
    Certificate,
    CertificateAuthority,
    authority_key_identifier,
    basic_constraints,
    key_identifier,
    key_usage,
    prepare_certificate,
    self_signed_ca,
    subject_key_identifier,
)
from tests.signing.conftest import NOW, any_key

YEAR = dt.timedelta(days=365)
CA_USAGE = {"key_cert_sign", "crl_sign"}


def _issue(
    issuer: Certificate | None,
    issuer_key: PrivateKey,
    subject_key: PrivateKey,
    name: str,
    *,
    ca: bool = False,
    path_length: int | None = None,
    usages: set[str] | None = None,
    extra: Sequence[asn1_x509.Extension] = (),
    with_aki: bool = True,
    not_before: dt.datetime = NOW - YEAR,
    not_after: dt.datetime = NOW + YEAR,
) -> Certificate:
    """Issue anything, including certificates the CA class would refuse to make."""
    extensions = [
        basic_constraints(ca=ca, path_length=path_length),
        key_usage(usages or (CA_USAGE if ca else {"digital_signature"})),
        subject_key_identifier(key_identifier(subject_key.public_key().spki())),
        *extra,
    ]
    if with_aki:
        extensions.append(authority_key_identifier(key_identifier(issuer_key.public_key().spki())))
    prepared = prepare_certificate(
        subject={"common_name": name},
        subject_public_key=subject_key.public_key(),
        issuer=issuer.subject if issuer else {"common_name": name},
        issuer_public_key=issuer_key.public_key(),
        signature_algorithm=issuer_key.signature_algorithm,
        not_before=not_before,
        not_after=not_after,
        extensions=extensions,
    )
    return prepared.finish(issuer_key.sign_digest(prepared.digest))


@functools.cache
def _three_level(
    root_kind: ParamSet | str, sub_kind: ParamSet | str, leaf_kind: ParamSet | str
) -> tuple[Certificate, Certificate, Certificate]:
    root_key, sub_key, leaf_key = any_key(root_kind), any_key(sub_kind), any_key(leaf_kind)
    root = self_signed_ca(
        root_key, subject={"common_name": "Root"}, not_before=NOW - YEAR, not_after=NOW + 3 * YEAR
    )
    sub = CertificateAuthority(root, root_key).issue(
        subject={"common_name": "Sub"},
        public_key=sub_key.public_key(),
        not_before=NOW - YEAR,
        not_after=NOW + 2 * YEAR,
        profile=CA_PROFILE,
    )
    leaf = CertificateAuthority(sub, sub_key).issue(
        subject={"common_name": "Leaf"},
        public_key=leaf_key.public_key(),
        not_before=NOW - YEAR,
        not_after=NOW + YEAR,
    )
    return root, sub, leaf


def _codes(result: ChainValidationResult) -> list[ChainFailure]:
    return [problem.code for problem in result.problems]


@pytest.mark.parametrize(
    "kinds",
    [
        (ParamSet.TC26_512_A, ParamSet.TC26_256_A, ParamSet.CRYPTOPRO_A),
        (ParamSet.TC26_512_C, ParamSet.CRYPTOPRO_XCHB, ParamSet.TC26_256_D),
        ("P-384", "P-256", "RSA"),
        (ParamSet.TC26_256_B, "P-256", ParamSet.TC26_512_B),
    ],
    ids=["gost", "gost-2", "international", "mixed"],
)
def test_valid_three_level_chain(kinds: tuple[ParamSet | str, ParamSet | str, ParamSet | str]) -> None:
    root, sub, leaf = _three_level(*kinds)
    result = verify_chain(leaf, trust_anchors=[root], intermediates=[sub], at=NOW)
    assert result.valid, result.problems
    assert result.path == (leaf, sub, root)
    assert result.trust_anchor == root


def test_intermediates_may_come_in_any_order_with_noise() -> None:
    root, sub, leaf = _three_level(ParamSet.TC26_512_A, ParamSet.TC26_256_A, ParamSet.CRYPTOPRO_A)
    other_root, other_sub, _ = _three_level("P-384", "P-256", "RSA")
    result = verify_chain(
        leaf, trust_anchors=[other_root, root], intermediates=[other_sub, leaf, sub], at=NOW
    )
    assert result.valid
    assert result.path == (leaf, sub, root)


def test_missing_intermediate_or_anchor_gives_no_chain() -> None:
    root, sub, leaf = _three_level(ParamSet.TC26_512_A, ParamSet.TC26_256_A, ParamSet.CRYPTOPRO_A)
    other_root, _, _ = _three_level("P-384", "P-256", "RSA")
    for result in (
        verify_chain(leaf, trust_anchors=[root], at=NOW),
        verify_chain(leaf, trust_anchors=[other_root], intermediates=[sub], at=NOW),
    ):
        assert not result.valid
        assert result.path == ()
        assert _codes(result) == [ChainFailure.NO_CHAIN]
        assert result.problems[0].code.sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"
        assert result.trust_anchor is None


def test_a_trusted_certificate_is_its_own_path() -> None:
    root, _, _ = _three_level(ParamSet.TC26_512_A, ParamSet.TC26_256_A, ParamSet.CRYPTOPRO_A)
    result = verify_chain(root, trust_anchors=[root], at=NOW)
    assert result.valid
    assert result.path == (root,)


@pytest.mark.parametrize(
    ("at", "code"),
    [
        (NOW + YEAR + dt.timedelta(seconds=1), ChainFailure.EXPIRED),
        (NOW - YEAR - dt.timedelta(seconds=1), ChainFailure.NOT_YET_VALID),
    ],
)
def test_validity_is_checked_at_the_given_time(at: dt.datetime, code: ChainFailure) -> None:
    root, sub, leaf = _three_level(ParamSet.TC26_512_A, ParamSet.TC26_256_A, ParamSet.CRYPTOPRO_A)
    result = verify_chain(leaf, trust_anchors=[root], intermediates=[sub], at=at)
    assert not result.valid
    assert result.problems[0].code is code
    assert result.problems[0].certificate == leaf
    # Exactly at the bounds the chain is still valid.
    assert verify_chain(leaf, trust_anchors=[root], intermediates=[sub], at=NOW + YEAR).valid
    assert verify_chain(leaf, trust_anchors=[root], intermediates=[sub], at=NOW - YEAR).valid


def test_expired_anchor_is_reported() -> None:
    key = any_key(ParamSet.CRYPTOPRO_C)
    old = self_signed_ca(key, subject={"common_name": "Old"}, not_before=NOW - 3 * YEAR, not_after=NOW - YEAR)
    leaf = _issue(old, key, any_key("P-256"), "leaf", not_before=NOW - 2 * YEAR, not_after=NOW + YEAR)
    result = verify_chain(leaf, trust_anchors=[old], at=NOW)
    assert _codes(result) == [ChainFailure.EXPIRED]
    assert result.problems[0].certificate == old
    assert result.problems[0].code.sub_indication == "OUT_OF_BOUNDS_NO_POE"


@pytest.mark.parametrize("kind", [ParamSet.TC26_256_C, "P-256"], ids=["gost", "ecdsa"])
def test_tampered_signature_is_reported(kind: ParamSet | str) -> None:
    root_key = any_key(kind)
    root = self_signed_ca(
        root_key, subject={"common_name": "Root"}, not_before=NOW - YEAR, not_after=NOW + YEAR
    )
    leaf = _issue(root, root_key, any_key("RSA"), "leaf")
    damaged = bytearray(leaf.der)
    damaged[-3] ^= 0x10
    result = verify_chain(Certificate.load(bytes(damaged)), trust_anchors=[root], at=NOW)
    assert _codes(result) == [ChainFailure.SIGNATURE_INVALID]


def test_signature_by_another_key_with_the_same_issuer_name() -> None:
    root_key, impostor = any_key(ParamSet.CRYPTOPRO_A), any_key(ParamSet.CRYPTOPRO_A, 1)
    root = self_signed_ca(
        root_key, subject={"common_name": "Root"}, not_before=NOW - YEAR, not_after=NOW + YEAR
    )
    forged = _issue(root, impostor, any_key("P-256"), "leaf", with_aki=False)
    assert _codes(verify_chain(forged, trust_anchors=[root], at=NOW)) == [ChainFailure.SIGNATURE_INVALID]


def test_key_rollover_picks_the_right_anchor() -> None:
    old_key, new_key = any_key(ParamSet.TC26_256_A, 2), any_key(ParamSet.TC26_256_A, 3)
    old_root = self_signed_ca(
        old_key, subject={"common_name": "Root"}, not_before=NOW - YEAR, not_after=NOW + YEAR
    )
    new_root = self_signed_ca(
        new_key, subject={"common_name": "Root"}, not_before=NOW - YEAR, not_after=NOW + YEAR
    )
    for with_aki in (True, False):
        leaf = _issue(new_root, new_key, any_key("P-256"), "leaf", with_aki=with_aki)
        result = verify_chain(leaf, trust_anchors=[old_root, new_root], at=NOW)
        assert result.valid
        assert result.trust_anchor == new_root


def test_issuer_that_is_not_a_ca() -> None:
    root_key, middle_key = any_key("P-256"), any_key("P-384")
    root = self_signed_ca(
        root_key, subject={"common_name": "Root"}, not_before=NOW - YEAR, not_after=NOW + YEAR
    )
    middle = _issue(
        root, root_key, middle_key, "not a CA", ca=False, usages={"digital_signature", "key_cert_sign"}
    )
    leaf = _issue(middle, middle_key, any_key("RSA"), "leaf")
    result = verify_chain(leaf, trust_anchors=[root], intermediates=[middle], at=NOW)
    assert _codes(result) == [ChainFailure.NOT_A_CA]
    assert result.problems[0].certificate == middle
    assert result.problems[0].code.sub_indication == "CHAIN_CONSTRAINTS_FAILURE"


def test_issuer_without_key_cert_sign() -> None:
    root_key, middle_key = any_key(ParamSet.TC26_512_B), any_key(ParamSet.CRYPTOPRO_B)
    root = self_signed_ca(
        root_key, subject={"common_name": "Root"}, not_before=NOW - YEAR, not_after=NOW + YEAR
    )
    middle = _issue(root, root_key, middle_key, "CRL signer", ca=True, usages={"crl_sign"})
    leaf = _issue(middle, middle_key, any_key("P-256"), "leaf")
    result = verify_chain(leaf, trust_anchors=[root], intermediates=[middle], at=NOW)
    assert _codes(result) == [ChainFailure.KEY_CERT_SIGN_MISSING]


def test_path_length_constraints() -> None:
    root_key, a_key, b_key = any_key("P-256"), any_key("P-256", 1), any_key("P-256", 2)
    root = self_signed_ca(
        root_key, subject={"common_name": "Root"}, not_before=NOW - YEAR, not_after=NOW + YEAR, path_length=1
    )
    a = _issue(root, root_key, a_key, "A", ca=True, path_length=0)
    b = _issue(a, a_key, b_key, "B", ca=True)
    leaf = _issue(b, b_key, any_key("RSA"), "leaf")
    result = verify_chain(leaf, trust_anchors=[root], intermediates=[a, b], at=NOW)
    assert sorted(p.certificate.subject.native["common_name"] for p in result.problems) == ["A", "Root"]
    assert set(_codes(result)) == {ChainFailure.PATH_LENGTH_EXCEEDED}
    # One level less is within both limits.
    leaf_of_a = _issue(a, a_key, any_key("RSA"), "leaf of A")
    assert verify_chain(leaf_of_a, trust_anchors=[root], intermediates=[a], at=NOW).valid


def test_unknown_critical_extension() -> None:
    root_key = any_key(ParamSet.TC26_256_D)
    root = self_signed_ca(
        root_key, subject={"common_name": "Root"}, not_before=NOW - YEAR, not_after=NOW + YEAR
    )
    strange = asn1_x509.Extension({"extn_id": "1.2.3.4.5", "critical": True, "extn_value": b"\x05\x00"})
    leaf = _issue(root, root_key, any_key("P-256"), "leaf", extra=[strange])
    result = verify_chain(leaf, trust_anchors=[root], at=NOW)
    assert _codes(result) == [ChainFailure.UNKNOWN_CRITICAL_EXTENSION]
    assert "1.2.3.4.5" in result.problems[0].detail


def test_required_usages_of_the_end_entity() -> None:
    root, sub, leaf = _three_level(ParamSet.TC26_512_A, ParamSet.TC26_256_A, ParamSet.CRYPTOPRO_A)
    ok = verify_chain(
        leaf,
        trust_anchors=[root],
        intermediates=[sub],
        at=NOW,
        required_key_usages=["non_repudiation"],
        required_extended_key_usages=["email_protection"],
    )
    assert ok.valid
    bad = verify_chain(
        leaf,
        trust_anchors=[root],
        intermediates=[sub],
        at=NOW,
        required_key_usages=["key_agreement"],
        required_extended_key_usages=["time_stamping"],
    )
    assert _codes(bad) == [ChainFailure.USAGE_NOT_ALLOWED, ChainFailure.USAGE_NOT_ALLOWED]


def test_cross_signed_loops_terminate() -> None:
    a_key, b_key = any_key("P-256", 3), any_key("P-256", 4)
    a_self = self_signed_ca(a_key, subject={"common_name": "A"}, not_before=NOW - YEAR, not_after=NOW + YEAR)
    b_self = self_signed_ca(b_key, subject={"common_name": "B"}, not_before=NOW - YEAR, not_after=NOW + YEAR)
    a_by_b = _issue(b_self, b_key, a_key, "A", ca=True)
    b_by_a = _issue(a_self, a_key, b_key, "B", ca=True)
    leaf = _issue(a_self, a_key, any_key("RSA"), "leaf")
    unrelated = self_signed_ca(
        any_key("P-384"), subject={"common_name": "Z"}, not_before=NOW - YEAR, not_after=NOW + YEAR
    )
    result = verify_chain(
        leaf, trust_anchors=[unrelated], intermediates=[a_by_b, b_by_a, a_self, b_self], at=NOW
    )
    assert _codes(result) == [ChainFailure.NO_CHAIN]
    # With B trusted, the path goes through the cross certificate.
    result = verify_chain(leaf, trust_anchors=[b_self], intermediates=[a_by_b, b_by_a], at=NOW)
    assert result.valid
    assert result.path == (leaf, a_by_b, b_self)


def test_overlong_paths_are_not_followed() -> None:
    keys = [any_key("P-256", 10 + i) for i in range(MAX_PATH_LENGTH + 1)]
    root = self_signed_ca(keys[0], subject={"common_name": "C0"}, not_before=NOW - YEAR, not_after=NOW + YEAR)
    chain = [root]
    for i in range(1, MAX_PATH_LENGTH + 1):
        chain.append(_issue(chain[-1], keys[i - 1], keys[i], f"C{i}", ca=True))
    result = verify_chain(chain[-1], trust_anchors=[root], intermediates=chain[1:-1], at=NOW)
    assert _codes(result) == [ChainFailure.NO_CHAIN]
    shorter = verify_chain(chain[-2], trust_anchors=[root], intermediates=chain[1:-2], at=NOW)
    assert shorter.valid
    assert len(shorter.path) == MAX_PATH_LENGTH


def test_invalid_arguments() -> None:
    root, sub, leaf = _three_level(ParamSet.TC26_512_A, ParamSet.TC26_256_A, ParamSet.CRYPTOPRO_A)
    with pytest.raises(InvalidInputError, match="aware"):
        verify_chain(leaf, trust_anchors=[root], at=dt.datetime(2026, 1, 1))
    with pytest.raises(InvalidInputError, match="anchor"):
        verify_chain(leaf, trust_anchors=[], intermediates=[sub], at=NOW)


def test_issuer_names_compare_as_rfc_5280_says() -> None:
    root_key = any_key("P-256")
    root = self_signed_ca(
        root_key, subject={"common_name": "Klyuch  Root"}, not_before=NOW - YEAR, not_after=NOW + YEAR
    )
    prepared = prepare_certificate(
        subject={"common_name": "leaf"},
        subject_public_key=any_key("P-384").public_key(),
        issuer={"common_name": "KLYUCH ROOT"},  # other case, other spacing: the same name
        issuer_public_key=root_key.public_key(),
        signature_algorithm=root_key.signature_algorithm,
        not_before=NOW - YEAR,
        not_after=NOW + YEAR,
        extensions=[basic_constraints(ca=False), key_usage({"digital_signature"})],
    )
    leaf = prepared.finish(root_key.sign_digest(prepared.digest))
    result = verify_chain(leaf, trust_anchors=[root], at=NOW)
    assert result.valid
    assert result.path == (leaf, root)


def _pyhanko_validate(leaf: Certificate, root: Certificate, intermediates: Sequence[Certificate]) -> object:
    from pyhanko_certvalidator import CertificateValidator, ValidationContext

    context = ValidationContext(
        trust_roots=[root.asn1],
        signature_validator=pyhanko_signature_validator(),
        moment=NOW,
        allow_fetching=False,
    )
    validator = CertificateValidator(
        leaf.asn1, intermediate_certs=[c.asn1 for c in intermediates], validation_context=context
    )
    return asyncio.run(validator.async_validate_usage({"digital_signature"}))  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    "kinds",
    [(ParamSet.TC26_512_A, ParamSet.TC26_256_A, ParamSet.CRYPTOPRO_A), ("P-384", "P-256", "RSA")],
    ids=["gost", "international"],
)
def test_pyhanko_certvalidator_validates_with_our_signature_validator(
    kinds: tuple[ParamSet | str, ParamSet | str, ParamSet | str],
) -> None:
    from pyhanko_certvalidator.errors import PathValidationError

    root, sub, leaf = _three_level(*kinds)
    path = _pyhanko_validate(leaf, root, [sub])
    assert [c.dump() for c in path] == [root.der, sub.der, leaf.der]  # type: ignore[attr-defined]
    damaged = bytearray(leaf.der)
    damaged[-1] ^= 0x01
    with pytest.raises(PathValidationError):
        _pyhanko_validate(Certificate.load(bytes(damaged)), root, [sub])

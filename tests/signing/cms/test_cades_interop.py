"""CAdES-BES against OpenSSL both ways: ``openssl cms -verify -cades`` (gost engine for GOST, plain for
ECDSA/RSA) accepts what we make, attached, detached and co-signed; our verifier accepts what
``openssl cms -sign`` makes."""

from __future__ import annotations

import pytest

from signing.cms import (
    CheckName,
    CheckStatus,
    Indication,
    SignatureLevel,
    cosign_cades,
    sign_cades,
    verify_cades,
)
from signing.gost.params import ParamSet
from tests.signing.cms.conftest import FAST_IDS, FAST_KINDS, Kind, Oracle, is_gost, kind_id, pki

DOCUMENT = "Договор № 17 от 1 июня 2026 г.\n".encode() * 40
ALL_GOST = ParamSet.production()


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
def test_openssl_verifies_ours(oracle: Oracle, kind: Kind, detached: bool) -> None:
    p = pki(kind)
    signature = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate, detached=detached)
    oracle.assert_cms_verifies(
        signature, [p.root], gost=is_gost(kind), content=DOCUMENT if detached else None
    )


@pytest.mark.parametrize("paramset", ALL_GOST, ids=[kind_id(p) for p in ALL_GOST])
def test_openssl_verifies_ours_every_gost_paramset(oracle: Oracle, paramset: ParamSet) -> None:
    p = pki(paramset)
    attached = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate)
    oracle.assert_cms_verifies(attached, [p.root], gost=True)
    detached = sign_cades(
        content_digest=p.key.signature_algorithm.digest.hash(DOCUMENT),
        signer=p.key,
        certificate=p.certificate,
        detached=True,
    )
    oracle.assert_cms_verifies(detached, [p.root], gost=True, content=DOCUMENT)


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
def test_openssl_rejects_our_signature_of_another_document(oracle: Oracle, kind: Kind) -> None:
    p = pki(kind)
    signature = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate, detached=True)
    done = oracle.cms_verify(signature, [p.root], gost=is_gost(kind), content=DOCUMENT + b"!")
    assert done.returncode != 0


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
@pytest.mark.parametrize("cades", [False, True], ids=["cms", "cades"])
def test_we_verify_openssl(oracle: Oracle, kind: Kind, detached: bool, cades: bool) -> None:
    p = pki(kind)
    signature = oracle.cms_sign(
        p.certificate, p.key, DOCUMENT, gost=is_gost(kind), detached=detached, cades=cades
    )
    report = verify_cades(signature, content=DOCUMENT if detached else None, trust_anchors=[p.root])
    assert report.indication is Indication.TOTAL_PASSED, report.model_dump_json(indent=1)
    assert report.detached is detached
    (signer,) = report.signers
    assert signer.level is (SignatureLevel.CADES_BES if cades else SignatureLevel.CMS)
    assert signer.digest_algorithm == p.key.signature_algorithm.digest.name
    reference = signer.check(CheckName.SIGNING_CERTIFICATE_REFERENCE)
    assert reference is not None
    assert reference.status is (CheckStatus.PASSED if cades else CheckStatus.NOT_APPLICABLE)
    # And a changed document fails with our verifier too.
    if detached:
        bad = verify_cades(signature, content=DOCUMENT + b"!", trust_anchors=[p.root])
        assert bad.indication is Indication.TOTAL_FAILED


@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
def test_cosignature_gost_and_ecdsa_verified_by_openssl_and_us(oracle: Oracle, detached: bool) -> None:
    gost, ecdsa = pki(ParamSet.TC26_256_A), pki("P-256")
    first = sign_cades(DOCUMENT, signer=gost.key, certificate=gost.certificate, detached=detached)
    content = DOCUMENT if detached else None
    both = cosign_cades(first, signer=ecdsa.key, certificate=ecdsa.certificate, content=content)
    oracle.assert_cms_verifies(both, [gost.root, ecdsa.root], gost=True, content=content)
    report = verify_cades(both, content=content, trust_anchors=[gost.root, ecdsa.root])
    assert report.indication is Indication.TOTAL_PASSED, report.model_dump_json(indent=1)
    assert [s.signature_algorithm for s in report.signers] == [
        "streebog256_gost3410_2012_256",
        "sha256_ecdsa",
    ]


@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
def test_cosigning_an_openssl_signature(oracle: Oracle, detached: bool) -> None:
    """OpenSSL signs first (GOST 512), we add a GOST 256 signer; both tools verify both signers."""
    first_pki, second_pki = pki(ParamSet.TC26_512_C), pki(ParamSet.CRYPTOPRO_A)
    first = oracle.cms_sign(
        first_pki.certificate, first_pki.key, DOCUMENT, gost=True, detached=detached, cades=True
    )
    content = DOCUMENT if detached else None
    both = cosign_cades(first, signer=second_pki.key, certificate=second_pki.certificate, content=content)
    anchors = [first_pki.root, second_pki.root]
    oracle.assert_cms_verifies(both, anchors, gost=True, content=content)
    report = verify_cades(both, content=content, trust_anchors=anchors)
    assert report.indication is Indication.TOTAL_PASSED, report.model_dump_json(indent=1)
    assert len(report.signers) == 2


def test_three_signers_rsa_p256_gost512(oracle: Oracle) -> None:
    rsa, ecdsa, gost = pki("RSA"), pki("P-256"), pki(ParamSet.TC26_512_C)
    signature = sign_cades(DOCUMENT, signer=rsa.key, certificate=rsa.certificate)
    signature = cosign_cades(signature, signer=ecdsa.key, certificate=ecdsa.certificate)
    signature = cosign_cades(signature, signer=gost.key, certificate=gost.certificate)
    anchors = [rsa.root, ecdsa.root, gost.root]
    oracle.assert_cms_verifies(signature, anchors, gost=True)
    report = verify_cades(signature, trust_anchors=anchors)
    assert report.passed
    assert [s.index for s in report.signers] == [0, 1, 2]


def test_cosigning_a_streamed_ber_signature(oracle: Oracle) -> None:
    """``-stream`` writes indefinite-length BER: its parts are kept as they are inside our DER frame."""
    first_pki, second_pki = pki(ParamSet.TC26_256_A), pki("P-256")
    first = oracle.cms_sign(
        first_pki.certificate,
        first_pki.key,
        DOCUMENT,
        gost=True,
        detached=False,
        cades=True,
        extra=["-stream"],
    )
    assert first[1] == 0x80  # indefinite length
    assert verify_cades(first, trust_anchors=[first_pki.root]).passed
    both = cosign_cades(first, signer=second_pki.key, certificate=second_pki.certificate)
    anchors = [first_pki.root, second_pki.root]
    oracle.assert_cms_verifies(both, anchors, gost=True)
    assert verify_cades(both, trust_anchors=anchors).passed

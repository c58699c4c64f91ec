"""The structure of what we make, checked with independent parsers (asn1crypto's ``cms``/``tsp``
classes, pyHanko's CMS integrity check) and against the prepare → raw sign → finish contract."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.validation.generic_cms import validate_sig_integrity

from signing.asn1 import OID
from signing.cms import PreparedSignature, finish, prepare_cades, prepare_cosignature, sign_cades
from signing.errors import InvalidInputError, InvalidSignatureError, UnsupportedAlgorithmError
from signing.gost.params import ParamSet
from tests.signing.cms.conftest import FAST_IDS, FAST_KINDS, NOW, Kind, RecordingSigner, is_gost, pki

DOCUMENT = b"%PDF-1.7 pretend this is a contract\n" * 10
SIGNING_TIME = NOW - dt.timedelta(hours=1)


def _load(signature: bytes) -> cms.SignedData:
    info = cms.ContentInfo.load(signature, strict=True)
    assert info["content_type"].native == "signed_data"
    return info["content"]


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
def test_output_is_der_and_cades_bes(kind: Kind, detached: bool) -> None:
    p = pki(kind)
    algorithm = p.key.signature_algorithm
    signature = sign_cades(
        DOCUMENT, signer=p.key, certificate=p.certificate, detached=detached, signing_time=SIGNING_TIME
    )
    # A full re-encode by asn1crypto yields the same bytes: the output is DER.
    assert cms.ContentInfo.load(signature).dump(force=True) == signature
    signed_data = _load(signature)
    assert signed_data["version"].native == "v1"
    assert signed_data["encap_content_info"]["content_type"].native == "data"
    assert signed_data["encap_content_info"]["content"].native == (None if detached else DOCUMENT)
    assert [c.chosen.dump() for c in signed_data["certificates"]] == [p.certificate.der]
    (info,) = signed_data["signer_infos"]
    assert info["version"].native == "v1"
    assert info["sid"].name == "issuer_and_serial_number"
    assert info["sid"].chosen["serial_number"].native == p.certificate.serial_number
    assert info["sid"].chosen["issuer"] == p.certificate.issuer
    assert info["digest_algorithm"]["algorithm"].dotted == algorithm.digest.oid
    assert signed_data["digest_algorithms"][0].dump() == info["digest_algorithm"].dump()
    if is_gost(kind):
        # What OpenSSL's gost engine writes: NULL parameters, the key OID as signatureAlgorithm.
        assert info["digest_algorithm"]["parameters"].dump() == core.Null().dump()
        assert info["signature_algorithm"]["algorithm"].dotted == algorithm.key_algorithm.oid
        assert info["signature_algorithm"]["parameters"].dump() == core.Null().dump()
        assert len(info["signature"].native) == 2 * ParamSet(kind).size
    else:
        assert info["signature_algorithm"]["algorithm"].dotted == algorithm.oid
    attributes = {a["type"].native: a["values"] for a in info["signed_attrs"]}
    assert set(attributes) == {"content_type", "signing_time", "message_digest", "signing_certificate_v2"}
    assert all(len(values) == 1 for values in attributes.values())
    assert attributes["content_type"][0].native == "data"
    assert attributes["message_digest"][0].native == algorithm.digest.hash(DOCUMENT)
    assert attributes["signing_time"][0].name == "utc_time"
    assert attributes["signing_time"][0].native == SIGNING_TIME
    (cert_id,) = attributes["signing_certificate_v2"][0]["certs"]
    assert cert_id["hash_algorithm"]["algorithm"].native == algorithm.digest.name
    assert cert_id["cert_hash"].native == algorithm.digest.hash(p.certificate.der)
    issuer_serial = cert_id["issuer_serial"]
    assert issuer_serial["serial_number"].native == p.certificate.serial_number
    assert issuer_serial["issuer"][0].chosen == p.certificate.issuer
    assert info["unsigned_attrs"].native is None


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
def test_signed_attributes_equal_the_asn1crypto_construction(kind: Kind) -> None:
    """Our hand-joined DER equals the same structure built with asn1crypto's classes."""
    p = pki(kind)
    digest = p.key.signature_algorithm.digest
    prepared = prepare_cades(
        DOCUMENT,
        certificate=p.certificate,
        signature_algorithm=p.key.signature_algorithm,
        signing_time=SIGNING_TIME,
    )
    hash_algorithm = {"algorithm": digest.oid}
    if digest.name.startswith("streebog"):
        hash_algorithm["parameters"] = core.Null()
    cert_id = tsp.ESSCertIDv2(
        {
            "hash_algorithm": algos.DigestAlgorithm(hash_algorithm),
            "cert_hash": digest.hash(p.certificate.der),
            "issuer_serial": {
                "issuer": [asn1_x509.GeneralName(name="directory_name", value=p.certificate.issuer)],
                "serial_number": p.certificate.serial_number,
            },
        }
    )
    expected = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["data"]},
            {"type": "signing_time", "values": [cms.Time(name="utc_time", value=SIGNING_TIME)]},
            {"type": "message_digest", "values": [digest.hash(DOCUMENT)]},
            {"type": "signing_certificate_v2", "values": [{"certs": [cert_id]}]},
        ]
    )
    assert prepared.signed_attributes == expected.dump(force=True)
    assert prepared.digest_to_sign == digest.hash(prepared.signed_attributes)


def test_generalized_time_from_2050() -> None:
    p = pki(ParamSet.TC26_256_A)
    later = dt.datetime(2050, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    prepared = prepare_cades(
        DOCUMENT, certificate=p.certificate, signature_algorithm=p.key.signature_algorithm, signing_time=later
    )
    attributes = cms.CMSAttributes.load(prepared.signed_attributes)
    (time,) = next(a["values"] for a in attributes if a["type"].native == "signing_time")
    assert time.name == "generalized_time"
    assert time.native == later


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
def test_only_sign_digest_crosses_to_the_key(kind: Kind) -> None:
    """prepare → (the key holder signs ``digest_to_sign``) → finish: one ``sign_digest`` call."""
    p = pki(kind)
    signer = RecordingSigner(p.key)
    signature = sign_cades(DOCUMENT, signer=signer, certificate=p.certificate, signing_time=SIGNING_TIME)
    (info,) = _load(signature)["signer_infos"]
    signed = b"\x31" + info["signed_attrs"].dump()[1:]
    assert signer.digests == [p.key.signature_algorithm.digest.hash(signed)]


def test_prepared_signature_is_plain_data_and_finish_is_deterministic() -> None:
    p = pki(ParamSet.TC26_256_A)
    prepared = prepare_cades(
        DOCUMENT,
        certificate=p.certificate,
        signature_algorithm=p.key.signature_algorithm,
        signing_time=SIGNING_TIME,
    )
    assert isinstance(prepared, PreparedSignature)
    raw = p.key.sign_digest(prepared.digest_to_sign)
    assert finish(prepared, raw) == finish(prepared, raw, verify=False)


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
def test_finish_refuses_a_wrong_signature(kind: Kind) -> None:
    p, other = pki(kind), pki(kind, 1)
    prepared = prepare_cades(
        DOCUMENT, certificate=p.certificate, signature_algorithm=p.key.signature_algorithm
    )
    with pytest.raises(InvalidSignatureError):
        finish(prepared, other.key.sign_digest(prepared.digest_to_sign))
    # Without the check a CMS comes out anyway (for callers that verified elsewhere).
    assert finish(prepared, other.key.sign_digest(prepared.digest_to_sign), verify=False)


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
def test_from_hash_equals_from_content(kind: Kind) -> None:
    p = pki(kind)
    algorithm = p.key.signature_algorithm
    common = {"certificate": p.certificate, "signature_algorithm": algorithm, "signing_time": SIGNING_TIME}
    from_content = prepare_cades(DOCUMENT, detached=True, **common)  # type: ignore[arg-type]
    from_hash = prepare_cades(content_digest=algorithm.digest.hash(DOCUMENT), detached=True, **common)  # type: ignore[arg-type]
    assert from_hash.signed_attributes == from_content.signed_attributes
    assert from_hash.digest_to_sign == from_content.digest_to_sign


def test_bad_arguments() -> None:
    p = pki(ParamSet.TC26_256_A)
    algorithm = p.key.signature_algorithm
    digest = algorithm.digest.hash(DOCUMENT)
    with pytest.raises(InvalidInputError, match="only be detached"):
        prepare_cades(content_digest=digest, certificate=p.certificate, signature_algorithm=algorithm)
    with pytest.raises(InvalidInputError):
        prepare_cades(certificate=p.certificate, signature_algorithm=algorithm, detached=True)
    with pytest.raises(InvalidInputError):
        prepare_cades(
            DOCUMENT,
            content_digest=digest,
            certificate=p.certificate,
            signature_algorithm=algorithm,
            detached=True,
        )
    with pytest.raises(InvalidInputError, match="32 bytes"):
        prepare_cades(
            content_digest=digest[:-1],
            certificate=p.certificate,
            signature_algorithm=algorithm,
            detached=True,
        )
    with pytest.raises(InvalidInputError, match="timezone"):
        prepare_cades(
            DOCUMENT,
            certificate=p.certificate,
            signature_algorithm=algorithm,
            signing_time=dt.datetime(2026, 1, 1),
        )
    with pytest.raises(UnsupportedAlgorithmError):
        prepare_cades(
            DOCUMENT, certificate=p.certificate, signature_algorithm=pki("P-256").key.signature_algorithm
        )
    with pytest.raises(InvalidInputError, match="certificate's key"):
        sign_cades(DOCUMENT, signer=pki(ParamSet.TC26_256_A, 1).key, certificate=p.certificate)


@pytest.mark.parametrize("kind", ["P-256", "RSA"])
def test_pyhanko_checks_integrity(kind: Kind) -> None:
    """pyHanko's CMS integrity check (message digest + signature, its own code path) accepts ours."""
    p = pki(kind)
    signature = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate, detached=True)
    (info,) = _load(signature)["signer_infos"]
    intact, valid = validate_sig_integrity(
        info, p.certificate.asn1, "data", hashlib.sha256(DOCUMENT).digest()
    )
    assert (intact, valid) == (True, True)
    intact, valid = validate_sig_integrity(
        info, p.certificate.asn1, "data", hashlib.sha256(b"other").digest()
    )
    assert (intact, valid) == (False, True)


def test_embedded_intermediates() -> None:
    p = pki("P-256")
    extra = pki("P-256", 1).root
    signature = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate, certificates=[extra])
    certificates = {c.chosen.dump() for c in _load(signature)["certificates"]}
    assert certificates == {p.certificate.der, extra.der}
    assert cms.ContentInfo.load(signature).dump(force=True) == signature


def test_cosignature_keeps_existing_signers_byte_for_byte() -> None:
    gost, ecdsa = pki(ParamSet.TC26_256_A), pki("P-256")
    first = sign_cades(DOCUMENT, signer=gost.key, certificate=gost.certificate, detached=True)
    (original,) = _load(first)["signer_infos"]
    prepared = prepare_cosignature(
        first,
        certificate=ecdsa.certificate,
        signature_algorithm=ecdsa.key.signature_algorithm,
        content=DOCUMENT,
    )
    assert prepared.detached
    both = finish(prepared, ecdsa.key.sign_digest(prepared.digest_to_sign))
    signed_data = _load(both)
    infos = list(signed_data["signer_infos"])
    assert infos[0].dump() == original.dump()
    assert infos[0].dump() in both
    assert {d["algorithm"].native for d in signed_data["digest_algorithms"]} == {"streebog256", "sha256"}
    assert {c.chosen.dump() for c in signed_data["certificates"]} == {
        gost.certificate.der,
        ecdsa.certificate.der,
    }
    # The same signer's certificate is not embedded twice.
    again = prepare_cosignature(
        both,
        certificate=ecdsa.certificate,
        signature_algorithm=ecdsa.key.signature_algorithm,
        content=DOCUMENT,
    )
    three = finish(again, ecdsa.key.sign_digest(again.digest_to_sign))
    assert len(_load(three)["certificates"]) == 2
    assert len(_load(three)["digest_algorithms"]) == 2


def test_cosignature_refuses_another_document() -> None:
    gost, ecdsa = pki(ParamSet.TC26_256_A), pki("P-256")
    first = sign_cades(DOCUMENT, signer=gost.key, certificate=gost.certificate, detached=True)
    algorithm = ecdsa.key.signature_algorithm
    with pytest.raises(InvalidInputError, match="not the one"):
        prepare_cosignature(
            first, certificate=ecdsa.certificate, signature_algorithm=algorithm, content=b"other"
        )
    # From a hash only, a signer of the same digest algorithm is compared too.
    same = pki(ParamSet.TC26_256_A, 1)
    with pytest.raises(InvalidInputError, match="not the one"):
        prepare_cosignature(
            first,
            certificate=same.certificate,
            signature_algorithm=same.key.signature_algorithm,
            content_digest=same.key.signature_algorithm.digest.hash(b"other"),
        )
    attached = sign_cades(DOCUMENT, signer=gost.key, certificate=gost.certificate)
    with pytest.raises(InvalidInputError, match="carries its content"):
        prepare_cosignature(
            attached, certificate=ecdsa.certificate, signature_algorithm=algorithm, content=DOCUMENT
        )


def test_gost_oids_are_what_openssl_writes() -> None:
    p = pki(ParamSet.TC26_512_C)
    (info,) = _load(sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate))["signer_infos"]
    assert info["digest_algorithm"]["algorithm"].dotted == OID.STREEBOG512
    assert info["signature_algorithm"]["algorithm"].dotted == OID.GOST3410_2012_512

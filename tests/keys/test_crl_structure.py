"""``signing.crl``: CRLs built by prepare → sign → finish, parsed back, and checked by openssl."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from asn1crypto import core
from asn1crypto import crl as asn1_crl

from signing.crl import Crl, RevokedEntry, crl_reason, prepare_crl
from signing.errors import InvalidInputError, InvalidSignatureError, MalformedDataError
from signing.gost.params import ParamSet
from tests.oracle import gost_environment
from tests.signing.cms.conftest import NOW, Kind, kind_id, pki

KINDS: tuple[Kind, ...] = (ParamSet.TC26_256_A, ParamSet.TC26_512_C, "P-256")


def build(kind: Kind, entries: list[RevokedEntry], *, number: int = 1) -> Crl:
    """A CRL of the kind's root, signed with the root's software key."""
    p = pki(kind)
    prepared = prepare_crl(
        issuer=p.root,
        signature_algorithm=p.root_key.signature_algorithm,
        entries=entries,
        number=number,
        this_update=NOW,
        next_update=NOW + dt.timedelta(hours=6),
    )
    return prepared.finish(p.root_key.sign_digest(prepared.digest))


@pytest.mark.parametrize("kind", KINDS, ids=[kind_id(k) for k in KINDS])
def test_crl_round_trip_and_openssl_verifies(kind: Kind, tmp_path: Path) -> None:
    p = pki(kind)
    entries = [
        RevokedEntry(p.certificate.serial_number, NOW - dt.timedelta(minutes=5), "key_compromise"),
        RevokedEntry(0x1234, NOW - dt.timedelta(minutes=1)),
    ]
    crl = build(kind, entries, number=42)
    assert crl.number == 42
    assert crl.entries == tuple(entries)
    assert crl.this_update == NOW
    assert crl.next_update == NOW + dt.timedelta(hours=6)
    assert crl.authority_key_identifier == p.root.subject_key_identifier
    assert crl.asn1["tbs_cert_list"]["version"].native == "v2"
    assert crl.asn1["tbs_cert_list"]["issuer"].dump() == p.root.asn1["tbs_certificate"]["subject"].dump()
    crl.verify_signature(p.root.public_key())
    assert Crl.load(crl.pem()).der == crl.der
    with pytest.raises(InvalidSignatureError):
        crl.verify_signature(pki(kind, 1).root.public_key())

    (tmp_path / "ca.pem").write_bytes(p.root.pem())
    (tmp_path / "crl.der").write_bytes(crl.der)
    done = subprocess.run(
        [
            "openssl",
            "crl",
            "-inform",
            "DER",
            "-in",
            "crl.der",
            "-CAfile",
            "ca.pem",
            "-noout",
            "-verify",
            "-text",
        ],
        capture_output=True,
        check=False,
        timeout=60,
        cwd=tmp_path,
        env=gost_environment(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert b"verify OK" in done.stdout + done.stderr
    assert b"Key Compromise" in done.stdout
    assert f"{p.certificate.serial_number:X}".encode() in done.stdout


def test_an_empty_crl_has_no_revoked_list() -> None:
    crl = build(ParamSet.TC26_256_A, [])
    assert crl.entries == ()
    # RFC 5280 §5.1.2.6: absent rather than an empty SEQUENCE.
    assert isinstance(crl.asn1["tbs_cert_list"]["revoked_certificates"], core.Void)


def test_reasons_map_to_rfc_5280_or_are_left_out() -> None:
    assert crl_reason("key_compromise") == "key_compromise"
    assert crl_reason("Cessation-Of-Operation") == "cessation_of_operation"
    assert crl_reason("unspecified") is None
    assert crl_reason("because I said so") is None
    assert crl_reason(None) is None
    crl = build(ParamSet.TC26_256_A, [RevokedEntry(7, NOW, "superseded"), RevokedEntry(8, NOW, None)])
    listed = crl.asn1["tbs_cert_list"]["revoked_certificates"]
    assert listed[0].crl_reason_value == asn1_crl.CRLReason("superseded")
    assert listed[1].crl_reason_value is None


def test_bad_input_is_refused() -> None:
    p = pki(ParamSet.TC26_256_A)
    algorithm = p.root_key.signature_algorithm
    later = NOW + dt.timedelta(hours=1)
    with pytest.raises(InvalidInputError, match="nextUpdate"):
        prepare_crl(
            issuer=p.root,
            signature_algorithm=algorithm,
            entries=[],
            number=1,
            this_update=NOW,
            next_update=NOW,
        )
    with pytest.raises(InvalidInputError, match="not a CA"):
        prepare_crl(
            issuer=p.certificate,
            signature_algorithm=algorithm,
            entries=[],
            number=1,
            this_update=NOW,
            next_update=later,
        )
    with pytest.raises(InvalidInputError, match="CRL number"):
        prepare_crl(
            issuer=p.root,
            signature_algorithm=algorithm,
            entries=[],
            number=-1,
            this_update=NOW,
            next_update=later,
        )
    with pytest.raises(InvalidInputError, match="reason"):
        build(ParamSet.TC26_256_A, [RevokedEntry(7, NOW, "bored")])
    prepared = prepare_crl(
        issuer=p.root,
        signature_algorithm=algorithm,
        entries=[],
        number=1,
        this_update=NOW,
        next_update=later,
    )
    # A signature by another key never becomes a CRL.
    with pytest.raises(InvalidSignatureError):
        prepared.finish(pki(ParamSet.TC26_256_A, 1).root_key.sign_digest(prepared.digest))
    with pytest.raises(MalformedDataError):
        Crl.load(b"\x30\x03\x02\x01\x01")

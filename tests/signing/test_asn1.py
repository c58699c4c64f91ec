"""GOST registration in asn1crypto: idempotent, order-independent with pyhanko-certvalidator, and
invisible to RSA / EC / Ed25519 structures (byte- and value-identical before and after)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import algos, core, keys, x509
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from signing import asn1
from signing.gost.params import ParamSet
from signing.x509 import build_name, name_attributes, self_signed_ca
from tests.signing.conftest import NOW, cached_gost_key

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: prints what asn1crypto makes of each file, as JSON.
PROBE = r"""
import json, sys
mode, folder = sys.argv[1], sys.argv[2]
if mode == "first":
    import pyhanko_certvalidator  # noqa: F401
if mode in ("first", "last"):
    import signing  # noqa: F401  (registers)
if mode == "last":
    import pyhanko_certvalidator  # noqa: F401
from pathlib import Path
from asn1crypto import keys, x509
def bit_size(info):
    try:
        return info.bit_size
    except Exception as exc:  # asn1crypto itself cannot size Ed25519 keys
        return type(exc).__name__
out = {}
for path in sorted(Path(folder).glob("*.der")):
    der = path.read_bytes()
    if path.name.startswith("cert"):
        value = x509.Certificate.load(der)
        info = value.public_key
        extra = [value.signature_algo, value.hash_algo, value.self_signed]
    else:
        value = info = keys.PublicKeyInfo.load(der)
        extra = []
    out[path.name] = {
        "native": repr(value.native),
        "redump": value.dump(force=True).hex(),
        "same": value.dump(force=True) == der,
        "algorithm": info.algorithm,
        "bit_size": bit_size(info),
        "public_key": repr(
            info["public_key"].parsed.native
            if info.algorithm in ("rsa", "gost3410_2012_256")
            else info["public_key"].native
        ),
        "extra": repr(extra),
    }
callback = keys.PublicKeyInfo._spec_callbacks["public_key"]
out["callback"] = getattr(callback, "__name__", "?")
print(json.dumps(out))
"""


def _international_files(folder: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    name = pyca_x509.Name([pyca_x509.NameAttribute(pyca_x509.NameOID.COMMON_NAME, "probe")])
    for label, key, digest in (
        ("rsa", rsa_key, hashes.SHA256()),
        ("ec", ec_key, hashes.SHA384()),
        ("ed", ed_key, None),
    ):
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (folder / f"spki_{label}.der").write_bytes(spki)
        certificate = (
            pyca_x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(NOW)
            .not_valid_after(NOW + dt.timedelta(days=1))
            .add_extension(pyca_x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, digest)
        )
        (folder / f"cert_{label}.der").write_bytes(certificate.public_bytes(serialization.Encoding.DER))


def _probe(mode: str, folder: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode, str(folder)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def probe_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("probe")
    _international_files(folder)
    return folder


@pytest.fixture(scope="module")
def plain(probe_folder: Path) -> dict[str, Any]:
    """What unpatched asn1crypto makes of the international files."""
    return _probe("plain", probe_folder)


@pytest.mark.parametrize("mode", ["first", "last"])
def test_international_structures_are_untouched_by_registration(
    mode: str, probe_folder: Path, plain: dict[str, Any]
) -> None:
    registered = _probe(mode, probe_folder)
    for name in ("spki_rsa.der", "spki_ec.der", "spki_ed.der", "cert_rsa.der", "cert_ec.der", "cert_ed.der"):
        assert registered[name] == plain[name], name
        assert isinstance(registered[name], dict)
        assert registered[name]["same"] is True


@pytest.mark.parametrize("mode", ["first", "last"])
def test_gost_parses_whichever_import_comes_first(mode: str, tmp_path: Path) -> None:
    key = cached_gost_key(ParamSet.CRYPTOPRO_A)
    certificate = self_signed_ca(
        key, subject={"common_name": "probe"}, not_before=NOW, not_after=NOW + dt.timedelta(days=1)
    )
    (tmp_path / "cert_gost.der").write_bytes(certificate.der)
    (tmp_path / "spki_gost.der").write_bytes(key.public_key().spki())
    result = _probe(mode, tmp_path)
    point = repr(key.public_key().native.point_bytes())
    for name in ("cert_gost.der", "spki_gost.der"):
        entry = result[name]
        assert isinstance(entry, dict)
        assert entry["same"] is True
        assert entry["algorithm"] == "gost3410_2012_256"
        assert entry["bit_size"] == 256
        assert entry["public_key"] == point
    assert result["cert_gost.der"]["extra"] == repr(["gost3410_2012_256", "streebog256", "maybe"])
    # pyhanko's own wrapper, when imported, stays in the table: it reaches our patched method.
    assert result["callback"] == "_public_key_spec_wrapped"


def test_without_pyhanko_the_table_calls_the_method(plain: dict[str, Any], tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import signing; from asn1crypto import keys; "
            "print(keys.PublicKeyInfo._spec_callbacks['public_key'].__name__)",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "callback"
    assert plain["callback"] == "_public_key_spec"


def test_register_is_idempotent() -> None:
    before = (
        dict(keys.PublicKeyAlgorithmId._map),
        dict(algos.SignedDigestAlgorithmId._map),
        dict(algos.SignedDigestAlgorithmId._reverse_map),
        keys.PublicKeyInfo._public_key_spec,
        keys.PublicKeyInfo._spec_callbacks["public_key"],
        algos.SignedDigestAlgorithm.hash_algo,
    )
    asn1.register()
    asn1.register()
    after = (
        dict(keys.PublicKeyAlgorithmId._map),
        dict(algos.SignedDigestAlgorithmId._map),
        dict(algos.SignedDigestAlgorithmId._reverse_map),
        keys.PublicKeyInfo._public_key_spec,
        keys.PublicKeyInfo._spec_callbacks["public_key"],
        algos.SignedDigestAlgorithm.hash_algo,
    )
    assert asn1.is_registered()
    assert before == after


@pytest.mark.parametrize(
    ("dotted", "signature_algo", "hash_algo"),
    [
        ("1.2.643.7.1.1.3.2", "gost3410_2012_256", "streebog256"),
        ("1.2.643.7.1.1.3.3", "gost3410_2012_512", "streebog512"),
        ("1.2.643.7.1.1.1.1", "gost3410_2012_256", "streebog256"),
        ("1.2.643.7.1.1.1.2", "gost3410_2012_512", "streebog512"),
        ("1.2.643.2.2.3", "gost3410_2001", "gost3411_94"),
        ("1.2.840.113549.1.1.11", "rsassa_pkcs1v15", "sha256"),
        ("1.2.840.10045.4.3.3", "ecdsa", "sha384"),
    ],
)
def test_signed_digest_algorithm_properties(dotted: str, signature_algo: str, hash_algo: str) -> None:
    value = algos.SignedDigestAlgorithm({"algorithm": dotted})
    assert value.signature_algo == signature_algo
    assert value.hash_algo == hash_algo


def test_reverse_maps_name_every_gost_oid() -> None:
    assert algos.SignedDigestAlgorithmId.unmap("streebog256_gost3410_2012_256") == "1.2.643.7.1.1.3.2"
    assert algos.SignedDigestAlgorithmId.unmap("gost3410_2012_512") == "1.2.643.7.1.1.1.2"
    assert algos.DigestAlgorithmId.unmap("streebog512") == "1.2.643.7.1.1.2.3"
    assert keys.PublicKeyAlgorithmId.unmap("gost3410_2012_256") == "1.2.643.7.1.1.1.1"
    assert x509.NameType.unmap("innle") == "1.2.643.100.4"
    assert algos.HmacAlgorithmId.unmap("hmac_streebog256") == "1.2.643.7.1.1.4.1"
    # Unknown names still fail the asn1crypto way.
    with pytest.raises(ValueError, match=r"not present|does not contain|OID"):
        algos.SignedDigestAlgorithmId.unmap("no_such_algorithm")


def test_russian_name_attributes_are_numeric_strings() -> None:
    name = build_name(
        [
            ("country_name", "RU"),
            ("common_name", "ООО «Ключ»"),
            ("ogrn", "1027700132195"),
            ("innle", "7707083893"),
            ("inn", "007707083893"),
            ("snils", "12345678901"),
            ("ogrnip", "304500116000157"),
        ]
    )
    der = name.dump()
    parsed = x509.Name.load(der)
    pairs = name_attributes(parsed)
    assert pairs[2:] == [
        ("ogrn", "1027700132195"),
        ("innle", "7707083893"),
        ("inn", "007707083893"),
        ("snils", "12345678901"),
        ("ogrnip", "304500116000157"),
    ]
    for rdn in parsed.chosen[2:]:
        assert rdn[0]["value"].chosen.tag == core.NumericString.tag
    assert parsed.chosen[1][0]["value"].chosen.tag == core.UTF8String.tag
    assert parsed.chosen[0][0]["value"].chosen.tag == core.PrintableString.tag


def test_inn_in_a_printable_string_still_parses() -> None:
    # Some CAs wrote INN as PrintableString; parsing must not break on that.
    body = core.ObjectIdentifier(asn1.OID.INN).dump() + core.PrintableString("500100732259").dump()
    value = x509.NameTypeAndValue.load(b"\x30" + bytes([len(body)]) + body)
    assert value["type"].native == "inn"
    assert value["value"].native == "500100732259"
    assert value["value"].name == "printable_string"


def test_qualified_certificate_extensions_parse() -> None:
    tool = x509.Extension({"extn_id": "subject_sign_tool", "extn_value": "СКЗИ «Ключ»"})
    issuer_tool = x509.Extension(
        {
            "extn_id": "issuer_sign_tool",
            "extn_value": {"sign_tool": "a", "ca_tool": "b", "sign_tool_cert": "c", "ca_tool_cert": "d"},
        }
    )
    kind = x509.Extension({"extn_id": "identification_kind", "extn_value": 0})
    for extension, dotted in (
        (tool, "1.2.643.100.111"),
        (issuer_tool, "1.2.643.100.112"),
        (kind, "1.2.643.100.114"),
    ):
        parsed = x509.Extension.load(extension.dump())
        assert parsed["extn_id"].dotted == dotted
        assert parsed.native == extension.native


@pytest.mark.parametrize("paramset", list(ParamSet.production()), ids=lambda p: p.name)
def test_parameter_sets_have_names(paramset: ParamSet) -> None:
    value = asn1.GostPublicKeyParameters({"public_key_param_set": paramset.oid})
    assert value["public_key_param_set"].native == asn1.PARAMSET_OIDS[paramset.oid]
    assert asn1.GostPublicKeyParameters.load(value.dump())["public_key_param_set"].dotted == paramset.oid

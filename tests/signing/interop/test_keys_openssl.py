"""Keys and raw signatures against the ``openssl`` CLI, both directions, every parameter set.

* OpenSSL-made GOST keys: our PKCS#8 and SPKI re-encodings are byte-identical to OpenSSL's.
* Our keys: OpenSSL reads our PKCS#8 and derives exactly our SPKI.
* Signatures: ``openssl dgst -sign`` verified by us, ours verified by ``openssl dgst -verify``.
"""

from __future__ import annotations

import pytest
from asn1crypto import keys

from signing.algorithms import signature_algorithm
from signing.gost.params import ParamSet
from signing.international import InternationalPrivateKey
from signing.keys import (
    GostSigningKey,
    decode_gost_pkcs8,
    decode_gost_spki,
    encode_gost_pkcs8,
    encode_gost_spki,
    load_private_key,
    load_public_key,
    pem_decode,
    private_key_pem,
    public_key_pem,
    sign_data,
    verify_data,
)
from tests.signing.conftest import GOST_PARAMSETS, OpenSSL, any_key

IDS = [p.name for p in GOST_PARAMSETS]
DATA = "Документ для подписи\n".encode() * 50


def _dgst(paramset: ParamSet) -> str:
    return "-md_gost12_256" if paramset.key_size == 256 else "-md_gost12_512"


@pytest.mark.parametrize("paramset", GOST_PARAMSETS, ids=IDS)
def test_openssl_gost_keys_re_encode_byte_for_byte(ossl: OpenSSL, paramset: ParamSet) -> None:
    pem = ossl.genpkey(paramset)
    pkcs8 = pem_decode(pem, "PRIVATE KEY")
    spki = ossl.out("pkey", "-engine", "gost", "-pubout", "-outform", "DER", input=pem)
    # Through our decoder and encoder.
    decoded_paramset, private = decode_gost_pkcs8(pkcs8)
    assert decoded_paramset is paramset
    assert encode_gost_pkcs8(paramset, private) == pkcs8
    assert decode_gost_spki(spki)[0] is paramset
    assert encode_gost_spki(paramset, decode_gost_spki(spki)[1]) == spki
    # Through the key objects (the engine derives Q from d on our side).
    key = load_private_key(pem)
    assert isinstance(key, GostSigningKey)
    assert key.pkcs8() == pkcs8
    assert key.public_key().spki() == spki
    # asn1crypto re-serialises every field identically after registration.
    assert keys.PrivateKeyInfo.load(pkcs8).dump(force=True) == pkcs8
    assert keys.PublicKeyInfo.load(spki).dump(force=True) == spki


@pytest.mark.parametrize("paramset", GOST_PARAMSETS, ids=IDS)
def test_openssl_reads_our_gost_keys(ossl: OpenSSL, paramset: ParamSet) -> None:
    key = GostSigningKey.generate(paramset)
    spki = ossl.out("pkey", "-engine", "gost", "-pubout", "-outform", "DER", input=private_key_pem(key))
    assert spki == key.public_key().spki()
    assert (
        ossl.out(
            "pkey", "-engine", "gost", "-pubin", "-outform", "DER", input=public_key_pem(key.public_key())
        )
        == spki
    )
    text = ossl.out("pkey", "-engine", "gost", "-noout", "-text", input=private_key_pem(key)).decode()
    # OpenSSL prints d big-endian.
    assert decode_gost_pkcs8(key.pkcs8())[1][::-1].hex().upper().lstrip("0") in text.replace(":", "").upper()


@pytest.mark.parametrize("paramset", GOST_PARAMSETS, ids=IDS)
def test_gost_signatures_both_ways(ossl: OpenSSL, paramset: ParamSet) -> None:
    pem = ossl.genpkey(paramset)
    data_path = ossl.write(f"data-{paramset.name}", DATA)
    key_path = ossl.write(f"key-{paramset.name}.pem", pem)
    signature = ossl.out("dgst", "-engine", "gost", _dgst(paramset), "-sign", key_path, data_path)
    key = load_private_key(pem)
    verify_data(key.public_key(), DATA, signature, key.signature_algorithm)

    ours = sign_data(key, DATA)
    public_path = ossl.write(f"pub-{paramset.name}.pem", public_key_pem(key.public_key()))
    signature_path = ossl.write(f"sig-{paramset.name}", ours)
    ossl.run(
        "dgst",
        "-engine",
        "gost",
        _dgst(paramset),
        "-verify",
        public_path,
        "-signature",
        signature_path,
        data_path,
    )
    tampered = ossl.write(f"bad-{paramset.name}", ours[:-1] + bytes([ours[-1] ^ 1]))
    refused = ossl.run(
        "dgst",
        "-engine",
        "gost",
        _dgst(paramset),
        "-verify",
        public_path,
        "-signature",
        tampered,
        data_path,
        check=False,
    )
    assert refused.returncode != 0


INTERNATIONAL = [
    ("P-256", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], "sha256_ecdsa", []),
    ("P-384", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], "sha384_ecdsa", []),
    ("RSA", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "sha512_rsa", []),
    (
        "RSA-PSS",
        ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        "sha384_rsassa_pss",
        ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"],
    ),
]


@pytest.mark.parametrize(
    ("name", "genpkey", "algorithm", "sigopts"), INTERNATIONAL, ids=[i[0] for i in INTERNATIONAL]
)
def test_international_keys_and_signatures_both_ways(
    ossl: OpenSSL, name: str, genpkey: list[str], algorithm: str, sigopts: list[str]
) -> None:
    pem = ossl.out("genpkey", *genpkey)
    key = load_private_key(pem)
    assert isinstance(key, InternationalPrivateKey)
    key = key.with_algorithm(signature_algorithm(algorithm))
    spki = ossl.out("pkey", "-pubout", "-outform", "DER", input=pem)
    assert key.public_key().spki() == spki
    assert load_public_key(spki).spki() == spki
    digest = f"-{key.signature_algorithm.digest.name}"
    data_path = ossl.write(f"data-{name}", DATA)
    key_path = ossl.write(f"key-{name}.pem", pem)
    signature = ossl.out("dgst", digest, *sigopts, "-sign", key_path, data_path)
    verify_data(key.public_key(), DATA, signature, key.signature_algorithm)
    public_path = ossl.write(f"pub-{name}.pem", public_key_pem(key.public_key()))
    signature_path = ossl.write(f"sig-{name}", sign_data(key, DATA))
    ossl.run("dgst", digest, *sigopts, "-verify", public_path, "-signature", signature_path, data_path)


def test_openssl_reads_our_international_keys(ossl: OpenSSL) -> None:
    for kind in ("P-256", "P-384", "RSA"):
        key = any_key(kind)
        assert (
            ossl.out("pkey", "-pubout", "-outform", "DER", input=private_key_pem(key))
            == key.public_key().spki()
        )

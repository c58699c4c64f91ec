"""The signing layer: pure cryptography and formats, no I/O except through parameters.

Module map::

    signing
     ├─ errors ............. the error tree of this layer (one stable ``code`` per class)
     ├─ asn1 ............... GOST OIDs and structures registered in asn1crypto (``register()``)
     ├─ algorithms ......... the one registry of digest and signature algorithms, by OID and by name
     ├─ keys ............... key interface (PublicKey / Signer / PrivateKey), SPKI, PKCS#8, PEM,
     │                       GOST key adapters over ``signing.gost``
     ├─ international ...... ECDSA P-256/P-384 and RSA PKCS#1 v1.5 / PSS through ``cryptography``
     ├─ prepared ........... prepare → raw sign → finish, shared by certificates, CRLs and requests
     ├─ csr ................ PKCS#10 requests: prepare → raw sign → finish; parse with verification
     ├─ x509 ............... X.509 v3: names, extensions, parsing, built-in CA issuing
     ├─ crl ................ X.509 v2 CRLs: prepare → raw sign → finish; parsing
     ├─ ocsp ............... OCSP (RFC 6960) requests and responses: parse, prepare → raw sign → finish
     ├─ chain .............. certificate path building and validation to trust anchors
     ├─ cms ................ CMS / CAdES-BES and raw signatures, verification into one report
     │   └─ report, validation, identifiers, attributes, container, cades, verify, raw
     └─ gost ............... native GOST through OpenSSL 3 (gostprov provider + gost engine)
         ├─ _libcrypto ..... the shared libcrypto handle, prototypes, error queue, gost ENGINE
         ├─ _pkey .......... EVP_PKEY operations in the engine (keygen, import/export, sign, verify, derive)
         ├─ _keyder ........ minimal SPKI / PKCS#8 DER to move raw keys in and out of the engine
         ├─ selftest ....... power-on self-tests
         ├─ params ......... ParamSet: the GOST R 34.10-2012 curves, OIDs and engine names
         ├─ digest ......... Streebog-256/512 (GOST R 34.11-2012)
         ├─ mac ............ HMAC_GOSTR3411_2012_256/512 (R 50.1.113-2016)
         ├─ kdf ............ KDF_256, KDF_TREE_256, PBKDF2-Streebog-512
         ├─ keys ........... GostPrivateKey / GostPublicKey: generate, load, sign, verify, VKO, KEG
         ├─ vko ............ VKO_GOSTR3410_2012_256/512 and KEG
         ├─ cipher* ........ Kuznyechik / Magma (GOST R 34.12/34.13-2015) modes and OMAC
         └─ kexp15 ......... KExp15 / KImp15 key export

Importing the package registers the GOST OIDs in asn1crypto (:func:`signing.asn1.register`), so
nothing GOST can be parsed before asn1crypto knows it.
"""

from signing import asn1 as _asn1

_asn1.register()

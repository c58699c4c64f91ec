"""The signing layer: pure cryptography and formats, no I/O except through parameters.

Module map::

    signing
     ├─ errors ............ the error tree of this layer (one stable ``code`` per class)
     ├─ asn1 .............. GOST OIDs and structures registered in asn1crypto (``register()``)
     ├─ algorithms ........ the one registry of digest and signature algorithms (by OID and name)
     ├─ keys .............. key interface (PublicKey / Signer / PrivateKey), SPKI, PKCS#8, PEM, GOST adapters
     ├─ international ..... ECDSA P-256/P-384 and RSA PKCS#1 v1.5 / PSS through ``cryptography``
     ├─ csr ............... PKCS#10 certification requests: prepare → sign → finish, parse + verify
     ├─ x509 .............. X.509 v3 certificates: names, extensions, CA and end-entity issuing, parsing
     ├─ chain ............. certificate path building and validation to trust anchors
     └─ gost .............. native GOST R 34.10/34.11-2012 through OpenSSL 3 + gost engine
         ├─ _libcrypto .... the shared libcrypto handle (default + gostprov providers)
         ├─ params ........ GOST R 34.10-2012 curve parameter sets (``ParamSet``)
         └─ keys .......... GostPrivateKey / GostPublicKey: generate, sign and verify digests

Importing the package registers the GOST OIDs in asn1crypto (:func:`signing.asn1.register`) before
anything can be parsed.
"""

from signing import asn1 as _asn1

_asn1.register()

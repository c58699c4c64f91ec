"""Native GOST cryptography: OpenSSL 3 (``gostprov`` provider + gost ENGINE) through ctypes.

Module map::

    signing.gost
     ├─ _libcrypto ..... the shared libcrypto handle, prototype binding, error queue, gost ENGINE
     ├─ _pkey .......... EVP_PKEY operations in the engine (keygen, import/export, sign, verify, derive)
     ├─ _keyder ........ minimal SPKI / PKCS#8 DER to move raw keys in and out of the engine
     ├─ selftest ....... power-on self-tests (Streebog known answers, sign/verify round trip)
     ├─ params ......... ParamSet: the GOST R 34.10-2012 curves, OIDs and engine names
     ├─ digest ......... Streebog-256/512 (GOST R 34.11-2012), hashlib objects
     ├─ mac ............ HMAC_GOSTR3411_2012_256/512 (R 50.1.113-2016)
     ├─ kdf ............ KDF_256, KDF_TREE_256 (R 50.1.113-2016), PBKDF2-Streebog-512 (R 50.1.111-2016)
     ├─ keys ........... GostPrivateKey / GostPublicKey: generate, load, sign, verify, VKO, KEG
     ├─ vko ............ VKO_GOSTR3410_2012_256/512 and KEG through the engine
     ├─ cipher ......... Kuznyechik / Magma (GOST R 34.12/34.13-2015): ECB, CBC, CTR, CTR-ACPKM, OMAC
     ├─ cipher_native .. EVP cipher/MAC templates through gostprov (or the engine when it is loaded)
     ├─ cipher_stream .. streaming encryptors and MACs
     ├─ cipher_padding . GOST 34.13 padding procedure 2
     └─ kexp15 ......... KExp15 / KImp15 key export

Nothing runs at import: the providers, the engine and the self-tests load on first use, and a
missing engine raises :class:`signing.errors.EngineUnavailableError` naming ``libengine-gost-openssl``.
"""

from signing.gost.digest import STREEBOG256, STREEBOG512, streebog256, streebog512, streebog_digest
from signing.gost.kdf import (
    kdf_gostr3411_2012_256,
    kdf_tree_gostr3411_2012_256,
    pbkdf2_gostr3411_2012_512,
)
from signing.gost.keys import GostPrivateKey, GostPublicKey
from signing.gost.mac import hmac_gostr3411_2012_256, hmac_gostr3411_2012_512, new_hmac
from signing.gost.params import ParamSet

__all__ = [
    "STREEBOG256",
    "STREEBOG512",
    "GostPrivateKey",
    "GostPublicKey",
    "ParamSet",
    "hmac_gostr3411_2012_256",
    "hmac_gostr3411_2012_512",
    "kdf_gostr3411_2012_256",
    "kdf_tree_gostr3411_2012_256",
    "new_hmac",
    "pbkdf2_gostr3411_2012_512",
    "streebog256",
    "streebog512",
    "streebog_digest",
]

from signing.gost.cipher import (
    Algorithm,
    BlockCipher,
    Kuznyechik,
    Magma,
    Mode,
    decrypt,
    encrypt,
    new_cipher,
    omac,
)
from signing.gost.cipher_padding import pad2, unpad2
from signing.gost.kexp15 import Kexp15, kexp15, kimp15

__all__ += [
    "Algorithm",
    "BlockCipher",
    "Kexp15",
    "Kuznyechik",
    "Magma",
    "Mode",
    "decrypt",
    "encrypt",
    "kexp15",
    "kimp15",
    "new_cipher",
    "omac",
    "pad2",
    "unpad2",
]

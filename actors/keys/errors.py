"""Errors of the keys domain (users' keys, certificates, the built-in CA).

::

    KeysError                          code                       HTTP
     ├─ KeyNotFoundError               not_found                  404  (missing, or someone else's)
     ├─ CertificateNotFoundError       not_found                  404  (missing, or someone else's)
     ├─ NoDefaultCertificateError      no_default_certificate     409  (none named, none default)
     ├─ KeyRevokedError                key_revoked                409
     ├─ CertificateRevokedError        certificate_revoked        409
     ├─ CertificateNotValidNowError    certificate_not_valid_now  422  (expired or not yet valid)
     ├─ InvalidKeyRequestError         invalid_key_request        422  (algorithm, paramset, subject)
     ├─ CertificateMismatchError       certificate_key_mismatch   422  (certifies another key)
     ├─ UntrustedCertificateError      certificate_untrusted      422  (no chain to a trust anchor)
     ├─ DuplicateCertificateError      certificate_exists         409
     ├─ AutoIssueDisabledError         ca_auto_issue_disabled     403  (policy: use CSR + upload)
     ├─ NoUserAccountError             no_user_account            403  (a client without a user)
     └─ KeyStoreUnavailableError       hsm_unavailable            503  (no HSM unit can serve the key)

Each class has a stable ``code``; callers dispatch on type or code, never on message text. The
not-found classes share ``code`` with ``storage.errors.NotFoundError`` and
``actors.identity.errors.NotOwnerError``: someone else's object must look exactly like a missing one.
"""

from __future__ import annotations

from uuid import UUID


class KeysError(Exception):
    """Base of every error raised by ``actors.keys``."""

    code = "keys_error"


class KeyNotFoundError(KeysError):
    """No such key for this caller (it does not exist or belongs to someone else)."""

    code = "not_found"

    def __init__(self, key_id: UUID) -> None:
        super().__init__(f"key {key_id} not found")
        self.key_id = key_id


class CertificateNotFoundError(KeysError):
    """No such certificate for this caller (it does not exist or belongs to someone else)."""

    code = "not_found"

    def __init__(self, certificate_id: UUID) -> None:
        super().__init__(f"certificate {certificate_id} not found")
        self.certificate_id = certificate_id


class NoDefaultCertificateError(KeysError):
    """No certificate was named and the user has no default certificate."""

    code = "no_default_certificate"


class KeyRevokedError(KeysError):
    """The key is revoked: it signs nothing any more."""

    code = "key_revoked"


class CertificateRevokedError(KeysError):
    """The certificate is revoked: nothing is signed under it any more."""

    code = "certificate_revoked"


class CertificateNotValidNowError(KeysError):
    """The certificate has expired or is not valid yet."""

    code = "certificate_not_valid_now"


class InvalidKeyRequestError(KeysError):
    """A key or certificate request is impossible (unknown parameter set, unusable subject...)."""

    code = "invalid_key_request"


class CertificateMismatchError(KeysError):
    """An uploaded certificate certifies another public key than the key it is uploaded for."""

    code = "certificate_key_mismatch"


class UntrustedCertificateError(KeysError):
    """An uploaded certificate does not chain to a configured trust anchor."""

    code = "certificate_untrusted"


class DuplicateCertificateError(KeysError):
    """This very certificate is already stored."""

    code = "certificate_exists"


class AutoIssueDisabledError(KeysError):
    """Policy forbids the built-in CA to issue on request: download the CSR, upload the certificate."""

    code = "ca_auto_issue_disabled"


class NoUserAccountError(KeysError):
    """The caller acts for no user (an unbound OAuth2 client), so it owns no keys."""

    code = "no_user_account"


class KeyStoreUnavailableError(KeysError):
    """No HSM unit able to serve the key is up right now; trying again later may succeed."""

    code = "hsm_unavailable"

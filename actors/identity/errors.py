"""Errors of the identity domain (accounts, passwords, tokens).

::

    IdentityError                         code                     oauth_error
     ├─ AuthenticationError               authentication_failed    invalid_token
     │   ├─ MissingTokenError             token_missing            (none: no credentials were sent)
     │   ├─ InvalidTokenError             token_invalid            invalid_token
     │   │   ├─ TokenExpiredError         token_expired            invalid_token
     │   │   └─ TokenRevokedError         token_revoked            invalid_token
     │   └─ InvalidClientError            invalid_client           invalid_client
     ├─ InvalidGrantError                 invalid_grant            invalid_grant
     ├─ InvalidRequestError               invalid_request          invalid_request
     ├─ UnsupportedGrantTypeError         unsupported_grant_type   unsupported_grant_type
     ├─ TooManyAttemptsError              too_many_attempts        too_many_attempts
     ├─ PermissionDeniedError             forbidden                insufficient_scope
     ├─ NotOwnerError                     not_found                (none)
     ├─ InvalidAccountError               invalid_account          (none)
     │   └─ PasswordPolicyError           password_policy          (none)
     └─ UsernameTakenError                username_taken           (none)

Each class has a stable ``code``; callers dispatch on type or code, never on message text.
``oauth_error`` is the RFC 6749 §5.2 / RFC 6750 §3.1 error value the edge adds to its answer.
``NotOwnerError`` deliberately shares ``code`` with ``storage.errors.NotFoundError``: someone else's
object must look exactly like a missing one.
"""

from __future__ import annotations


class IdentityError(Exception):
    """Base of every error raised by ``actors.identity``."""

    code = "identity_error"
    oauth_error: str | None = None
    """The RFC 6749 §5.2 / RFC 6750 §3.1 ``error`` value, when the protocol defines one."""


class AuthenticationError(IdentityError):
    """The caller is not (or no longer) authenticated."""

    code = "authentication_failed"
    oauth_error: str | None = "invalid_token"


class MissingTokenError(AuthenticationError):
    """The request carries no bearer token."""

    code = "token_missing"
    oauth_error = None


class InvalidTokenError(AuthenticationError):
    """The bearer token is malformed, badly signed, for another audience or issuer, or unknown."""

    code = "token_invalid"


class TokenExpiredError(InvalidTokenError):
    """The bearer token has expired."""

    code = "token_expired"


class TokenRevokedError(InvalidTokenError):
    """The bearer token, its session, its user or its client was revoked or disabled."""

    code = "token_revoked"


class InvalidClientError(AuthenticationError):
    """Client authentication failed: unknown client, wrong secret, disabled, or the wrong client."""

    code = "invalid_client"
    oauth_error = "invalid_client"


class InvalidGrantError(IdentityError):
    """Wrong username or password, disabled account, or an unusable refresh token."""

    code = "invalid_grant"
    oauth_error = "invalid_grant"


class InvalidRequestError(IdentityError):
    """A token-endpoint request is missing a parameter, repeats one, or is not form/JSON."""

    code = "invalid_request"
    oauth_error = "invalid_request"


class UnsupportedGrantTypeError(IdentityError):
    """The ``grant_type`` is not one this server issues tokens for."""

    code = "unsupported_grant_type"
    oauth_error = "unsupported_grant_type"


class TooManyAttemptsError(IdentityError):
    """Too many failed logins for this username or from this address; try again later."""

    code = "too_many_attempts"
    oauth_error = "too_many_attempts"

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        """Seconds until the oldest counted failure leaves the window."""


class PermissionDeniedError(IdentityError):
    """The caller is authenticated but its role does not allow this action."""

    code = "forbidden"
    oauth_error = "insufficient_scope"


class NotOwnerError(IdentityError):
    """The object belongs to someone else; answered exactly like a missing object."""

    code = "not_found"


class InvalidAccountError(IdentityError):
    """Account data the domain refuses (a malformed username, an impossible change)."""

    code = "invalid_account"


class PasswordPolicyError(InvalidAccountError):
    """The new password breaks the policy (length, equal to the username)."""

    code = "password_policy"


class UsernameTakenError(IdentityError):
    """Another account already has this username (compared ignoring case)."""

    code = "username_taken"

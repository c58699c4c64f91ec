"""Errors of ``klyuch gost``; each carries the process exit code it ends with.

::

    GostCliError                 code                 exit
     ├─ UsageError               usage                2   (unknown option, bad hex, unknown algorithm)
     ├─ InputError               bad_input            1   (unreadable file, data of the wrong kind)
     └─ VerificationFailure      verification_failed  1   (a signature does not verify)

Errors of the signing layer (:mod:`signing.errors`) are reported as they are, exit code 1.
"""

from __future__ import annotations


class GostCliError(Exception):
    """Base of the command line's own errors."""

    code = "cli_error"
    exit_code = 1


class UsageError(GostCliError):
    """The command line itself is wrong: an option, its value, or a combination of options."""

    code = "usage"
    exit_code = 2


class InputError(GostCliError):
    """An input file cannot be read or does not hold what the command needs."""

    code = "bad_input"
    exit_code = 1


class VerificationFailure(GostCliError):
    """A signature (of data, a request or a certificate) does not verify."""

    code = "verification_failed"
    exit_code = 1

"""``klyuch gost``: an openssl-like command line over the signing library, GOST first.

It only parses arguments and calls :mod:`signing`; it has no cryptography of its own (the one
exception is openssl's PKCS#7 block padding, byte bookkeeping the library does not offer).

Module map::

    edge.gost_cli
     ├─ app ........... the parser, the subcommand table, errors → exit codes and one-line messages
     ├─ errors ........ the error tree of the command line (each error knows its exit code)
     ├─ options ....... the argparse subclass (no usage dumps, no abbreviations), value parsers
     ├─ files ......... reading inputs, writing outputs (stdout or files; keys with mode 0600)
     ├─ keyspec ....... key types, GOST parameter set names, digests, signature algorithms by name
     ├─ names ......... openssl ``-subj`` strings ↔ distinguished names
     ├─ extensions .... openssl ``-addext`` / ``-ext`` strings → X.509 extensions
     ├─ text .......... readable dumps of certificates and requests
     ├─ pkcs7 ......... the block padding of ``openssl enc``
     ├─ cmd_keys ...... genkey, pubkey
     ├─ cmd_dgst ...... dgst
     ├─ cmd_sign ...... sign, verify
     ├─ cmd_req ....... req
     ├─ cmd_x509 ...... x509
     └─ cmd_enc ....... enc, dec

Exit codes: 0 success, 1 failure (a signature that does not verify, unreadable or malformed
input), 2 usage error. Errors are one line on stderr, ``klyuch gost: ...``.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``klyuch gost`` with ``argv`` (without the program name); return the exit code."""
    import sys

    from edge.gost_cli.app import run

    return run(sys.argv[1:] if argv is None else argv)


__all__ = ["main"]

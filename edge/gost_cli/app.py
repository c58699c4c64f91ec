"""The ``klyuch gost`` parser and the one place where errors become exit codes and stderr lines."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from edge.gost_cli import cmd_dgst, cmd_enc, cmd_keys, cmd_req, cmd_sign, cmd_x509
from edge.gost_cli.errors import GostCliError
from edge.gost_cli.options import Parser
from signing.errors import InvalidSignatureError, SigningError

PROG = "klyuch gost"
COMMANDS = ("genkey", "pubkey", "dgst", "sign", "verify", "req", "x509", "enc", "dec")
"""Every subcommand, in the order of ``--help``."""

Handler = Callable[[argparse.Namespace], int]

DESCRIPTION = """\
An openssl-like GOST tool that needs no engine configuration: keys, digests, raw signatures,
requests, certificates and ciphers (GOST R 34.10/34.11-2012, Kuznyechik, Magma; ECDSA and RSA too).
Every file it writes is read by `openssl ... -engine gost` and the other way round.
Exit codes: 0 success, 1 failure (verification, bad input), 2 usage error."""


def build_parser() -> Parser:
    """The parser with every subcommand."""
    parser = Parser(prog=PROG, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(metavar="COMMAND", parser_class=Parser)
    for module in (cmd_keys, cmd_dgst, cmd_sign, cmd_req, cmd_x509, cmd_enc):
        module.register(sub)
    for name, command in sub.choices.items():
        command.prog = f"{PROG} {name}"
        command.formatter_class = argparse.RawDescriptionHelpFormatter
        command.set_defaults(command_name=name)
    return parser


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: {message}".replace("\n", " "), file=sys.stderr)
    return code


def run(argv: Sequence[str]) -> int:
    """Parse ``argv`` (without the program name), run the command, return the exit code."""
    parser = build_parser()
    try:
        args, extras = parser.parse_known_args(list(argv))
    except SystemExit as exc:  # --help ends this way
        return exc.code if isinstance(exc.code, int) else 0
    except GostCliError as exc:  # the parser's own message names the command already
        return _fail(str(exc), exc.exit_code)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        return _fail(f"a COMMAND is needed ({', '.join(COMMANDS)}); see --help", 2)
    if extras:  # reported here rather than by argparse, so the message names the subcommand
        return _fail(f"{args.command_name}: unrecognized arguments: {' '.join(extras)}", 2)
    return _run_command(handler, args, args.command_name)


def _run_command(handler: Handler, args: argparse.Namespace, name: str) -> int:
    try:
        return handler(args)
    except GostCliError as exc:
        return _fail(f"{name}: {exc}", exc.exit_code)
    except InvalidSignatureError as exc:
        return _fail(f"{name}: verification failure: {exc}", 1)
    except SigningError as exc:
        return _fail(f"{name}: {exc}", 1)
    except BrokenPipeError:
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug, or a library failure nobody wrapped: still one line, exit 1
        return _fail(f"{name}: internal error ({type(exc).__name__}): {exc}", 1)

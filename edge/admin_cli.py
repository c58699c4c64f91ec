"""``klyuch admin``: bootstrap accounts and OAuth2 clients from the operator's shell.

::

    klyuch admin create --username U [--role admin|operator|user] [--password-stdin]
                        [--display-name N] [--email E] [--phone P]
    klyuch admin set-password --username U [--password-stdin]
    klyuch admin client create --name N [--role user|operator|admin] [--user USERNAME]

``create`` makes an administrator unless ``--role`` says otherwise (it is how the first account is
made). The password is read from a terminal twice with ``getpass``, or as one line from stdin with
``--password-stdin``; an empty password is refused. ``client create`` prints the client id, the
client secret and the callback secret once. The database is opened like ``klyuch db migrate`` does:
an external DSN, or the embedded server (attached to when running, else started for the command).
"""

from __future__ import annotations

import argparse
import base64
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import trio

from actors.identity import Identity, accounts, clients
from actors.identity.accounts import AccountChanges, NewAccount
from actors.identity.errors import IdentityError
from actors.identity.principal import Role
from config import ConfigError, Settings, load_settings
from edge.logging import configure_logging
from storage import open_database
from storage.errors import NotFoundError, StorageError
from storage.repos import identity as repo

Handler = Callable[[argparse.Namespace, Settings], int]
T = TypeVar("T")


class CliError(Exception):
    """A mistake on the command line or at the prompt; printed without a traceback."""

    code = "cli_error"


def main(argv: Sequence[str], *, settings: Settings | None = None) -> int:
    """Run ``klyuch admin ARGV``; returns the exit code. ``settings`` default to ``load_settings()``."""
    args = _parser().parse_args(list(argv))
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        _parser().print_help(sys.stderr)
        return 2
    try:
        if settings is None:
            settings = load_settings()
            configure_logging(settings.logging)
        return handler(args, settings)
    except ConfigError as exc:
        print(f"klyuch admin: {exc}", file=sys.stderr)
        return 2
    except (CliError, IdentityError, NotFoundError) as exc:
        print(f"klyuch admin: {exc}", file=sys.stderr)
        return 1
    except StorageError as exc:
        print(f"klyuch admin: storage: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="klyuch admin", description="accounts and OAuth2 clients")
    sub = parser.add_subparsers(metavar="ACTION")

    create = sub.add_parser(
        "create", help="create an account (an administrator unless --role says otherwise)"
    )
    create.add_argument("--username", required=True)
    create.add_argument("--role", choices=[r.value for r in Role], default=Role.ADMIN.value)
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password as one line of stdin"
    )
    create.add_argument("--display-name")
    create.add_argument("--email")
    create.add_argument("--phone")
    create.set_defaults(handler=_create_user)

    password = sub.add_parser("set-password", help="set (reset) an account's password; ends its sessions")
    password.add_argument("--username", required=True)
    password.add_argument(
        "--password-stdin", action="store_true", help="read the password as one line of stdin"
    )
    password.set_defaults(handler=_set_password)

    client = sub.add_parser("client", help="OAuth2 clients").add_subparsers(metavar="ACTION")
    client_create = client.add_parser("create", help="register a client; prints its secrets once")
    client_create.add_argument("--name", required=True)
    client_create.add_argument("--role", choices=[r.value for r in Role], default=Role.USER.value)
    client_create.add_argument("--user", metavar="USERNAME", help="bind the client to this account")
    client_create.set_defaults(handler=_create_client)
    return parser


def _create_user(args: argparse.Namespace, settings: Settings) -> int:
    accounts.check_username(args.username)
    new = NewAccount(
        username=args.username,
        role=Role(args.role),
        password=read_password(from_stdin=args.password_stdin),
        display_name=args.display_name,
        email=args.email,
        phone=args.phone,
    )

    async def run(identity: Identity) -> repo.UserRow:
        return await accounts.create_account(identity, None, new)

    user = _with_identity(settings, run)
    print(f"created {user.role} {user.username} ({user.id})")
    return 0


def _set_password(args: argparse.Namespace, settings: Settings) -> int:
    password = read_password(from_stdin=args.password_stdin)

    async def run(identity: Identity) -> repo.UserRow:
        user = await _user_named(identity, args.username)
        return await accounts.update_account(identity, None, user.id, AccountChanges(password=password))

    user = _with_identity(settings, run)
    print(f"password set for {user.username} ({user.id}); its sessions were ended")
    return 0


@dataclass(frozen=True, slots=True)
class _ClientRequest:
    name: str
    role: Role
    username: str | None


def _create_client(args: argparse.Namespace, settings: Settings) -> int:
    wanted = _ClientRequest(args.name, Role(args.role), args.user)

    async def run(identity: Identity) -> clients.IssuedClient:
        user_id = (await _user_named(identity, wanted.username)).id if wanted.username else None
        return await clients.create_client(
            identity, None, name=wanted.name, role=wanted.role, user_id=user_id
        )

    issued = _with_identity(settings, run)
    callback = base64.urlsafe_b64encode(issued.callback_secret).decode().rstrip("=")
    print(f"client_id: {issued.client.client_id}")
    print(f"client_secret: {issued.client_secret}")
    print(f"callback_secret: {callback}")
    print("store both secrets now: they are not shown again", file=sys.stderr)
    return 0


def read_password(*, from_stdin: bool) -> str:
    """The new password: one stdin line, or typed twice at a terminal; never empty."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat the password: ") != password:
            raise CliError("the passwords differ")
    else:
        raise CliError("stdin is not a terminal: use --password-stdin and write the password to stdin")
    if not password:
        raise CliError("the password must not be empty")
    return password


async def _user_named(identity: Identity, username: str) -> repo.UserRow:
    user = await identity.db.run_readonly(repo.find_user, username)
    if user is None:
        raise NotFoundError(f"no account named {username!r}")
    return user


def _with_identity(settings: Settings, work: Callable[[Identity], Awaitable[T]]) -> T:
    """Open the database, build an ``Identity`` on it, run ``work`` in a fresh trio run."""

    async def run() -> T:
        async with open_database(settings) as db:
            return await work(Identity.create(settings, db))

    return trio.run(run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

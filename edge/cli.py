"""The ``klyuch`` command line: it only parses arguments and wires the parts together."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from config import ConfigError, Settings, load_settings
from config.display import render_settings
from edge.logging import configure_logging
from storage.errors import StorageError

Command = Callable[[argparse.Namespace, list[str]], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``klyuch`` command line; returns the process exit code."""
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    command: Command | None = getattr(args, "command", None)
    if command is None:
        parser.print_help()
        return 2
    if rest and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return command(args, rest)
    except ConfigError as exc:
        print(f"klyuch: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"klyuch: storage: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="klyuch", description="Klyuch electronic signature server")
    parser.add_argument("--config", type=Path, help="TOML configuration file (default: $KLYUCH_CONFIG)")
    sub = parser.add_subparsers(metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the server (embedded PostgreSQL unless a DSN is configured)")
    serve.add_argument("--host", help="address to bind (server.host)")
    serve.add_argument("--port", help="port to bind (server.port)")
    serve.add_argument("--workers", help="worker processes (server.workers)")
    serve.set_defaults(command=_serve)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(metavar="ACTION")
    db.add_parser("migrate", help="apply pending SQL migrations").set_defaults(command=_db_migrate)

    cfg = sub.add_parser("config", help="configuration").add_subparsers(metavar="ACTION")
    cfg.add_parser("show", help="print the effective configuration, secrets masked").set_defaults(
        command=_config_show
    )

    admin = sub.add_parser(
        "admin", help="accounts and OAuth2 clients (see `klyuch admin --help`)", add_help=False
    )
    admin.set_defaults(command=_admin, passthrough=True)

    device = sub.add_parser(
        "device", help="reference confirmation device (see `klyuch device --help`)", add_help=False
    )
    device.set_defaults(command=_device, passthrough=True)

    unit = sub.add_parser("hsm-unit", help="run one HSM unit process (started by the server)", add_help=False)
    unit.set_defaults(command=_hsm_unit, passthrough=True)

    gost = sub.add_parser("gost", help="openssl-like GOST tool (see `klyuch gost --help`)", add_help=False)
    gost.set_defaults(command=_gost, passthrough=True)

    bench = sub.add_parser(
        "bench", help="run a benchmark scenario (see `klyuch bench --help`)", add_help=False
    )
    bench.set_defaults(command=_bench, passthrough=True)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    # Command-line overrides travel as environment variables so hypercorn's spawned workers see them too.
    for flag, env in (
        ("host", "KLYUCH_SERVER__HOST"),
        ("port", "KLYUCH_SERVER__PORT"),
        ("workers", "KLYUCH_SERVER__WORKERS"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            os.environ[env] = str(value)
    if args.config is not None:
        os.environ["KLYUCH_CONFIG"] = str(args.config.resolve())
    settings = load_settings()
    configure_logging(settings.logging)
    return settings


def _serve(args: argparse.Namespace, _rest: list[str]) -> int:
    from edge.server import serve

    return serve(_settings(args))


def _db_migrate(args: argparse.Namespace, _rest: list[str]) -> int:
    from edge.server import migrate_only

    for version in migrate_only(_settings(args)):
        print(f"applied {version}")
    return 0


def _config_show(args: argparse.Namespace, _rest: list[str]) -> int:
    print(render_settings(_settings(args)))
    return 0


def _bench(_args: argparse.Namespace, rest: list[str]) -> int:
    import bench

    return bench.main(rest)


def _gost(_args: argparse.Namespace, rest: list[str]) -> int:
    from edge.gost_cli import main as gost_main

    return gost_main(rest)


def _hsm_unit(_args: argparse.Namespace, rest: list[str]) -> int:
    from actors.hsm.unit import main as unit_main

    return unit_main(rest)


def _admin(args: argparse.Namespace, rest: list[str]) -> int:
    from edge.admin_cli import main as admin_main

    return admin_main(rest, settings=_settings(args))


def _device(_args: argparse.Namespace, rest: list[str]) -> int:
    from edge.device_cli import main as device_main

    return device_main(rest)

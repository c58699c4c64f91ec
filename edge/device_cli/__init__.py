"""``klyuch device``: the reference device client, playing the mobile app.

Modules:
  commands  enroll (QR payload or PNG → state file, first connection), listen, confirm / decline
  client    ``DeviceClient``: handshake, operations, MACed decisions over a websocket
  websocket a small RFC 6455 client for ``ws://`` (one task per connection, no reader task);
            ``wss://`` goes through trio-websocket
  state     the state file (server URL, device id, secret; mode 0600)

Usage::

    klyuch device enroll --qr-payload 'klyuch://enroll?u=...&d=...&k=...' [--state FILE]
    klyuch device enroll --qr-png qr.png                       (needs zbarimg from zbar-tools)
    klyuch device listen [--auto confirm|decline] [--count N]  (JSON lines on stdout)
    klyuch device confirm OP_ID   |   klyuch device decline OP_ID
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from uuid import UUID

import trio

from actors.sessions.protocol import Decision
from edge.device_cli import commands
from edge.device_cli.state import DeviceState, default_state_path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="klyuch device", description="Reference confirmation device")
    parser.add_argument(
        "--state",
        type=Path,
        help="state file (default: $KLYUCH_DEVICE_STATE or ~/.config/klyuch/device.json)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds for connecting / waiting (10)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    enroll = sub.add_parser("enroll", help="store an enrolment (QR code) and connect once to activate")
    source = enroll.add_mutually_exclusive_group(required=True)
    source.add_argument("--qr-payload", help="the klyuch://enroll?... text of the QR code")
    source.add_argument("--qr-png", type=Path, help="a PNG of the QR code (decoded with zbarimg)")
    enroll.add_argument("--no-activate", action="store_true", help="only store it; do not connect")

    listen = sub.add_parser("listen", help="print operations as JSON lines; --auto answers them")
    listen.add_argument("--auto", choices=[d.value for d in Decision], help="decide every operation so")
    listen.add_argument("--count", type=int, help="exit after this many operations (with --auto: outcomes)")

    for name in ("confirm", "decline"):
        one = sub.add_parser(name, help=f"{name} one operation shown to this device")
        one.add_argument("op_id", type=UUID, help="the operation id")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``klyuch device``; returns the exit status (0 ok, 1 failed, 2 usage, 3 decision rejected)."""
    args = _parser().parse_args(argv)
    state_path: Path = args.state or default_state_path()
    if args.action == "enroll":
        if args.qr_png is not None:
            try:
                payload = commands.read_png_payload(args.qr_png)
            except ValueError as exc:
                return commands.fail(str(exc))
        else:
            payload = args.qr_payload
        return trio.run(
            lambda: commands.enroll(
                payload, state_path, activate=not args.no_activate, timeout_s=args.timeout
            )
        )
    try:
        state = DeviceState.load(state_path)
    except (OSError, ValueError) as exc:
        return commands.fail(f"no usable device state ({exc}); run `klyuch device enroll` first")
    if args.action == "listen":
        auto = None if args.auto is None else Decision(args.auto)
        return trio.run(lambda: commands.listen(state, auto=auto, count=args.count, timeout_s=args.timeout))
    decision = Decision.CONFIRM if args.action == "confirm" else Decision.DECLINE
    return trio.run(lambda: commands.decide_one(state, args.op_id, decision, timeout_s=args.timeout))

"""Resolve a callback host at delivery time and apply the address policy to every address.

The dispatcher then connects to the address checked here (``delivery``), never resolving the name a
second time: a DNS answer cannot change between the check and the connection (rebinding).
"""

from __future__ import annotations

import ipaddress
import socket

import trio

from actors.callbacks.policy import CallbackTarget, IPAddress, address_allowed
from config.settings import CallbackSettings


class AddressRefusedError(Exception):
    """The host resolves (at least partly) to an address the policy refuses."""


class ResolutionError(Exception):
    """The host did not resolve (transient as far as the dispatcher knows)."""


async def resolve_target(target: CallbackTarget, settings: CallbackSettings) -> list[IPAddress]:
    """The addresses to try, in resolver order; every address of the name must be allowed, or none is."""
    if target.address is not None:
        addresses = [target.address]
    else:
        try:
            infos = await trio.socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except OSError as exc:  # socket.gaierror included
            raise ResolutionError(type(exc).__name__) from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
        if not addresses:
            raise ResolutionError("no address")
    # A name with one public and one private address is refused outright: which one a client
    # would pick is not ours to predict, and an attacker would list both.
    if not all(address_allowed(address, settings) for address in addresses):
        raise AddressRefusedError(target.host)
    return addresses

"""The server a run loads: a parsed ``http://`` URL that must resolve to loopback addresses only.

The harness generates heavy load; pointing it at another machine by mistake would be an attack, so
``--url`` is refused unless its host is ``localhost``, an address in 127.0.0.0/8 or ``::1``, and every
address it resolves to is loopback as well.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench.errors import NotLoopbackError, UsageError


@dataclass(frozen=True, slots=True)
class Target:
    """Where requests go."""

    url: str
    """Base URL as given (no trailing slash)."""
    address: tuple[str, int]
    """Resolved socket address to connect to."""
    family: int
    """``socket.AF_INET`` or ``socket.AF_INET6``."""
    host_header: str
    """Value of the ``Host`` header."""
    base_path: str
    """Path prefix from the URL, prepended to every request path (usually empty)."""


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or literal address) is loopback by its spelling alone."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def parse_target(url: str) -> Target:
    """Check and resolve ``url``; raise ``NotLoopbackError`` for any host off this machine."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise UsageError(f"only plain http:// URLs are supported, got {url!r}")
    host = parts.hostname
    if not host:
        raise UsageError(f"URL has no host: {url!r}")
    if not is_loopback_host(host):
        raise NotLoopbackError(
            f"refusing to load {host!r}: only loopback hosts (127.0.0.0/8, ::1, localhost)"
        )
    try:
        port = parts.port or 80
    except ValueError:
        raise UsageError(f"bad port in URL {url!r}") from None
    family, address = _resolve_loopback(host.rstrip(".").lower(), port)
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(
        url=url.rstrip("/"),
        address=address,
        family=family,
        host_header=host_header,
        base_path=parts.path.rstrip("/"),
    )


def _resolve_loopback(host: str, port: int) -> tuple[int, tuple[str, int]]:
    """The first resolved address; every resolved address must be loopback (``/etc/hosts`` can lie)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"cannot resolve {host!r}: {exc}") from None
    for _, _, _, _, sockaddr in infos:
        if not is_loopback_host(str(sockaddr[0])):
            raise NotLoopbackError(f"{host!r} resolves to {sockaddr[0]}, which is not loopback")
    family, _, _, _, sockaddr = infos[0]
    return int(family), (str(sockaddr[0]), int(sockaddr[1]))

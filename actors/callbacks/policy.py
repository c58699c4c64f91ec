"""Where callbacks may go: URL syntax, host allow-list, and the address policy against SSRF.

A callback URL comes from an API caller and is fetched by the server, so it is a request forgery
vector (SSRF): a caller could aim it at the metadata service of a cloud, at PostgreSQL on loopback,
or at an intranet host. Two checks, the same policy:

* at request time, ``validate_callback_url`` refuses what the URL itself shows (scheme, credentials,
  an IP literal or a special-use name in a refused range, a host off the allow-list, numeric host forms
  such as ``0x7f000001`` or ``127.1`` that resolvers turn into addresses);
* at delivery time the dispatcher resolves the host itself, checks **every** address with
  ``address_allowed`` and connects to the address it checked (``actors.callbacks.delivery``), so a
  name that resolves to a refused address (or is re-pointed there later: DNS rebinding) is refused.

Refused unless ``allow_private_targets``: every address that is not globally reachable (loopback,
RFC 1918, link-local, CGNAT, unique-local, documentation, reserved, unspecified, broadcast), multicast,
and IPv6 forms that embed such an IPv4 address (IPv4-mapped, 6to4, NAT64 ``64:ff9b::/96``).
Redirects are never followed, so a 3xx cannot lead a delivery elsewhere.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from actors.callbacks.errors import InvalidCallbackUrlError
from config.settings import CallbackSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = {"http": 80, "https": 443}
"""Accepted schemes and their default ports."""

SPECIAL_USE_SUFFIXES = (
    "localhost",
    "local",
    "localdomain",
    "internal",
    "intranet",
    "lan",
    "home",
    "home.arpa",
    "corp",
    "test",
    "invalid",
    "example",
    "onion",
)
"""Name suffixes that never name a public internet host (RFC 6761, RFC 6762, RFC 8375, common practice)."""

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class CallbackTarget:
    """A parsed callback URL."""

    scheme: str
    """``http`` or ``https``."""
    host: str
    """Lower-case host name without a trailing dot, or an IP address literal (IPv6 without brackets)."""
    port: int
    """Explicit port or the scheme's default."""
    address: IPAddress | None
    """The address when the host is an IP literal."""


def validate_callback_url(url: str, settings: CallbackSettings) -> str:
    """Return ``url`` when the policy accepts it, else raise ``InvalidCallbackUrlError``.

    Checks only what the URL shows (no name resolution, so it is cheap at request time); the
    dispatcher applies the same address policy to the resolved addresses of every delivery.
    """
    target = parse_callback_url(url, settings)
    _check_host_allowed(target, settings)
    return url


def parse_callback_url(url: str, settings: CallbackSettings) -> CallbackTarget:
    """Parse and check the syntax of a callback URL (scheme, credentials, host form, port)."""
    if len(url) > settings.max_url_length:
        raise InvalidCallbackUrlError(
            "too_long", f"callback_url is longer than {settings.max_url_length} characters"
        )
    if not url.isascii() or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise InvalidCallbackUrlError(
            "malformed", "callback_url must be ASCII without spaces or control characters (use punycode)"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidCallbackUrlError("malformed", f"callback_url is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise InvalidCallbackUrlError("scheme", "callback_url must use http or https")
    if "@" in parts.netloc:
        raise InvalidCallbackUrlError(
            "credentials", "callback_url must not carry credentials (user:password@)"
        )
    if parts.fragment or url.endswith("#"):
        raise InvalidCallbackUrlError("fragment", "callback_url must not have a fragment")
    if port == 0:
        raise InvalidCallbackUrlError("port", "callback_url port must be between 1 and 65535")
    host = (parts.hostname or "").removesuffix(".")
    address = _ip_literal(host, parts.netloc)
    if address is None:
        _check_dns_name(host)
    return CallbackTarget(scheme, host, port or SCHEMES[scheme], address)


def address_allowed(address: IPAddress, settings: CallbackSettings) -> bool:
    """True when a delivery may connect to ``address`` under the settings' address policy."""
    return settings.allow_private_targets or is_public_address(address)


def is_public_address(address: IPAddress) -> bool:
    """True for a globally reachable unicast address (embedded IPv4 of mapped/6to4/NAT64 included)."""
    if address.is_multicast or not address.is_global:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
        if address.teredo is not None:
            return is_public_address(address.teredo[1])
    return True


def host_on_allow_list(host: str, allowed: tuple[str, ...]) -> bool:
    """True when ``allowed`` is empty, names ``host`` exactly, or has ``.domain`` covering it."""
    if not allowed:
        return True
    for entry in (a.lower().removesuffix(".") for a in allowed):
        if entry.startswith("."):
            if host == entry[1:] or host.endswith(entry):
                return True
        elif host == entry:
            return True
    return False


def _ip_literal(host: str, netloc: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and "[" not in netloc:
        raise InvalidCallbackUrlError("malformed", "an IPv6 host must be in brackets")
    if address.version == 6 and address.scope_id:
        raise InvalidCallbackUrlError("host", "callback_url must not name an IPv6 zone")
    return address


def _check_dns_name(host: str) -> None:
    if not host:
        raise InvalidCallbackUrlError("host", "callback_url has no host")
    if len(host) > 253:
        raise InvalidCallbackUrlError("host", "callback_url host name is longer than 253 characters")
    labels = host.split(".")
    if not all(_LABEL.match(label) for label in labels):
        raise InvalidCallbackUrlError("host", "callback_url host is not a valid DNS name")
    # A last label that is numeric or hexadecimal would be read as an address by inet_aton
    # ("127.1", "0x7f000001", "2130706433"): such hosts are refused outright.
    if not _TLD.match(labels[-1]):
        raise InvalidCallbackUrlError(
            "host", "callback_url host must be a DNS name or a canonical IP address"
        )


def _check_host_allowed(target: CallbackTarget, settings: CallbackSettings) -> None:
    if not host_on_allow_list(target.host, settings.allowed_hosts):
        raise InvalidCallbackUrlError(
            "not_allowed", f"callback_url host {target.host!r} is not on the allow-list"
        )
    if settings.allow_private_targets:
        return
    if target.address is not None and not is_public_address(target.address):
        raise InvalidCallbackUrlError(
            "private_address", "callback_url must not target a loopback, private or reserved address"
        )
    if target.address is None and _special_use(target.host):
        raise InvalidCallbackUrlError(
            "private_address", "callback_url must not target a local or special-use name"
        )


def _special_use(host: str) -> bool:
    if "." not in host:
        return True  # a single label resolves through search domains: an intranet name
    return any(host == suffix or host.endswith("." + suffix) for suffix in SPECIAL_USE_SUFFIXES)

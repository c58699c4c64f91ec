"""The URL and address policy (SSRF), checked without a network."""

from __future__ import annotations

import ipaddress

import pytest

from actors.callbacks import InvalidCallbackUrlError, require_callback_client, validate_callback_url
from actors.callbacks.errors import CallbackClientRequiredError
from actors.callbacks.policy import CallbackTarget, is_public_address, parse_callback_url
from actors.callbacks.resolve import AddressRefusedError, resolve_target
from config.settings import CallbackSettings

STRICT = CallbackSettings()
"""Production defaults: public targets only."""
LOOPBACK_OK = CallbackSettings(allow_private_targets=True)
"""What the tests' loopback receiver needs."""


@pytest.mark.parametrize(
    "url",
    [
        "https://erp.example.com/klyuch/callback",
        "http://erp.example.com:8443/cb?token=abc&x=1",
        "https://8.8.8.8/cb",
        "https://[2001:4860:4860::8888]:443/cb",
        "https://xn--80ak6aa92e.xn--p1ai/cb",
        "HTTPS://ERP.Example.COM./cb",
    ],
)
def test_public_urls_are_accepted(url: str) -> None:
    assert validate_callback_url(url, STRICT) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/x", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://example.com:70/", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("https://user:pass@example.com/cb", "credentials"),
        ("https://token@example.com/cb", "credentials"),
        ("https://example.com@127.0.0.1/cb", "credentials"),
        ("https://example.com/cb#frag", "fragment"),
        ("https://example.com:0/cb", "port"),
        ("https://example.com:99999/cb", "malformed"),
        ("https://exa mple.com/cb", "malformed"),
        ("https://example.com/\r\nX-Injected: 1", "malformed"),
        ("https://пример.рф/cb", "malformed"),
        ("https:///cb", "host"),
        ("https://-bad-.example.com/", "host"),
        ("https://exa_mple.com/", "host"),
        ("http://127.0.0.1/cb", "private_address"),
        ("http://127.0.0.1:5432/", "private_address"),
        ("http://10.1.2.3/cb", "private_address"),
        ("http://172.16.0.1/cb", "private_address"),
        ("http://192.168.1.1/cb", "private_address"),
        ("http://169.254.169.254/latest/meta-data/", "private_address"),
        ("http://100.64.0.1/cb", "private_address"),
        ("http://0.0.0.0/cb", "private_address"),
        ("http://255.255.255.255/", "private_address"),
        ("http://224.0.0.1/", "private_address"),
        ("http://[::1]/cb", "private_address"),
        ("http://[::]/cb", "private_address"),
        ("http://[fe80::1]/cb", "private_address"),
        ("http://[fc00::1]/cb", "private_address"),
        ("http://[::ffff:127.0.0.1]/cb", "private_address"),
        ("http://[::ffff:169.254.169.254]/cb", "private_address"),
        ("http://[64:ff9b::a9fe:a9fe]/cb", "private_address"),
        ("http://[2002:7f00:1::]/cb", "private_address"),
        ("http://localhost/cb", "private_address"),
        ("http://LOCALHOST./cb", "private_address"),
        ("http://api.localhost/cb", "private_address"),
        ("http://printer.local/cb", "private_address"),
        ("http://db.internal/cb", "private_address"),
        ("http://router.home.arpa/cb", "private_address"),
        ("http://intranet/cb", "private_address"),
        ("http://2130706433/cb", "host"),
        ("http://0x7f000001/cb", "host"),
        ("http://127.1/cb", "host"),
        ("http://0177.0.0.1/cb", "host"),
        ("http://127.000.000.001/cb", "host"),
    ],
)
def test_refused_urls(url: str, reason: str) -> None:
    with pytest.raises(InvalidCallbackUrlError) as caught:
        validate_callback_url(url, STRICT)
    assert caught.value.reason == reason
    assert caught.value.code == "invalid_callback_url"


def test_length_limit() -> None:
    settings = CallbackSettings(max_url_length=40)
    assert validate_callback_url("https://example.com/" + "a" * 20, settings)
    with pytest.raises(InvalidCallbackUrlError) as caught:
        validate_callback_url("https://example.com/" + "a" * 21, settings)
    assert caught.value.reason == "too_long"


def test_loopback_only_when_the_setting_allows_it() -> None:
    for url in ("http://127.0.0.1:8080/cb", "http://[::1]:8080/cb", "http://localhost:8080/cb"):
        with pytest.raises(InvalidCallbackUrlError):
            validate_callback_url(url, STRICT)
        assert validate_callback_url(url, LOOPBACK_OK) == url
    # The setting never relaxes the syntax rules.
    with pytest.raises(InvalidCallbackUrlError):
        validate_callback_url("http://0x7f000001/cb", LOOPBACK_OK)
    with pytest.raises(InvalidCallbackUrlError):
        validate_callback_url("http://u:p@127.0.0.1/cb", LOOPBACK_OK)


def test_allow_list() -> None:
    settings = CallbackSettings(allowed_hosts=("hooks.example.com", ".partner.ru", "8.8.8.8"))
    for url in (
        "https://hooks.example.com/cb",
        "https://partner.ru/cb",
        "https://a.b.partner.ru/cb",
        "https://8.8.8.8/cb",
    ):
        assert validate_callback_url(url, settings) == url
    for url in ("https://example.com/cb", "https://evilpartner.ru/cb", "https://hooks.example.com.evil.io/"):
        with pytest.raises(InvalidCallbackUrlError) as caught:
            validate_callback_url(url, settings)
        assert caught.value.reason == "not_allowed"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("::ffff:8.8.8.8", True),
        ("127.0.0.1", False),
        ("198.51.100.7", False),
        ("ff02::1", False),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::808:808", True),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo around 127.0.0.1
    ],
)
def test_address_classification(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


async def test_resolution_checks_every_address() -> None:
    target = parse_callback_url("http://localhost:9/cb", STRICT)
    with pytest.raises(AddressRefusedError):
        await resolve_target(target, STRICT)
    assert all(address.is_loopback for address in await resolve_target(target, LOOPBACK_OK))
    literal = CallbackTarget("http", "127.0.0.1", 9, ipaddress.ip_address("127.0.0.1"))
    with pytest.raises(AddressRefusedError):
        await resolve_target(literal, STRICT)


def test_callbacks_need_a_client() -> None:
    assert require_callback_client("kc-1") == "kc-1"
    with pytest.raises(CallbackClientRequiredError) as caught:
        require_callback_client(None)
    assert caught.value.code == "callback_client_required"


@pytest.mark.parametrize(
    "changes",
    [{"backoff_base_s": 10.0, "backoff_cap_s": 5.0}, {"lease_s": 5.0, "request_timeout_s": 5.0}],
)
def test_impossible_settings_are_refused(changes: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        CallbackSettings.model_validate(changes)

"""The loopback-only rule for ``--url``."""

from __future__ import annotations

import socket

import pytest

from bench.errors import NotLoopbackError, UsageError
from bench.target import is_loopback_host, parse_target


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.3.4.5:1/",
        "http://localhost:9000",
        "http://LOCALHOST.:9000",
        "http://[::1]:8080",
        "http://[::ffff:127.0.0.1]:8080",
    ],
)
def test_loopback_urls_are_accepted(url: str) -> None:
    target = parse_target(url)
    assert is_loopback_host(target.address[0])
    assert target.family in (socket.AF_INET, socket.AF_INET6)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1:8080",
        "http://192.168.1.10",
        "http://0.0.0.0:8080",
        "http://[::]:8080",
        "http://[::ffff:8.8.8.8]:80",
        "http://example.com",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
    ],
)
def test_other_hosts_are_refused_without_resolving(url: str) -> None:
    with pytest.raises(NotLoopbackError) as info:
        parse_target(url)
    assert info.value.code == "bench_url_not_loopback"


@pytest.mark.parametrize("url", ["https://127.0.0.1", "ftp://127.0.0.1", "http://", "127.0.0.1:80"])
def test_unsupported_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError):
        parse_target(url)


def test_base_path_and_host_header_are_kept() -> None:
    target = parse_target("http://127.0.0.1:8123/prefix/")
    assert target.base_path == "/prefix"
    assert target.host_header == "127.0.0.1:8123"
    assert target.address == ("127.0.0.1", 8123)

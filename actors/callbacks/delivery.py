"""One delivery attempt: key, body, address check, signed POST to the checked address, verdict.

``Deliverer.attempt`` never raises for the receiver's behaviour: every failure becomes an
``Outcome``. It sends to the resolved address (``resolve``) with the URL's own ``Host`` header and,
for https, the host name as SNI and for certificate verification, so TLS checks the real name while
the connection goes where the policy allowed. Proxies from the environment are ignored (they would
bypass the address policy); redirects are not followed; the response body is never read.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import trio

from actors.callbacks import outcome
from actors.callbacks.backoff import parse_retry_after
from actors.callbacks.errors import InvalidCallbackUrlError
from actors.callbacks.keys import CallbackKeys
from actors.callbacks.policy import CallbackTarget, IPAddress, host_on_allow_list, parse_callback_url
from actors.callbacks.resolve import AddressRefusedError, ResolutionError, resolve_target
from actors.callbacks.wire import render
from config.settings import CallbackSettings
from storage.errors import StorageError
from storage.repos.callbacks import DeliveryRow

Outcome = outcome.Outcome


def new_http_client(settings: CallbackSettings) -> httpx.AsyncClient:
    """The HTTP client of one dispatcher (trio-compatible through httpcore's trio backend)."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(settings.request_timeout_s),
        limits=httpx.Limits(
            max_connections=settings.max_concurrent, max_keepalive_connections=settings.max_concurrent
        ),
    )


class Deliverer:
    """Makes attempts with one HTTP client, one key source and one settings section."""

    def __init__(self, client: httpx.AsyncClient, keys: CallbackKeys, settings: CallbackSettings) -> None:
        self._client = client
        self._keys = keys
        self._settings = settings

    async def attempt(self, row: DeliveryRow) -> Outcome:
        """Try to deliver ``row`` (attempt number ``row.attempts``) within ``request_timeout_s``."""
        try:
            secret = await self._keys.key_for(row.client_id)
        except StorageError:
            return outcome.retry("key_lookup_failed")
        if secret is None:
            return outcome.dead("no_callback_secret")
        try:
            target = parse_callback_url(row.url, self._settings)
        except InvalidCallbackUrlError as exc:
            return outcome.dead(f"invalid_url_{exc.reason}")
        if not host_on_allow_list(target.host, self._settings.allowed_hosts):
            return outcome.dead("host_not_allowed")
        signed = render(row, secret=secret, now=datetime.now(UTC))
        if len(signed.body) > self._settings.max_payload_bytes:
            return outcome.dead("payload_too_large")
        with trio.move_on_after(self._settings.request_timeout_s):
            return await self._send(row.url, target, signed.body, signed.headers)
        return outcome.retry("timeout")

    async def _send(self, url: str, target: CallbackTarget, body: bytes, headers: dict[str, str]) -> Outcome:
        try:
            addresses = await resolve_target(target, self._settings)
        except AddressRefusedError:
            return outcome.dead("address_refused")
        except ResolutionError as exc:
            return outcome.retry(f"dns_error_{exc}")
        result = outcome.retry("connect_error")
        for address in addresses:  # e.g. ::1 then 127.0.0.1: the next one only if connecting failed
            result = await self._post(self._pinned_request(url, target, address, body, headers))
            if result.error != "connect_error":
                break
        return result

    async def _post(self, request: httpx.Request) -> Outcome:
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException:
            return outcome.retry("timeout")
        except httpx.ConnectError:
            return outcome.retry("connect_error")
        except httpx.TransportError as exc:
            return outcome.retry(f"transport_{type(exc).__name__}")
        try:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now=time.time())
            return outcome.classify_status(response.status_code, retry_after_s=retry_after)
        finally:
            await response.aclose()  # the body is never read: a receiver cannot make us download

    def _pinned_request(
        self, url: str, target: CallbackTarget, address: IPAddress, body: bytes, headers: dict[str, str]
    ) -> httpx.Request:
        original = httpx.URL(url)
        host_header = original.netloc.decode("ascii")
        pinned = original.copy_with(host=str(address))
        extensions = {}
        if target.scheme == "https" and target.address is None:
            extensions["sni_hostname"] = target.host
        return self._client.build_request(
            "POST", pinned, content=body, headers={**headers, "Host": host_header}, extensions=extensions
        )

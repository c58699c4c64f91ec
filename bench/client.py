"""``BenchClient``: the convenient side of the HTTP client, for scenario set-up and readiness probes.

Load phases do not use it (they hold a ``Connection`` each and pre-encoded requests); ``prepare``
steps do, to create users, keys or tokens before the measured part begins.
"""

from __future__ import annotations

import json as jsonlib

import trio

from bench.http1 import Connection, Response, encode_request
from bench.scenario import Request
from bench.target import Target


class BenchClient:
    """Sequential requests over one keep-alive connection to ``target``."""

    def __init__(self, target: Target, *, timeout_s: float = 10.0) -> None:
        self.target = target
        self._timeout_s = timeout_s
        self._conn = Connection(target.address, target.family)

    def encode(self, request: Request) -> bytes:
        """The wire bytes of ``request`` for this target (base path and ``Host`` applied)."""
        return encode_request(
            request.method,
            self.target.base_path + request.path,
            host=self.target.host_header,
            body=request.body,
            headers=request.headers,
        )

    async def send(self, request: Request) -> Response:
        """Send one ``Request``; raises ``trio.TooSlowError`` after the client's timeout."""
        with trio.fail_after(self._timeout_s):
            return await self._conn.roundtrip(self.encode(request))

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Response:
        """Send a request, JSON-encoding ``json`` as the body when given."""
        body = b""
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":")).encode()
            headers = (("Content-Type", "application/json"), *headers)
        return await self.send(Request(method=method, path=path, body=body, headers=headers))

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

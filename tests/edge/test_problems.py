"""Every error leaves the edge as RFC 9457 problem+json, over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from quart import Blueprint

from config import load_settings
from edge.app import create_app
from signing.errors import InvalidInputError

PROBLEM = "application/problem+json"


def _app_with_failing_routes(max_body: int = 4096) -> Any:
    app = create_app(load_settings(limits={"max_body_bytes": max_body}), with_services=False)
    failing = Blueprint("failing", __name__)

    @failing.get("/boom")
    async def boom() -> str:
        raise RuntimeError("secret internals /etc/passwd")

    @failing.get("/bad-crypto")
    async def bad_crypto() -> str:
        raise InvalidInputError("digest must be 32 bytes, got 7")

    app.register_blueprint(failing)
    return app


@pytest.fixture
async def base_url(serve_app: Any) -> str:
    url: str = await serve_app(_app_with_failing_routes())
    return url


async def test_unknown_route_is_404_problem(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 404
    assert body["code"] == "not_found"
    assert body["type"] == "urn:klyuch:problem:not_found"


async def test_validation_error_is_422_naming_fields(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/api/v1/echo", json=[1, 2, 3])
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["errors"], body


async def test_malformed_json_is_a_client_error(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/api/v1/echo", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == PROBLEM


async def test_body_too_large_is_413(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/api/v1/echo", json={"blob": "x" * 10_000})
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


async def test_unexpected_error_is_generic_500_without_internals(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert "passwd" not in response.text
    assert "Traceback" not in response.text


async def test_layer_error_maps_through_the_table(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get("/bad-crypto")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_input"
    assert body["detail"] == "digest must be 32 bytes, got 7"


async def test_request_id_is_echoed_or_made(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        made = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert given.headers["X-Request-ID"] == "abc-123"
    assert made.headers["X-Request-ID"] != "bad id with spaces"
    assert len(made.headers["X-Request-ID"]) == 32


async def test_echo_returns_the_object(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/api/v1/echo", json={"a": 1, "b": [True, None]})
    assert response.status_code == 200
    assert response.json() == {"a": 1, "b": [True, None]}


async def test_openapi_document_lists_the_routes(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/echo" in document["paths"]
    assert "/readyz" in document["paths"]

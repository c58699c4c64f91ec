"""The helpers other blueprints use: ``current_principal``, ``ensure_owner``, ``@require_role``,
``@require_auth`` (outside /api/v1) and ``@public`` — exercised through a test blueprint over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import UUID

import httpx
import pytest
from quart import Blueprint

from config.settings import Settings
from edge.auth import current_principal, ensure_owner, public, require_auth, require_role
from tests.identity.conftest import Accounts, Api, build_app


def _probe_blueprint() -> Blueprint:
    probe = Blueprint("probe", __name__)

    @probe.get("/api/v1/probe/owned/<uuid:owner>")
    async def owned(owner: UUID) -> dict[str, Any]:
        ensure_owner(owner, detail=f"thing {owner} not found")
        principal = current_principal()
        return {"user_id": str(principal.user_id), "role": principal.role.value}

    @probe.get("/api/v1/probe/admin")
    @require_role("admin")
    async def admin_only() -> dict[str, str]:
        return {"ok": "admin"}

    @probe.get("/api/v1/probe/open")
    @public
    async def open_door() -> dict[str, str]:
        return {"ok": "public"}

    @probe.get("/outside")
    @require_auth
    async def outside() -> dict[str, str]:
        return {"client_id": str(current_principal().client_id)}

    @probe.get("/outside-open")
    async def outside_open() -> dict[str, str]:
        return {"ok": "no guard outside /api/v1"}

    return probe


@pytest.fixture
async def probe_api(serve_app: Any, settings: Settings) -> AsyncIterator[Api]:
    app = build_app(settings)
    app.register_blueprint(_probe_blueprint())
    url = await serve_app(app)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield Api(client, settings)


async def test_ensure_owner(probe_api: Api, people: Accounts) -> None:
    alice = await probe_api.bearer("alice")
    own = await probe_api.client.get(f"/api/v1/probe/owned/{people.alice}", headers=alice)
    assert own.json() == {"user_id": str(people.alice), "role": "user"}
    foreign = await probe_api.client.get(f"/api/v1/probe/owned/{people.bob}", headers=alice)
    assert foreign.status_code == 404
    assert foreign.json()["detail"] == f"thing {people.bob} not found"
    assert foreign.json()["code"] == "not_found"
    operator = await probe_api.client.get(
        f"/api/v1/probe/owned/{people.bob}", headers=await probe_api.bearer("olga")
    )
    assert operator.status_code == 200


async def test_require_role_and_public(probe_api: Api, people: Accounts) -> None:
    assert (await probe_api.client.get("/api/v1/probe/admin")).status_code == 401
    assert (
        await probe_api.client.get("/api/v1/probe/admin", headers=await probe_api.bearer("olga"))
    ).status_code == 403
    assert (
        await probe_api.client.get("/api/v1/probe/admin", headers=await probe_api.bearer("admin"))
    ).status_code == 200
    assert (await probe_api.client.get("/api/v1/probe/open")).json() == {"ok": "public"}


async def test_require_auth_outside_the_api_prefix(
    probe_api: Api, people: Accounts, new_client: Callable[..., Any]
) -> None:
    assert (await probe_api.client.get("/outside-open")).status_code == 200
    assert (await probe_api.client.get("/outside")).status_code == 401
    issued = await new_client()
    token = await probe_api.token(
        grant_type="client_credentials", client_id=issued.client.client_id, client_secret=issued.client_secret
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert (await probe_api.client.get("/outside", headers=headers)).json() == {
        "client_id": issued.client.client_id
    }

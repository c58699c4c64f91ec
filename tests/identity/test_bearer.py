"""Every /api/v1 call needs a valid, unrevoked bearer token: forged, expired and revoked ones get 401."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
import pytest

from actors.identity import Identity, accounts
from actors.identity.accounts import AccountChanges
from actors.identity.principal import Role
from config.settings import Settings
from tests.identity.conftest import PASSWORD, Accounts, Api, auth, eventually, security_settings

ME = "/api/v1/users/me"


def _claims(api: Api, token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def _forge(api: Api, claims: dict[str, Any], *, key: bytes | None = None, typ: str = "at+jwt") -> str:
    return jwt.encode(claims, key or api.secret(), algorithm="HS256", headers={"typ": typ})


def _assert_invalid_token(response: Any, code: str = "token_invalid") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert body["error"] == "invalid_token"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="klyuch", error="invalid_token", error_description="')


async def test_missing_token_is_401_without_error_code(api: Api, people: Accounts) -> None:
    response = await api.client.get(ME)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="klyuch"'
    body = response.json()
    assert body["code"] == "token_missing"
    assert "error" not in body


@pytest.mark.parametrize("header", ["Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c"])
async def test_malformed_authorization_is_invalid_token(api: Api, people: Accounts, header: str) -> None:
    _assert_invalid_token(await api.client.get(ME, headers={"Authorization": header}))


async def test_public_endpoints_need_no_token(api: Api) -> None:
    assert (await api.client.get("/healthz")).status_code == 200
    assert (await api.client.post("/api/v1/echo", json={"a": 1})).json() == {"a": 1}
    assert (await api.client.get("/openapi.json")).status_code == 200


async def test_unknown_api_route_hides_behind_401(api: Api, people: Accounts) -> None:
    assert (await api.client.get("/api/v1/nowhere")).status_code == 401
    assert (await api.client.get("/api/v1/nowhere", headers=await api.bearer("alice"))).status_code == 404


async def test_forged_tokens_are_refused(api: Api, people: Accounts) -> None:
    genuine = (await api.login("alice"))["access_token"]
    claims = _claims(api, genuine)
    assert (
        await api.client.get(ME, headers=auth(_forge(api, claims)))
    ).status_code == 200  # the oracle works

    other_key = _forge(api, claims, key=b"k" * 32)
    admin_claim = _forge(api, {**claims, "role": "admin"}, key=b"k" * 32)
    wrong_audience = _forge(api, {**claims, "aud": "someone-else"})
    wrong_issuer = _forge(api, {**claims, "iss": "https://evil.example"})
    plain_jwt = _forge(api, claims, typ="JWT")
    missing_sid = _forge(api, {k: v for k, v in claims.items() if k != "sid"})
    unknown_session = _forge(api, {**claims, "sid": str(uuid.uuid4())})
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "at+jwt"}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    alg_none = f"{header.decode()}.{payload.decode()}."
    tampered = genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB")
    for token in (
        other_key,
        admin_claim,
        wrong_audience,
        wrong_issuer,
        plain_jwt,
        missing_sid,
        alg_none,
        tampered,
    ):
        _assert_invalid_token(await api.client.get(ME, headers=auth(token)))
    _assert_invalid_token(await api.client.get(ME, headers=auth(unknown_session)), "token_revoked")


async def test_expired_token_is_refused(api: Api, people: Accounts) -> None:
    claims = _claims(api, (await api.login("alice"))["access_token"])
    now = int(time.time())
    expired = _forge(api, {**claims, "iat": now - 120, "exp": now - 60})
    _assert_invalid_token(await api.client.get(ME, headers=auth(expired)), "token_expired")


async def test_short_ttl_token_expires(
    start_api: Callable[[Settings], Any], settings: Settings, people: Accounts
) -> None:
    api: Api = await start_api(security_settings(settings, access_token_ttl_s=2, token_leeway_s=0))
    token = (await api.login("alice"))["access_token"]
    assert (await api.client.get(ME, headers=auth(token))).status_code == 200
    expires = _claims(api, token)["exp"]
    time.sleep(max(0.0, expires - time.time() + 0.05))  # noqa: ASYNC251 - the in-process server may block too
    _assert_invalid_token(await api.client.get(ME, headers=auth(token)), "token_expired")


async def test_revoking_an_access_token(api: Api, people: Accounts) -> None:
    login = await api.login("alice")
    other = await api.bearer("alice")
    revoked = await api.client.post("/api/v1/auth/revoke", data={"token": login["access_token"]})
    assert revoked.status_code == 200
    _assert_invalid_token(await api.client.get(ME, headers=auth(login["access_token"])), "token_revoked")
    # Only that token: its refresh token and other sessions still work.
    refreshed = await api.token(grant_type="refresh_token", refresh_token=login["refresh_token"])
    assert refreshed.status_code == 200
    assert (await api.client.get(ME, headers=other)).status_code == 200


async def test_revoking_a_refresh_token_ends_its_session(api: Api, people: Accounts) -> None:
    login = await api.login("alice")
    response = await api.client.post(
        "/api/v1/auth/revoke", data={"token": login["refresh_token"], "token_type_hint": "refresh_token"}
    )
    assert response.status_code == 200
    refused = await api.token(grant_type="refresh_token", refresh_token=login["refresh_token"])
    assert refused.json()["error"] == "invalid_grant"
    _assert_invalid_token(await api.client.get(ME, headers=auth(login["access_token"])), "token_revoked")


async def test_revoking_unknown_tokens_is_not_an_error(api: Api, people: Accounts) -> None:
    for token in ("never-issued", "a.b.c"):
        assert (await api.client.post("/api/v1/auth/revoke", data={"token": token})).status_code == 200
    missing = await api.client.post("/api/v1/auth/revoke", data={})
    assert missing.json()["error"] == "invalid_request"


async def test_a_clients_token_is_revoked_only_by_that_client(
    api: Api, people: Accounts, new_client: Callable[..., Any]
) -> None:
    issued = await new_client()
    login = await api.login("alice", client_id=issued.client.client_id, client_secret=issued.client_secret)
    anonymous = await api.client.post("/api/v1/auth/revoke", data={"token": login["refresh_token"]})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "invalid_client"
    by_owner = await api.client.post(
        "/api/v1/auth/revoke",
        data={
            "token": login["refresh_token"],
            "client_id": issued.client.client_id,
            "client_secret": issued.client_secret,
        },
    )
    assert by_owner.status_code == 200
    _assert_invalid_token(await api.client.get(ME, headers=auth(login["access_token"])), "token_revoked")


async def test_logout_revokes_every_session_of_the_user(api: Api, people: Accounts) -> None:
    first, second = await api.login("alice"), await api.login("alice")
    bob = await api.bearer("bob")
    response = await api.client.post("/api/v1/auth/logout", headers=auth(first["access_token"]))
    assert response.status_code == 204
    for login in (first, second):
        _assert_invalid_token(await api.client.get(ME, headers=auth(login["access_token"])), "token_revoked")
        refused = await api.token(grant_type="refresh_token", refresh_token=login["refresh_token"])
        assert refused.status_code == 400
    assert (await api.client.get(ME, headers=bob)).status_code == 200
    assert (await api.client.get(ME, headers=await api.bearer("alice"))).status_code == 200  # log in again


async def test_disabling_and_demoting_take_effect_at_the_next_request(
    api: Api, people: Accounts, identity: Identity
) -> None:
    operator = await api.bearer("olga")
    alice = await api.bearer("alice")
    assert (await api.client.get("/api/v1/users", headers=operator)).status_code == 200
    assert (await api.client.get(ME, headers=alice)).status_code == 200
    # Changed by another process (the test's own pool): the app hears of it through NOTIFY.
    await accounts.update_account(identity, None, people.operator, AccountChanges(role=Role.USER))
    await eventually(lambda: _status_is(api.client.get("/api/v1/users", headers=operator), 403))
    await accounts.update_account(identity, None, people.alice, AccountChanges(disabled=True))
    await eventually(lambda: _status_is(api.client.get(ME, headers=alice), 401))
    _assert_invalid_token(await api.client.get(ME, headers=alice), "token_revoked")


async def _status_is(request: Awaitable[Any], status: int) -> bool:
    response = await request
    return bool(response.status_code == status)


async def test_revocation_reaches_every_worker(
    start_api: Callable[[Settings], Any], settings: Settings, people: Accounts
) -> None:
    # Two apps with their own pools and caches on one database stand for two worker processes.
    first: Api = await start_api(settings)
    second: Api = await start_api(settings)
    login = await first.login("alice")
    headers = auth(login["access_token"])
    for _ in range(3):  # cached on the second worker now
        assert (await second.client.get(ME, headers=headers)).status_code == 200
    assert (
        await first.client.post("/api/v1/auth/revoke", data={"token": login["access_token"]})
    ).status_code == 200
    await eventually(lambda: _status_is(second.client.get(ME, headers=headers), 401), timeout_s=2.0)
    other = auth((await second.login("alice"))["access_token"])
    assert (await second.client.get(ME, headers=other)).status_code == 200
    assert (await first.client.post("/api/v1/auth/logout", headers=other)).status_code == 204
    await eventually(lambda: _status_is(second.client.get(ME, headers=other), 401), timeout_s=2.0)


async def test_password_change_ends_other_sessions(api: Api, people: Accounts) -> None:
    current, other = await api.login("alice"), await api.login("alice")
    response = await api.client.patch(
        f"/api/v1/users/{people.alice}",
        json={"password": "a brand new password", "current_password": PASSWORD},
        headers=auth(current["access_token"]),
    )
    assert response.status_code == 200, response.text
    assert (await api.client.get(ME, headers=auth(current["access_token"]))).status_code == 200
    _assert_invalid_token(await api.client.get(ME, headers=auth(other["access_token"])), "token_revoked")
    await api.login("alice", "a brand new password")


async def test_openapi_declares_bearer_on_protected_routes_only(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    paths = document["paths"]
    assert paths["/api/v1/users"]["get"]["security"] == [{"bearerAuth": []}]
    assert paths["/api/v1/users/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert paths["/api/v1/auth/logout"]["post"]["security"] == [{"bearerAuth": []}]
    assert "security" not in paths["/api/v1/auth/token"]["post"]
    assert "security" not in paths["/api/v1/echo"]["post"]
    assert (
        "application/x-www-form-urlencoded" in paths["/api/v1/auth/token"]["post"]["requestBody"]["content"]
    )

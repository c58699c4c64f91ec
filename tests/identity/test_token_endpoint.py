"""POST /api/v1/auth/token over real HTTP: the three grants, RFC 6749 answers and errors."""

from __future__ import annotations

import base64
import statistics
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from actors.identity import Identity, accounts
from actors.identity.accounts import AccountChanges, NewAccount
from actors.identity.principal import Role
from config.settings import Settings
from storage import Database
from storage.repos import identity as repo
from tests.identity.conftest import PASSWORD, Accounts, Api, auth, security_settings

PROBLEM = "application/problem+json"


def _claims(api: Api, token: str) -> dict[str, Any]:
    security = api.settings.security
    decoded: dict[str, Any] = jwt.decode(
        token,
        api.secret(),
        algorithms=["HS256"],
        audience=security.token_audience,
        issuer=security.token_issuer,
    )
    return decoded


def _assert_oauth_problem(response: Any, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert body["status"] == status
    assert body["error_description"] == body["detail"]
    assert body["type"].startswith("urn:klyuch:problem:")
    return body


async def test_password_grant_issues_rfc6749_tokens(api: Api, people: Accounts) -> None:
    response = await api.token(grant_type="password", username="alice", password=PASSWORD)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == api.settings.security.access_token_ttl_s
    assert len(body["refresh_token"]) >= 43
    assert jwt.get_unverified_header(body["access_token"]) == {"alg": "HS256", "typ": "at+jwt"}
    claims = _claims(api, body["access_token"])
    assert claims["sub"] == str(people.alice)
    assert claims["role"] == "user"
    assert claims["exp"] - claims["iat"] == api.settings.security.access_token_ttl_s
    assert {"jti", "sid", "iss", "aud"} <= set(claims)
    assert "client_id" not in claims
    me = await api.client.get("/api/v1/users/me", headers=auth(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["username"] == "alice"


async def test_password_grant_accepts_json_and_any_username_case(api: Api, people: Accounts) -> None:
    response = await api.client.post(
        "/api/v1/auth/token", json={"grant_type": "password", "username": "ALICE", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert _claims(api, response.json()["access_token"])["sub"] == str(people.alice)


async def test_wrong_password_and_unknown_user_answer_alike(api: Api, people: Accounts) -> None:
    wrong = await api.token(grant_type="password", username="alice", password="not the password")
    unknown = await api.token(grant_type="password", username="nobody", password="not the password")
    first = _assert_oauth_problem(wrong, 400, "invalid_grant")
    second = _assert_oauth_problem(unknown, 400, "invalid_grant")
    assert first == second


async def test_unknown_user_costs_a_full_verification(
    start_api: Callable[[Settings], Any], pg_settings: Settings, db: Database
) -> None:
    # ~10-20 ms per verification: large against the HTTP round trip, so a skipped hash would show.
    settings = security_settings(
        pg_settings, argon2_memory_kib=16 * 1024, argon2_time_cost=2, login_max_failures_per_username=1000
    )
    identity = Identity.create(settings, db)
    await accounts.create_account(identity, None, NewAccount("alice", Role.USER, PASSWORD))
    api: Api = await start_api(settings)
    await api.token(grant_type="password", username="warmup", password="x")
    known: list[float] = []
    unknown: list[float] = []
    for attempt in range(7):
        for username, times in (("alice", known), (f"ghost{attempt}", unknown)):
            started = time.perf_counter()
            response = await api.token(grant_type="password", username=username, password="wrong password")
            times.append(time.perf_counter() - started)
            assert response.status_code == 400
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2.0, (known, unknown)  # a skipped hash would give ~0.1-0.2


async def test_disabled_user_cannot_log_in(api: Api, people: Accounts, identity: Identity) -> None:
    await accounts.update_account(identity, None, people.bob, AccountChanges(disabled=True))
    body = _assert_oauth_problem(
        await api.token(grant_type="password", username="bob", password=PASSWORD), 400, "invalid_grant"
    )
    assert body["code"] == "invalid_grant"


@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        ({}, 400, "invalid_request"),
        ({"grant_type": "password", "username": "alice"}, 400, "invalid_request"),
        ({"grant_type": "authorization_code", "code": "x"}, 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, 401, "invalid_client"),
        ({"grant_type": "refresh_token"}, 400, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, 400, "invalid_grant"),
    ],
)
async def test_malformed_token_requests(
    api: Api, people: Accounts, params: dict[str, str], status: int, error: str
) -> None:
    _assert_oauth_problem(await api.token(**params), status, error)


async def test_repeated_parameter_and_wrong_media_type_are_invalid_request(
    api: Api, people: Accounts
) -> None:
    repeated = await api.client.post(
        "/api/v1/auth/token",
        content="grant_type=password&username=alice&username=bob&password=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    _assert_oauth_problem(repeated, 400, "invalid_request")
    text = await api.client.post(
        "/api/v1/auth/token", content="grant_type=password", headers={"Content-Type": "text/plain"}
    )
    _assert_oauth_problem(text, 400, "invalid_request")
    not_string = await api.client.post("/api/v1/auth/token", json={"grant_type": "password", "username": 5})
    _assert_oauth_problem(not_string, 400, "invalid_request")


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def test_client_credentials_with_basic_and_with_body(
    api: Api, people: Accounts, new_client: Callable[..., Any]
) -> None:
    issued = await new_client(name="archive", role=Role.OPERATOR)
    client_id = issued.client.client_id
    by_basic = await api.client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers=_basic(client_id, issued.client_secret),
    )
    by_body = await api.token(
        grant_type="client_credentials", client_id=client_id, client_secret=issued.client_secret
    )
    for response in (by_basic, by_body):
        assert response.status_code == 200, response.text
        body = response.json()
        assert "refresh_token" not in body  # RFC 6749 §4.4.3
        claims = _claims(api, body["access_token"])
        assert claims["sub"] == client_id
        assert claims["client_id"] == client_id
        assert claims["role"] == "operator"
    # An unbound client is its own principal: it has no account of its own but operator rights.
    headers = auth(by_body.json()["access_token"])
    assert (await api.client.get("/api/v1/users/me", headers=headers)).status_code == 404
    assert (await api.client.get(f"/api/v1/users/{people.alice}", headers=headers)).status_code == 200


async def test_client_bound_to_a_user_acts_as_that_user(
    api: Api, people: Accounts, new_client: Callable[..., Any]
) -> None:
    issued = await new_client(name="alice-erp", user_id=people.alice)
    response = await api.token(
        grant_type="client_credentials", client_id=issued.client.client_id, client_secret=issued.client_secret
    )
    claims = _claims(api, response.json()["access_token"])
    assert claims["sub"] == str(people.alice)
    me = await api.client.get("/api/v1/users/me", headers=auth(response.json()["access_token"]))
    assert me.json()["username"] == "alice"


async def test_bad_client_secret_is_invalid_client_with_basic_challenge(
    api: Api, people: Accounts, new_client: Callable[..., Any]
) -> None:
    issued = await new_client()
    client_id = issued.client.client_id
    for response in (
        await api.client.post(
            "/api/v1/auth/token",
            data={"grant_type": "client_credentials"},
            headers=_basic(client_id, "wrong"),
        ),
        await api.token(grant_type="client_credentials", client_id="kc-unknown", client_secret="wrong"),
        await api.token(grant_type="client_credentials", client_id=client_id),
    ):
        _assert_oauth_problem(response, 401, "invalid_client")
        assert response.headers["www-authenticate"] == 'Basic realm="klyuch"'


async def test_two_client_authentication_methods_are_refused(
    api: Api, people: Accounts, new_client: Callable[..., Any]
) -> None:
    issued = await new_client()
    response = await api.client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_secret": issued.client_secret},
        headers=_basic(issued.client.client_id, issued.client_secret),
    )
    _assert_oauth_problem(response, 400, "invalid_request")


async def test_password_grant_through_a_client_binds_tokens_to_it(
    api: Api, people: Accounts, new_client: Callable[..., Any]
) -> None:
    issued = await new_client()
    client_id = issued.client.client_id
    body = await api.login("alice", client_id=client_id, client_secret=issued.client_secret)
    assert _claims(api, body["access_token"])["client_id"] == client_id
    # Its refresh token works only for that client.
    anonymous = await api.token(grant_type="refresh_token", refresh_token=body["refresh_token"])
    _assert_oauth_problem(anonymous, 400, "invalid_grant")
    refreshed = await api.token(
        grant_type="refresh_token",
        refresh_token=body["refresh_token"],
        client_id=client_id,
        client_secret=issued.client_secret,
    )
    assert refreshed.status_code == 200, refreshed.text


async def test_refresh_rotates_and_reuse_revokes_the_family(api: Api, people: Accounts) -> None:
    first = await api.login("alice")
    second = await api.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    first_claims, second_claims = _claims(api, first["access_token"]), _claims(api, rotated["access_token"])
    assert first_claims["sid"] == second_claims["sid"]
    assert first_claims["jti"] != second_claims["jti"]
    assert (
        await api.client.get("/api/v1/users/me", headers=auth(rotated["access_token"]))
    ).status_code == 200

    # The old refresh token comes back (stolen?): the whole family dies, the new pair included.
    reuse = await api.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
    _assert_oauth_problem(reuse, 400, "invalid_grant")
    after = await api.token(grant_type="refresh_token", refresh_token=rotated["refresh_token"])
    _assert_oauth_problem(after, 400, "invalid_grant")
    revoked = await api.client.get("/api/v1/users/me", headers=auth(rotated["access_token"]))
    assert revoked.status_code == 401
    assert revoked.json()["code"] == "token_revoked"
    # Another session of the same user is untouched.
    assert (await api.client.get("/api/v1/users/me", headers=await api.bearer("alice"))).status_code == 200


async def test_expired_refresh_token_is_refused(
    start_api: Callable[[Settings], Any], settings: Settings, people: Accounts
) -> None:
    short = security_settings(settings, access_token_ttl_s=1, refresh_token_ttl_s=1)
    api: Api = await start_api(short)
    body = await api.login("alice")
    time.sleep(1.1)  # noqa: ASYNC251 - the server runs in this process: block it too, that is fine here
    _assert_oauth_problem(
        await api.token(grant_type="refresh_token", refresh_token=body["refresh_token"]), 400, "invalid_grant"
    )


async def test_login_rehashes_when_parameters_changed(
    start_api: Callable[[Settings], Any], settings: Settings, people: Accounts, db: Database
) -> None:
    before = await db.run_readonly(repo.get_user, people.alice)
    assert before.password_hash is not None
    assert "t=1" in before.password_hash
    api: Api = await start_api(security_settings(settings, argon2_time_cost=2))
    await api.login("alice")
    after = await db.run_readonly(repo.get_user, people.alice)
    assert after.password_hash is not None
    assert "t=2" in after.password_hash
    await api.login("alice")  # the new hash verifies

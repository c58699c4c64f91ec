"""/api/v1/users and /api/v1/clients: owners see themselves, operators manage users, admins roles."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.identity.conftest import PASSWORD, Accounts, Api


async def test_user_a_cannot_read_user_b_and_it_looks_like_nothing_is_there(
    api: Api, people: Accounts
) -> None:
    alice = await api.bearer("alice")
    foreign = await api.client.get(f"/api/v1/users/{people.bob}", headers=alice)
    assert foreign.status_code == 404
    # An operator asking for an id that does not exist gets the same words for a missing account.
    missing_id = uuid.uuid4()
    missing = await api.client.get(f"/api/v1/users/{missing_id}", headers=await api.bearer("olga"))
    foreign_missing = await api.client.get(f"/api/v1/users/{missing_id}", headers=alice)
    assert missing.status_code == foreign_missing.status_code == 404
    assert missing.json() == foreign_missing.json()
    assert foreign.json() == {**missing.json(), "detail": f"user {people.bob} not found"}
    assert foreign.headers["content-type"] == "application/problem+json"
    own = await api.client.get(f"/api/v1/users/{people.alice}", headers=alice)
    assert own.status_code == 200
    assert "password_hash" not in own.json()


async def test_users_cannot_change_others(api: Api, people: Accounts) -> None:
    response = await api.client.patch(
        f"/api/v1/users/{people.bob}", json={"display_name": "x"}, headers=await api.bearer("alice")
    )
    assert response.status_code == 404


async def test_operator_reads_all_and_lists_with_pages(api: Api, people: Accounts) -> None:
    operator = await api.bearer("olga")
    assert (await api.client.get(f"/api/v1/users/{people.alice}", headers=operator)).json()[
        "username"
    ] == "alice"
    names: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await api.client.get("/api/v1/users", params=params, headers=operator)).json()
        names += [item["username"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert names == ["admin", "alice", "bob", "olga"]
    refused = await api.client.get("/api/v1/users", headers=await api.bearer("alice"))
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]


async def test_operator_creates_users_but_not_operators(api: Api, people: Accounts) -> None:
    operator = await api.bearer("olga")
    created = await api.client.post(
        "/api/v1/users",
        json={"username": "carol", "password": "carol's long password", "email": "carol@example.org"},
        headers=operator,
    )
    assert created.status_code == 201, created.text
    assert created.json()["role"] == "user"
    await api.login("carol", "carol's long password")
    escalation = await api.client.post(
        "/api/v1/users", json={"username": "mallory", "role": "admin"}, headers=operator
    )
    assert escalation.status_code == 403
    assert escalation.json()["code"] == "forbidden"
    by_user = await api.client.post(
        "/api/v1/users", json={"username": "eve"}, headers=await api.bearer("alice")
    )
    assert by_user.status_code == 403


async def test_usernames_are_unique_regardless_of_case(api: Api, people: Accounts) -> None:
    response = await api.client.post(
        "/api/v1/users", json={"username": "Alice"}, headers=await api.bearer("admin")
    )
    assert response.status_code == 409
    assert response.json()["code"] == "username_taken"


async def test_role_escalation_is_refused(api: Api, people: Accounts) -> None:
    alice = await api.bearer("alice")
    olga = await api.bearer("olga")
    admin = await api.bearer("admin")
    own_role = await api.client.patch(f"/api/v1/users/{people.alice}", json={"role": "admin"}, headers=alice)
    assert own_role.status_code == 403
    by_operator = await api.client.patch(
        f"/api/v1/users/{people.alice}", json={"role": "operator"}, headers=olga
    )
    assert by_operator.status_code == 403
    operator_self = await api.client.patch(
        f"/api/v1/users/{people.operator}", json={"role": "admin"}, headers=olga
    )
    assert operator_self.status_code == 403
    on_admin = await api.client.patch(f"/api/v1/users/{people.admin}", json={"disabled": True}, headers=olga)
    assert on_admin.status_code == 403
    admin_self = await api.client.patch(f"/api/v1/users/{people.admin}", json={"role": "user"}, headers=admin)
    assert admin_self.status_code == 403
    promoted = await api.client.patch(
        f"/api/v1/users/{people.alice}", json={"role": "operator"}, headers=admin
    )
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "operator"
    # The role is read per request: alice's existing token now lists users.
    assert (await api.client.get("/api/v1/users", headers=alice)).status_code == 200


async def test_operator_disables_and_resets_users(api: Api, people: Accounts) -> None:
    olga = await api.bearer("olga")
    reset = await api.client.patch(
        f"/api/v1/users/{people.bob}", json={"password": "reset by the operator"}, headers=olga
    )
    assert reset.status_code == 200
    await api.login("bob", "reset by the operator")
    disabled = await api.client.patch(f"/api/v1/users/{people.bob}", json={"disabled": True}, headers=olga)
    assert disabled.json()["disabled"] is True
    refused = await api.token(grant_type="password", username="bob", password="reset by the operator")
    assert refused.json()["error"] == "invalid_grant"


async def test_own_password_change_needs_the_current_password(api: Api, people: Accounts) -> None:
    alice = await api.bearer("alice")
    url = f"/api/v1/users/{people.alice}"
    without = await api.client.patch(url, json={"password": "another long password"}, headers=alice)
    assert without.status_code == 422
    wrong = await api.client.patch(
        url, json={"password": "another long password", "current_password": "wrong"}, headers=alice
    )
    assert wrong.status_code == 403
    short = await api.client.patch(
        url, json={"password": "short", "current_password": PASSWORD}, headers=alice
    )
    assert short.status_code == 422
    assert short.json()["code"] == "password_policy"
    profile = await api.client.patch(
        url, json={"display_name": "Alice A.", "phone": "+7 495 000-00-00"}, headers=alice
    )
    assert profile.json()["display_name"] == "Alice A."
    cleared = await api.client.patch(url, json={"phone": None}, headers=alice)
    assert cleared.json()["phone"] is None
    assert cleared.json()["display_name"] == "Alice A."


@pytest.mark.parametrize(
    "body",
    [
        {"username": "bad name"},
        {"username": "-dash"},
        {"username": "x" * 65},
        {"username": "ok", "role": "root"},
        {"username": "ok", "unexpected": 1},
        {"username": "ok", "email": "not-an-email"},
    ],
)
async def test_invalid_user_bodies_are_422(api: Api, people: Accounts, body: dict[str, Any]) -> None:
    response = await api.client.post("/api/v1/users", json=body, headers=await api.bearer("admin"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "validation_failed"
    assert response.json()["errors"]


async def test_null_role_and_bad_cursor_are_refused(api: Api, people: Accounts) -> None:
    admin = await api.bearer("admin")
    null_role = await api.client.patch(f"/api/v1/users/{people.bob}", json={"role": None}, headers=admin)
    assert null_role.status_code == 422
    cursor = await api.client.get("/api/v1/users", params={"cursor": "%%%"}, headers=admin)
    assert cursor.status_code == 400
    limit = await api.client.get("/api/v1/users", params={"limit": 0}, headers=admin)
    assert limit.status_code == 422


async def test_admin_registers_clients_and_sees_the_secret_once(api: Api, people: Accounts) -> None:
    admin = await api.bearer("admin")
    created = await api.client.post(
        "/api/v1/clients", json={"name": "ERP", "user_id": str(people.bob)}, headers=admin
    )
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    token = await api.token(
        grant_type="client_credentials", client_id=body["client_id"], client_secret=body["client_secret"]
    )
    assert token.status_code == 200
    listed = (await api.client.get("/api/v1/clients", headers=admin)).json()["items"]
    assert [item["client_id"] for item in listed] == [body["client_id"]]
    assert "client_secret" not in listed[0]
    assert "callback_secret" not in listed[0]
    by_operator = await api.client.post(
        "/api/v1/clients", json={"name": "x"}, headers=await api.bearer("olga")
    )
    assert by_operator.status_code == 403
    unknown_user = await api.client.post(
        "/api/v1/clients", json={"name": "x", "user_id": str(uuid.uuid4())}, headers=admin
    )
    assert unknown_user.status_code == 404

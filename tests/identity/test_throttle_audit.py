"""Failed logins are rate-limited per username and per address, and every login and revocation is
audited as an ``audit_*`` event that never carries a password, token or secret."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from config.settings import Settings
from tests.identity.conftest import PASSWORD, Accounts, Api, security_settings


async def test_username_limit_refuses_even_the_right_password(
    start_api: Callable[[Settings], Any], settings: Settings, people: Accounts
) -> None:
    api: Api = await start_api(security_settings(settings, login_max_failures_per_username=3))
    for _ in range(3):
        wrong = await api.token(grant_type="password", username="alice", password="wrong password")
        assert wrong.status_code == 400
    locked = await api.token(grant_type="password", username="ALICE", password=PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["code"] == "too_many_attempts"
    assert locked.json()["error"] == "too_many_attempts"
    assert 1 <= int(locked.headers["retry-after"]) <= 300
    # Other usernames are not affected.
    await api.login("bob")


async def test_address_limit_covers_many_usernames(
    start_api: Callable[[Settings], Any], settings: Settings, people: Accounts
) -> None:
    api: Api = await start_api(security_settings(settings, login_max_failures_per_address=4))
    for attempt in range(4):
        response = await api.token(
            grant_type="password", username=f"guess{attempt}", password="wrong password"
        )
        assert response.status_code == 400
    assert (await api.token(grant_type="password", username="bob", password=PASSWORD)).status_code == 429


async def test_client_secret_guessing_is_limited(
    start_api: Callable[[Settings], Any], settings: Settings, people: Accounts, new_client: Callable[..., Any]
) -> None:
    api: Api = await start_api(security_settings(settings, login_max_failures_per_username=2))
    issued = await new_client()
    for _ in range(2):
        response = await api.token(
            grant_type="client_credentials", client_id=issued.client.client_id, client_secret="guess"
        )
        assert response.status_code == 401
    right = await api.token(
        grant_type="client_credentials", client_id=issued.client.client_id, client_secret=issued.client_secret
    )
    assert right.status_code == 429


async def test_limits_are_shared_by_two_workers_and_refusals_are_audited(
    start_api: Callable[[Settings], Any], settings: Settings, people: Accounts, new_client: Callable[..., Any]
) -> None:
    limited = security_settings(settings, login_max_failures_per_username=3)
    first: Api = await start_api(limited)
    second: Api = await start_api(limited)  # another app on the same database: another worker
    for api in (first, second, first):
        wrong = await api.token(grant_type="password", username="alice", password="wrong password")
        assert wrong.status_code == 400
    with structlog.testing.capture_logs() as events:
        locked = await second.token(grant_type="password", username="alice", password=PASSWORD)
    assert locked.status_code == 429
    throttled = [event for event in events if event["event"] == "audit_login_throttled"]
    assert throttled == [
        {
            "event": "audit_login_throttled",
            "log_level": "info",
            "username": "alice",
            "address": "127.0.0.1",
            "client_id": None,
        }
    ]
    issued = await new_client()
    for api in (second, first, second):
        guess = await api.token(
            grant_type="client_credentials", client_id=issued.client.client_id, client_secret="guess"
        )
        assert guess.status_code == 401
    right = await first.token(
        grant_type="client_credentials", client_id=issued.client.client_id, client_secret=issued.client_secret
    )
    assert right.status_code == 429


async def test_a_success_clears_the_username_counter(
    start_api: Callable[[Settings], Any], settings: Settings, people: Accounts
) -> None:
    api: Api = await start_api(security_settings(settings, login_max_failures_per_username=2))
    await api.token(grant_type="password", username="alice", password="wrong password")
    await api.login("alice")
    await api.token(grant_type="password", username="alice", password="wrong password")
    await api.login("alice")  # one failure since the success: under the limit of 2


async def test_logins_and_revocations_are_audited_without_secrets(
    api: Api, people: Accounts, new_client: Callable[..., Any]
) -> None:
    issued = await new_client()
    with structlog.testing.capture_logs() as events:
        login = await api.login("alice")
        await api.token(grant_type="password", username="alice", password="wrong password")
        await api.token(grant_type="password", username="typed-my-password", password="wrong password")
        await api.token(
            grant_type="client_credentials", client_id=issued.client.client_id, client_secret="nope"
        )
        await api.client.post("/api/v1/auth/revoke", data={"token": login["access_token"]})
        await api.client.post("/api/v1/auth/revoke", data={"token": login["refresh_token"]})
        await api.token(grant_type="refresh_token", refresh_token=login["refresh_token"])
    audit = [event for event in events if event["event"].startswith("audit_")]
    names = [event["event"] for event in audit]
    assert names.count("audit_login_succeeded") == 1
    assert names.count("audit_login_failed") == 2
    assert "audit_client_auth_failed" in names
    assert names.count("audit_token_revoked") == 2
    succeeded = next(e for e in audit if e["event"] == "audit_login_succeeded")
    assert succeeded["user_id"] == str(people.alice)
    assert succeeded["address"] == "127.0.0.1"
    secrets = {
        PASSWORD,
        "wrong password",
        "nope",
        login["access_token"],
        login["refresh_token"],
        issued.client_secret,
    }
    for event in events:
        text = repr(event)
        assert not any(secret in text for secret in secrets), event

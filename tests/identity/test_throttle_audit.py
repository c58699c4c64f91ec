"""Failed logins are rate-limited per username and per address, and every login and revocation is
audited as an ``audit_*`` event that never carries a password, token or secret."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from actors.identity.throttle import LoginThrottle
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


def test_throttle_window_slides() -> None:
    now = [1000.0]
    throttle = LoginThrottle(window_s=60, limits={"user": 2, "addr": 5}, clock=lambda: now[0])
    keys = ["user:alice", "addr:10.0.0.1"]
    throttle.record_failure(keys)
    now[0] += 30
    throttle.record_failure(keys)
    assert throttle.retry_after(keys) == 30
    now[0] += 30
    assert throttle.retry_after(keys) is None  # the first failure left the window
    throttle.record_failure(keys)
    assert throttle.retry_after(["user:alice"]) == 30
    throttle.clear("user:alice")
    assert throttle.retry_after(keys) is None


def test_throttle_memory_is_bounded() -> None:
    throttle = LoginThrottle(window_s=60, limits={"addr": 1}, max_keys=100, clock=lambda: 0.0)
    for number in range(1000):
        throttle.record_failure([f"addr:{number}"])
    assert throttle.retry_after(["addr:999"]) == 60
    assert throttle.retry_after(["addr:0"]) is None  # evicted, oldest first


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

"""The server secret file, callback-secret sealing, and ``klyuch admin`` as a real subprocess."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from actors.identity import Identity, clients, grants
from actors.identity.clients import ClientCredentials
from actors.identity.errors import InvalidGrantError
from actors.identity.server_secret import Sealer, load_server_secret, secret_path
from config.settings import SecuritySettings, Settings
from storage import Database
from storage.repos import identity as repo

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_generated_secret_is_private_and_stable(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    first = load_server_secret(settings)
    assert len(first) == 32
    path = secret_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_server_secret(settings) == first


def test_racing_workers_agree_on_one_secret(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    results: list[bytes] = []
    barrier = threading.Barrier(8)

    def load() -> None:
        barrier.wait()
        results.append(load_server_secret(settings))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert sorted(p.name for p in secret_path(settings).parent.iterdir()) == ["token.key"]


def test_configured_secret_wins_and_must_be_long() -> None:
    settings = Settings(security=SecuritySettings(token_secret=SecretStr("s" * 32)))
    assert load_server_secret(settings) == b"s" * 32
    with pytest.raises(ValidationError, match="at least 32"):
        SecuritySettings(token_secret=SecretStr("short"))


def test_sealing_binds_secret_and_context() -> None:
    sealer = Sealer(b"a" * 32)
    sealed = sealer.seal(b"callback key", context="kc-1")
    assert b"callback key" not in sealed
    assert sealer.open(sealed, context="kc-1") == b"callback key"
    with pytest.raises(ValueError, match="does not open"):
        sealer.open(sealed, context="kc-2")
    with pytest.raises(ValueError, match="does not open"):
        Sealer(b"b" * 32).open(sealed, context="kc-1")


async def test_callback_secret_is_stored_sealed_and_readable_by_the_server(identity: Identity) -> None:
    issued = await clients.create_client(identity, None, name="erp")
    row = await identity.db.run_readonly(repo.get_client, issued.client.client_id)
    assert row is not None
    assert issued.callback_secret not in row.callback_secret
    assert await clients.callback_secret(identity, issued.client.client_id) == issued.callback_secret


def _admin(settings: Settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    assert settings.storage.dsn is not None
    env = {
        **os.environ,
        "KLYUCH_HOME": str(settings.home),
        "KLYUCH_STORAGE__DSN": settings.storage.dsn.get_secret_value(),
        "KLYUCH_HSM__SOFT_UNITS": "0",
        "KLYUCH_SECURITY__ARGON2_TIME_COST": "1",
        "KLYUCH_SECURITY__ARGON2_MEMORY_KIB": "1024",
        "KLYUCH_LOGGING__LEVEL": "warning",
        "PYTHONPATH": str(REPO_ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "edge.admin_cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )


async def test_admin_create_end_to_end(settings: Settings, db: Database) -> None:
    done = _admin(settings, "create", "--username", "root", "--password-stdin", stdin="root password 123\n")
    assert done.returncode == 0, done.stderr
    assert "created admin root" in done.stdout
    identity = Identity.create(settings, db)
    grant = await grants.password_grant(
        identity, username="root", password="root password 123", client=None, address="cli-test"
    )
    principal_claims = identity.codec.decode(grant.access_token)
    assert principal_claims.role.value == "admin"

    again = _admin(settings, "create", "--username", "ROOT", "--password-stdin", stdin="another password 1\n")
    assert again.returncode == 1
    assert "taken" in again.stderr
    empty = _admin(settings, "create", "--username", "nopass", "--password-stdin", stdin="\n")
    assert empty.returncode == 1
    assert "empty" in empty.stderr
    not_a_tty = _admin(settings, "create", "--username", "nopass")
    assert not_a_tty.returncode == 1
    assert "--password-stdin" in not_a_tty.stderr
    bad_name = _admin(
        settings, "create", "--username", "no spaces", "--password-stdin", stdin="long password 12\n"
    )
    assert bad_name.returncode == 1

    reset = _admin(
        settings, "set-password", "--username", "root", "--password-stdin", stdin="a new root password\n"
    )
    assert reset.returncode == 0, reset.stderr
    with pytest.raises(InvalidGrantError):
        await grants.password_grant(
            identity, username="root", password="root password 123", client=None, address="t"
        )
    await grants.password_grant(
        identity, username="root", password="a new root password", client=None, address="t"
    )


async def test_admin_client_create_prints_working_secrets(settings: Settings, db: Database) -> None:
    assert (
        _admin(
            settings,
            "create",
            "--username",
            "svc",
            "--role",
            "user",
            "--password-stdin",
            stdin="svc password 12\n",
        ).returncode
        == 0
    )
    done = _admin(settings, "client", "create", "--name", "Document flow", "--user", "svc")
    assert done.returncode == 0, done.stderr
    printed = dict(line.split(": ", 1) for line in done.stdout.splitlines())
    assert set(printed) == {"client_id", "client_secret", "callback_secret"}
    identity = Identity.create(settings, db)
    grant = await grants.client_credentials_grant(
        identity, ClientCredentials(printed["client_id"], printed["client_secret"]), address="cli-test"
    )
    assert identity.codec.decode(grant.access_token).client_id == printed["client_id"]
    unknown_user = _admin(settings, "client", "create", "--name", "x", "--user", "ghost")
    assert unknown_user.returncode == 1
    assert "ghost" in unknown_user.stderr

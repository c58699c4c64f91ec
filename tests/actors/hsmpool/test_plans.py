"""From settings to unit plans: the KEK file and passphrase under home, PKCS#11 units, validation."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from actors.hsm.errors import UnitConfigError
from actors.hsm.protocol import KeyAlgorithm
from actors.hsmpool import SOFT_DOMAIN, pkcs11_domain, plan_units
from actors.hsmpool.plans import kek_file_path, kek_passphrase, reap_socket_folders
from config.settings import HsmSettings

from .conftest import MakeSettings, OpenPool


def test_generated_passphrase_is_private_and_stable(home: Path) -> None:
    hsm = HsmSettings()
    first = kek_passphrase(hsm, home)
    path = home / "hsm" / "kek-passphrase"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(first) >= 32
    assert kek_passphrase(hsm, home) == first
    assert [p.name for p in path.parent.iterdir()] == ["kek-passphrase"]  # no temporary file left


def test_a_kek_without_its_generated_passphrase_is_refused(home: Path) -> None:
    hsm = HsmSettings()
    (home / "hsm").mkdir()
    (home / "hsm" / "kek.sealed.json").write_text("{}")
    with pytest.raises(UnitConfigError, match="passphrase file"):
        kek_passphrase(hsm, home)
    assert not (home / "hsm" / "kek-passphrase").exists()


def test_configured_passphrase_writes_no_file(home: Path) -> None:
    hsm = HsmSettings(kek_passphrase=SecretStr("operator secret"))
    assert kek_passphrase(hsm, home) == "operator secret"
    assert not (home / "hsm").exists()


def test_soft_and_pkcs11_plans(home: Path) -> None:
    hsm = HsmSettings(
        soft_units=2,
        slots_per_unit=3,
        kek_kdf_iterations=5000,
        pkcs11_module=Path("/opt/vendor/p11.so"),
        pkcs11_token_labels=("A", "B b"),
        pkcs11_units_per_token=2,
        pkcs11_pin=SecretStr("0000"),
    )
    folder = Path("/tmp/x")
    plans = plan_units(hsm, home=home, socket_folder=folder)
    assert [plan.unit_id for plan in plans] == [
        "soft-1",
        "soft-2",
        "p11-A-1",
        "p11-A-2",
        "p11-B b-1",
        "p11-B b-2",
    ]
    assert [plan.domain for plan in plans] == [SOFT_DOMAIN] * 2 + [pkcs11_domain("A")] * 2 + [
        pkcs11_domain("B b")
    ] * 2
    assert len({plan.spec.socket_path for plan in plans}) == 6
    assert all(plan.spec.socket_path.parent == folder for plan in plans)
    soft, p11 = plans[0], plans[2]
    assert soft.spec.kek_file == kek_file_path(hsm, home) == home / "hsm" / "kek.sealed.json"
    assert (soft.spec.create_kek, soft.spec.kdf_iterations, soft.spec.slots) == (True, 5000, 3)
    assert soft.secrets.kek_passphrase == kek_passphrase(hsm, home)
    assert soft.start_lock is None
    assert (p11.spec.pkcs11_module, p11.spec.token_label, p11.secrets.pkcs11_pin) == (
        "/opt/vendor/p11.so",
        "A",
        "0000",
    )
    assert p11.start_lock is not None
    assert p11.start_lock == plans[3].start_lock != plans[4].start_lock
    assert len({plan.secrets.auth_key for plan in plans}) == 1  # one handshake key per pool
    for plan in plans:  # secrets never reach the command line
        argv = " ".join(plan.spec.argv())
        assert plan.secrets.auth_key.hex() not in argv
        assert "0000" not in argv
        assert soft.secrets.kek_passphrase not in argv


@pytest.mark.parametrize(
    "options",
    [
        {"pkcs11_module": "/x.so", "pkcs11_pin": "1"},
        {"pkcs11_module": "/x.so", "pkcs11_token_labels": ["T"]},
        {"pkcs11_token_labels": ["T"]},
        {"restart_backoff_initial_s": 5, "restart_backoff_cap_s": 1},
        {"pkcs11_units_per_token": 0},
    ],
)
def test_impossible_settings_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        HsmSettings.model_validate(options)


async def test_first_start_creates_the_kek_and_a_second_pool_opens_old_keys(
    pool: OpenPool, fast_hsm: MakeSettings, home: Path
) -> None:
    async with pool(fast_hsm(soft_units=1)) as hsm:
        generated = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
    kek_file = home / "hsm" / "kek.sealed.json"
    assert stat.S_IMODE(kek_file.stat().st_mode) == 0o600
    sealed = kek_file.read_bytes()
    async with pool(fast_hsm(soft_units=2)) as hsm:
        signatures = [await hsm.sign_digest(generated.key, os.urandom(32)) for _ in range(4)]
    assert kek_file.read_bytes() == sealed
    assert all(len(signature) == 64 for signature in signatures)


def test_socket_folders_of_dead_pools_are_reaped(tmp_path: Path) -> None:
    gone_pid = _exited_pid()
    stale = tmp_path / f"klyuch-hsm-{gone_pid}-abc"
    live = tmp_path / f"klyuch-hsm-{os.getpid()}-def"
    other = tmp_path / "klyuch-hsm-notapid-x"
    for folder in (stale, live, other):
        folder.mkdir()
    reap_socket_folders(tmp_path)
    assert not stale.exists()
    assert live.exists()
    assert other.exists()


def _exited_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid

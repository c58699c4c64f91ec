"""From ``HsmSettings`` to the units of one pool: specs, secrets, key domains and the files they need.

Soft units share one sealed KEK file (``hsm.kek_file``, default ``<home>/hsm/kek.sealed.json``). The
first unit to start creates it (``--create-kek``; two racing units end up with one KEK); its
passphrase is ``hsm.kek_passphrase`` or, for the embedded default, a random one generated once and
kept in ``<home>/hsm/kek-passphrase`` (mode 0600). PKCS#11 units get ``hsm.pkcs11_units_per_token``
processes per token label, started one at a time per token (:mod:`actors.hsmpool.startlock`). Every
unit of a pool gets the same fresh handshake key (it lives only in this process and the units'
memory). Sockets go to a short private folder: a unix socket path must fit in 107 bytes, which
``home`` does not promise.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from actors.hsm.auth import AUTH_KEY_SIZE
from actors.hsm.errors import UnitConfigError
from actors.hsm.handover import UnitSecrets
from actors.hsm.launcher import UnitSpec
from config.settings import HsmSettings

SOFT_DOMAIN: Final = "soft"
"""Key domain of the soft units: all of one pool unseal the same KEK, so any of them opens any blob."""
PASSPHRASE_FILE: Final = "kek-passphrase"
KEK_FILE: Final = "kek.sealed.json"
_MAX_PASSPHRASE_BYTES: Final = 4096


def pkcs11_domain(token_label: str) -> str:
    """Key domain of the units serving one PKCS#11 token."""
    return f"pkcs11:{token_label}"


@dataclass(frozen=True, slots=True)
class UnitPlan:
    """Everything a UnitClient needs to (re)start its unit."""

    spec: UnitSpec
    """How to launch the process."""
    secrets: UnitSecrets
    """Handshake key, KEK passphrase or PIN (never logged)."""
    domain: str
    """The key store this unit serves."""
    start_lock: Path | None = None
    """PKCS#11: the file locked while the unit starts (one start per token at a time, node-wide)."""

    @property
    def unit_id(self) -> str:
        """The unit's name."""
        return self.spec.unit_id


def hsm_folder(hsm: HsmSettings, home: Path) -> Path:
    """``<home>/hsm``, where the embedded default keeps its KEK file and passphrase."""
    return home / "hsm"


def kek_file_path(hsm: HsmSettings, home: Path) -> Path:
    """The sealed KEK file the soft units share."""
    return hsm.kek_file or hsm_folder(hsm, home) / KEK_FILE


def kek_passphrase(hsm: HsmSettings, home: Path) -> str:
    """The configured passphrase, or the generated one kept under ``home`` (created on first use).

    :class:`UnitConfigError` when the KEK file exists but the generated passphrase file does not.
    """
    if hsm.kek_passphrase is not None:
        return hsm.kek_passphrase.get_secret_value()
    path = hsm_folder(hsm, home) / PASSPHRASE_FILE
    with contextlib.suppress(FileNotFoundError):
        return _read_passphrase(path)
    if kek_file_path(hsm, home).exists():
        # A new passphrase could never open the existing KEK: refuse instead of locking it away.
        raise UnitConfigError(
            f"the KEK file {kek_file_path(hsm, home)} exists but its passphrase file {path} is missing; "
            "restore it or set hsm.kek_passphrase"
        )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # another worker won the race: use its passphrase
        return _create_passphrase(path)
    return _read_passphrase(path)


def _read_passphrase(path: Path) -> str:
    with path.open("rb") as handle:
        data = handle.read(_MAX_PASSPHRASE_BYTES)
    passphrase = data.decode("utf-8").strip()
    if not passphrase:
        raise ValueError(f"the passphrase file {path} is empty")
    return passphrase


def _create_passphrase(path: Path) -> str:
    """Write a fresh passphrase; it appears atomically (written aside, then hard-linked into place)."""
    passphrase = secrets.token_urlsafe(32)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(passphrase.encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    return passphrase


def pkcs11_start_lock(hsm: HsmSettings, home: Path, token_label: str) -> Path:
    """The start lock file of one token (named by a hash: labels may hold any character)."""
    name = hashlib.sha256(f"{hsm.pkcs11_module}\0{token_label}".encode()).hexdigest()[:16]
    return hsm_folder(hsm, home) / f"pkcs11-{name}.lock"


SOCKET_FOLDER_PREFIX: Final = "klyuch-hsm-"


def make_socket_folder() -> Path:
    """A fresh private folder with a short path for the pool's unit sockets: ``/tmp/klyuch-hsm-<pid>-*``.

    Folders left by pools whose process is gone (a worker killed with SIGKILL cannot clean up) are
    removed first.
    """
    base = Path(tempfile.gettempdir())
    reap_socket_folders(base)
    return Path(tempfile.mkdtemp(prefix=f"{SOCKET_FOLDER_PREFIX}{os.getpid()}-", dir=base))


def reap_socket_folders(base: Path) -> None:
    """Remove our socket folders under ``base`` whose owning process no longer exists."""
    for folder in base.glob(f"{SOCKET_FOLDER_PREFIX}*-*"):
        pid_text = folder.name[len(SOCKET_FOLDER_PREFIX) :].split("-", 1)[0]
        try:
            if not pid_text.isdigit() or folder.stat().st_uid != os.getuid():
                continue
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue  # vanished meanwhile, or a live process of another user


def remove_socket_folder(folder: Path) -> None:
    """Remove the sockets folder (units remove their own sockets on a clean stop)."""
    shutil.rmtree(folder, ignore_errors=True)


def plan_units(
    hsm: HsmSettings,
    *,
    home: Path,
    socket_folder: Path,
    log_level: str = "info",
    log_format: str = "console",
) -> list[UnitPlan]:
    """The units of one pool, soft units first; reads or creates the passphrase file (blocking I/O)."""
    auth_key = os.urandom(AUTH_KEY_SIZE)
    extra = ("--log-level", log_level, "--log-format", log_format)
    plans: list[UnitPlan] = []
    if hsm.soft_units:
        passphrase = kek_passphrase(hsm, home)
        kek_file = kek_file_path(hsm, home)
        kek_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        soft_secrets = UnitSecrets(auth_key=auth_key, kek_passphrase=passphrase)
        for number in range(1, hsm.soft_units + 1):
            spec = UnitSpec(
                socket_path=socket_folder / f"s{number}.sock",
                backend="soft",
                unit_id=f"soft-{number}",
                slots=hsm.slots_per_unit,
                kek_file=kek_file,
                create_kek=True,
                kdf_iterations=hsm.kek_kdf_iterations,
                self_check=hsm.self_check,
                extra_args=extra,
            )
            plans.append(UnitPlan(spec, soft_secrets, SOFT_DOMAIN))
    if hsm.pkcs11_module is not None:
        pin = hsm.pkcs11_pin.get_secret_value() if hsm.pkcs11_pin is not None else None
        p11_secrets = UnitSecrets(auth_key=auth_key, pkcs11_pin=pin)
        for token_index, label in enumerate(hsm.pkcs11_token_labels, start=1):
            for number in range(1, hsm.pkcs11_units_per_token + 1):
                spec = UnitSpec(
                    socket_path=socket_folder / f"p{token_index}-{number}.sock",
                    backend="pkcs11",
                    unit_id=f"p11-{label}-{number}",
                    slots=hsm.slots_per_unit,
                    pkcs11_module=os.fspath(hsm.pkcs11_module),
                    token_label=label,
                    self_check=hsm.self_check,
                    extra_args=extra,
                )
                lock = pkcs11_start_lock(hsm, home, label)
                plans.append(UnitPlan(spec, p11_secrets, pkcs11_domain(label), lock))
    return plans

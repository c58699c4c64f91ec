"""The operating-system account that runs the embedded PostgreSQL, and the folders it must reach.

PostgreSQL refuses to run as root. When Klyuch runs as root (euid 0) the server programs run as an
unprivileged system account instead; as an ordinary user they run as that user, unchanged.

What this module creates or changes on the system, and only when running as root:

* the account ``StorageSettings.embedded_user`` (default ``klyuch-pg``) if it is missing, made with
  ``useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin``: a system
  uid, a group of the same name (Debian's ``USERGROUPS_ENAB``), no home folder, no login shell;
* missing parent folders of the data folder: created owned by root with mode 0711 (others may
  traverse but not list them), so the account can reach its data folder;
* the data folder itself: created with mode 0700 and owned by the account; an existing *empty* data
  folder is chowned to the account; a non-empty one owned by someone else is refused;
* only if the account cannot reach the PostgreSQL programs inside the virtualenv: a root-owned
  copy of them in ``/var/cache/klyuch/pginstall-<hash>`` (see ``storage.binaries``);
* a short socket folder only for data folder paths too long for a unix socket (``storage.socketdir``);
* nothing else: no existing folder's mode is ever changed. If an existing parent folder of the data
  folder is not traversable by the account, ``EmbeddedPermissionError`` names that folder and the
  fix instead.

Child processes run with the account's uid and primary gid and no supplementary groups
(``subprocess`` ``user``/``group``/``extra_groups``), umask 077, and a minimal environment.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.errors import EmbeddedPermissionError

USERADD = (
    "useradd",
    "--system",
    "--no-create-home",
    "--home-dir",
    "/nonexistent",
    "--shell",
    "/usr/sbin/nologin",
)
"""Command (plus the account name) that creates the server account when it is missing."""

PARENT_MODE = 0o711
"""Mode of parent folders Klyuch creates as root: traversable, not listable, by others."""

DATA_MODE = 0o700
"""Mode of the data folder (PostgreSQL accepts only 0700 or 0750)."""


@dataclass(frozen=True, slots=True)
class ServerAccount:
    """Who runs ``initdb`` and ``postgres``."""

    name: str
    """Login name."""
    uid: int
    """Numeric user id."""
    gid: int
    """Primary group id (the only group the server processes keep)."""
    switch: bool
    """True when this process is root and children must drop to this account."""

    def popen_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``subprocess`` that run a program as this account."""
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "LANG": "C"}
        kwargs: dict[str, Any] = {"env": env, "cwd": "/", "umask": 0o077}
        if self.switch:
            kwargs.update(user=self.uid, group=self.gid, extra_groups=[])
        return kwargs


def server_account(embedded_user: str) -> ServerAccount:
    """Return the account for the embedded server, creating ``embedded_user`` first when root needs it."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return ServerAccount(name=entry.pw_name, uid=entry.pw_uid, gid=os.getegid(), switch=False)
    entry = _lookup(embedded_user) or _create(embedded_user)
    if entry.pw_uid == 0:
        raise EmbeddedPermissionError(
            f"storage.embedded_user {embedded_user!r} is root; PostgreSQL refuses root"
        )
    return ServerAccount(name=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid, switch=True)


def _lookup(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _create(name: str) -> pwd.struct_passwd:
    result = subprocess.run([*USERADD, name], capture_output=True, text=True, check=False)
    entry = _lookup(name)  # another process may have created it at the same moment: that is fine
    if entry is None:
        raise EmbeddedPermissionError(
            f"cannot create system account {name!r} for the embedded PostgreSQL "
            f"(useradd exit {result.returncode}: {result.stderr.strip()}); create it yourself with: "
            f"{' '.join(USERADD)} {name}"
        )
    return entry


def prepare_data_dir(account: ServerAccount, data_dir: Path) -> None:
    """Create the data folder (and missing parents) so that ``account`` owns and reaches it.

    Raises ``EmbeddedPermissionError`` naming the folder when the account cannot reach it.
    """
    try:
        _create_parents(account, data_dir.parent)
        if account.switch:
            require_traversable(account, data_dir.parent)
        _create_data_dir(account, data_dir)
    except PermissionError as exc:
        raise EmbeddedPermissionError(f"cannot create the data folder {data_dir}: {exc}") from exc


def _create_parents(account: ServerAccount, folder: Path) -> None:
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue  # created concurrently; its mode is then whoever made it
        if account.switch:
            path.chmod(PARENT_MODE)  # explicit: mkdir's mode is filtered by the umask


def _create_data_dir(account: ServerAccount, data_dir: Path) -> None:
    try:
        data_dir.mkdir(mode=DATA_MODE)
    except FileExistsError:
        _adopt_existing(account, data_dir)
        return
    data_dir.chmod(DATA_MODE)
    if account.switch:
        os.chown(data_dir, account.uid, account.gid)


def _adopt_existing(account: ServerAccount, data_dir: Path) -> None:
    info = data_dir.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise EmbeddedPermissionError(f"data folder {data_dir} exists and is not a folder")
    if info.st_uid == account.uid:
        return
    if not account.switch:
        raise EmbeddedPermissionError(
            f"data folder {data_dir} is owned by uid {info.st_uid}, not by this user ({account.name})"
        )
    if any(data_dir.iterdir()):
        raise EmbeddedPermissionError(
            f"data folder {data_dir} is owned by uid {info.st_uid}, not by {account.name!r}, and is not "
            f"empty; run `chown -R {account.name}: {data_dir}` or set storage.embedded_user to its owner"
        )
    os.chown(data_dir, account.uid, account.gid)
    data_dir.chmod(DATA_MODE)


def require_traversable(account: ServerAccount, folder: Path) -> None:
    """Raise ``EmbeddedPermissionError`` unless ``account`` may traverse ``folder`` and all its parents.

    Checks mode bits against the account's uid and primary gid (the only group the server keeps);
    POSIX ACLs are not consulted.
    """
    for path in reversed((folder, *folder.parents)):
        info = path.stat()
        if not _may_traverse(info, account):
            owner = _name_of_uid(info.st_uid)
            raise EmbeddedPermissionError(
                f"the embedded PostgreSQL runs as {account.name!r}, which cannot traverse {path} "
                f"(mode {stat.filemode(info.st_mode)}, owner {owner}); Klyuch does not change modes of "
                f"folders it did not create: run `chmod o+x {path}` or set storage.embedded_data_dir "
                f"(or KLYUCH_HOME) to a folder every parent of which others may traverse"
            )


def require_readable(account: ServerAccount, path: Path) -> None:
    """Raise ``EmbeddedPermissionError`` unless ``account`` may read (and, for a folder, list) ``path``."""
    require_traversable(account, path.parent)
    info = path.stat()
    if not _has(info, account, stat.S_IRUSR, stat.S_IRGRP, stat.S_IROTH):
        raise EmbeddedPermissionError(
            f"the embedded PostgreSQL runs as {account.name!r}, which cannot read {path} "
            f"(mode {stat.filemode(info.st_mode)})"
        )


def _may_traverse(info: os.stat_result, account: ServerAccount) -> bool:
    return _has(info, account, stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH)


def _has(info: os.stat_result, account: ServerAccount, user_bit: int, group_bit: int, other_bit: int) -> bool:
    if account.uid == 0:
        return True
    if info.st_uid == account.uid:
        return bool(info.st_mode & user_bit)
    if info.st_gid == account.gid:
        return bool(info.st_mode & group_bit)
    return bool(info.st_mode & other_bit)


def _name_of_uid(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)

"""Choose the folder for the embedded server's unix socket.

The socket goes into the data folder (mode 0700, so only the server account and root can connect,
which is what makes ``trust`` authentication safe). A unix socket path is limited to 107 bytes
(``sun_path``); when ``<data folder>/.s.PGSQL.<port>`` is longer (or the path has a comma, which
a DSN's comma-separated host list cannot carry), a short private folder is used instead:
``/run/klyuch-pg-<hash>`` for root, ``$XDG_RUNTIME_DIR/klyuch-pg-<hash>`` or ``<tmp>/klyuch-pg-<hash>``
otherwise, where the hash is of the data folder path (one folder per cluster). It is created with
mode 0700, owned by the server account, and refused if it already exists with another owner, another
mode or as a symlink.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

from storage.account import ServerAccount
from storage.errors import EmbeddedPermissionError

SUN_PATH_MAX = 107
"""Longest unix socket path Linux accepts (108 bytes including the terminating NUL)."""


def socket_path(folder: Path, port: int) -> Path:
    """Path of the PostgreSQL socket file in ``folder``."""
    return folder / f".s.PGSQL.{port}"


def choose_socket_dir(account: ServerAccount, data_dir: Path, port: int) -> Path:
    """Return the data folder when its socket path fits, else a short private folder (created)."""
    fits = len(os.fsencode(socket_path(data_dir, port))) <= SUN_PATH_MAX
    if fits and "," not in str(data_dir):  # DSN host lists are comma-separated: a comma cannot be sent
        return data_dir
    digest = hashlib.sha256(os.fsencode(data_dir.resolve())).hexdigest()[:16]
    folder = _short_base(account) / f"klyuch-pg-{digest}"
    _make_private(account, folder)
    return folder


def is_fallback(folder: Path, data_dir: Path) -> bool:
    """True when ``folder`` is a short socket folder rather than the data folder."""
    return folder != data_dir and folder.name.startswith("klyuch-pg-")


def _short_base(account: ServerAccount) -> Path:
    if account.switch and os.access("/run", os.W_OK):
        return Path("/run")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.access(runtime, os.W_OK):
        return Path(runtime)
    return Path(tempfile.gettempdir())


def _make_private(account: ServerAccount, folder: Path) -> None:
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    else:
        if account.switch:
            os.chown(folder, account.uid, account.gid)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != account.uid or stat.S_IMODE(info.st_mode) != 0o700:
        raise EmbeddedPermissionError(
            f"socket folder {folder} exists but is not a private folder of {account.name!r} "
            f"(mode {stat.filemode(info.st_mode)}, uid {info.st_uid}); remove it"
        )

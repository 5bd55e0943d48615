"""Smoke test of the packaged build: bundle, headless serve, window, and the .deb's launcher.

Marked `packaging` (about a minute): skip it locally with `make test PYTEST_ARGS='-m "not packaging"'`;
CI runs it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from .helpers import ApiClient, free_port

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parent.parent
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("pyinstaller")
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "ERROR",
                    "--distpath", str(work / "dist"), "--workpath", str(work / "build"), str(ROOT / "build.spec")],
                   cwd=ROOT, check=True, timeout=540)
    executable = work / "dist" / "ziggy-desktop" / "ziggy-desktop"
    assert executable.is_file()
    return executable


def bundle_env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZIGGY_", "MAX_"))}
    env.update(ZIGGY_DATA_DIR=str(data_dir), ZIGGY_PORT=str(port), QT_QPA_PLATFORM="offscreen")
    return env


BLOCKS_FLOW = {
    "ziggyFlow": 1, "uuid": "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a", "name": "Bundle blocks", "blocks": [
        {"id": "receiver", "type": "receiver"},
        {"id": "check", "type": "validate", "config": {"schema": {"type": "object", "required": ["email"], "properties": {
            "email": {"type": "string", "pattern": "@"}}}}},
        {"id": "shape", "type": "map", "config": {"mappings": [{"target": "email", "expression": "trim(lower(email))"}]}},
        {"id": "tag", "type": "script", "config": {"code": "def transform(records, ctx):\n"
                                                            "    return [{**r, 'source': 'script'} for r in records]\n"}},
        {"id": "ddl", "type": "sql", "config": {"connection": "target", "operation": "raw", "statement":
            "CREATE TABLE IF NOT EXISTS contacts (email TEXT PRIMARY KEY, source TEXT)"}},
        {"id": "save", "type": "sql", "config": {"connection": "target", "operation": "upsert", "table": "contacts",
                                                 "keyColumns": ["email"], "columns": [{"column": "email"},
                                                                                      {"column": "source"}]}},
        {"id": "end", "type": "terminator"}],
    "edges": [{"from": "receiver", "to": "check"}, {"from": "check", "fromPort": "valid", "to": "shape"},
              {"from": "shape", "to": "tag"}, {"from": "tag", "to": "ddl"}, {"from": "ddl", "to": "save"},
              {"from": "save", "to": "end"}]}


def test_bundle_serves_runs_and_opens_the_window(bundle: Path, tmp_path: Path):
    port = free_port()
    env = bundle_env(tmp_path / "data", port)

    def cli(*args: str, **extra_env: str) -> str:
        done = subprocess.run([str(bundle), *args], env={**env, **extra_env}, cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert cli("--version") == f"ziggy-desktop {VERSION}"
    server = subprocess.Popen([str(bundle), "serve"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        client = ApiClient(f"http://localhost:{port}")
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.request("GET", "/api/ziggy/health", key=None).status == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline, "the bundled server did not answer /api/ziggy/health"
            time.sleep(0.05)
        client.key = cli("keys", "create", "--name", "smoke")
        flow_uuid = cli("flows", "import", str(ROOT / "resources" / "flows" / "hello-world.json"))
        launched = client.launch(flow_uuid, {"from": "smoke test"})
        assert launched.status == 202, launched.body
        assert client.wait_finished(launched.json["executionId"])["terminationStatus"] == "SUCCESS"

        # The blocks that load code by name in the frozen app: a script worker process, JSON Schema,
        # the expression language and an SQLAlchemy dialect.
        target = tmp_path / "target.db"
        cli("connections", "set", "target", "--kind", "sql", "--dev-env", "url=TARGET_URL",
            TARGET_URL=f"sqlite:///{target}")
        (tmp_path / "blocks.json").write_text(json.dumps(BLOCKS_FLOW), encoding="utf-8")
        blocks_uuid = cli("flows", "import", str(tmp_path / "blocks.json"))
        launched = client.launch(blocks_uuid, [{"email": " Ada@Example.com "}, {"email": "nope"}])
        finished = client.wait_finished(launched.json["executionId"], timeout=60)
        assert finished["terminationStatus"] == "SUCCESS", client.request(
            "GET", f"/api/ziggy/executions/{launched.json['executionId']}").body
        with sqlite3.connect(target) as conn:
            assert conn.execute("SELECT email, source FROM contacts").fetchall() == [("ada@example.com", "script")]
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert server.returncode == 0, stderr
    assert "Traceback" not in stderr

    window = subprocess.run([str(bundle), "--quit-after", "1"], env=bundle_env(tmp_path / "data", free_port()),
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert window.returncode == 0, window.stderr
    assert "window shown" in window.stderr
    assert "Traceback" not in window.stderr and " ERROR " not in window.stderr


def test_deb_installs_and_its_launcher_runs(bundle: Path, tmp_path: Path):
    env = {**os.environ, "BUNDLE": str(bundle.parent), "OUT": str(tmp_path / "out"), "WORK": str(tmp_path / "work"),
           "PYTHON": sys.executable}
    subprocess.run(["bash", str(ROOT / "packaging" / "build_deb.sh")], cwd=ROOT, env=env, check=True, timeout=300,
                   capture_output=True)
    debs = list((tmp_path / "out").glob("ziggy-desktop_*.deb"))
    assert len(debs) == 1 and list((tmp_path / "out").glob("ziggy-desktop-*.tar.gz"))
    info = subprocess.run(["dpkg-deb", "--field", str(debs[0]), "Package", "Version"], capture_output=True,
                          text=True, check=True).stdout
    assert "ziggy-desktop" in info and VERSION in info
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(root)], check=True)
    desktop_entry = (root / "usr/share/applications/ziggy-desktop.desktop").read_text()
    assert "Exec=/usr/bin/ziggy-desktop" in desktop_entry and "Icon=ziggy-desktop" in desktop_entry
    assert (root / "usr/share/icons/hicolor/scalable/apps/ziggy-desktop.svg").is_file()
    version = subprocess.run([str(root / "usr/bin/ziggy-desktop"), "--version"], capture_output=True, text=True,
                             timeout=60)
    assert version.returncode == 0 and version.stdout.strip() == f"ziggy-desktop {VERSION}"

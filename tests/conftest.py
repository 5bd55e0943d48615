"""Shared fixtures: isolated settings, core services, and a real server on an ephemeral port."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator

import pytest

from ziggy_desktop.app import Runtime, start_runtime
from ziggy_desktop.services import Services, open_services
from ziggy_desktop.config import Settings, load_settings

from .helpers import ApiClient


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a fresh data dir, port 0 (ephemeral), nothing from the real environment."""
    data_dir = tmp_path / "data"
    return load_settings({"ZIGGY_DATA_DIR": str(data_dir), "ZIGGY_PORT": "0",
                          "ZIGGY_SHUTDOWN_GRACE_SECONDS": "2"}, cwd=tmp_path)


@pytest.fixture
def make_settings(settings: Settings):
    def build(**changes) -> Settings:
        return dataclasses.replace(settings, **changes)
    return build


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    """Core services without a queue owner role (keys, flows, reads)."""
    opened = open_services(settings, run_flows=False)
    yield opened
    opened.close()


@pytest.fixture
def start_server(settings: Settings):
    """Start a real runtime (queue + HTTP server); stopped at the end of the test."""
    runtimes: list[Runtime] = []

    def start(custom: Settings | None = None) -> Runtime:
        runtime = start_runtime(custom or settings)
        runtimes.append(runtime)
        return runtime

    yield start
    for runtime in reversed(runtimes):
        runtime.shutdown(grace_seconds=1)


@pytest.fixture
def runtime(start_server) -> Runtime:
    return start_server()


@pytest.fixture
def api_key(runtime: Runtime) -> str:
    _, clear_key = runtime.services.keys.create("tests")
    return clear_key


@pytest.fixture
def client(runtime: Runtime, api_key: str) -> ApiClient:
    return ApiClient(runtime.url, api_key)

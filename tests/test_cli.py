"""The command line as users run it: real `python -m ziggy_desktop` subprocesses, alone and beside a server."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from ziggy_desktop.app import Services, open_services
from ziggy_desktop.config import load_settings

from .helpers import ApiClient, free_port, make_flow

REPO_ROOT = Path(__file__).resolve().parent.parent
HELLO_WORLD = REPO_ROOT / "resources" / "flows" / "hello-world.json"
HELLO_WORLD_UUID = "5f0c6a3e-2d1b-4c7a-9e0f-1a2b3c4d5e6f"
KEY_PATTERN = re.compile(r"zgy_[A-Za-z0-9_-]{43}")
STATUS_FIELDS = {"executionId", "terminationStatus", "ms", "executionEnvironmentMode", "createdAt", "flowUuid",
                 "flowName"}
CLI_TIMEOUT = 60.0
SERVER_START_TIMEOUT = 30.0


# -- subprocess plumbing (also used by test_crash_recovery) --------------------------------------------------------


def clean_environment(data_dir: Path, **settings: str) -> dict[str, str]:
    """The test runner's environment minus any Ziggy setting, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZIGGY_", "MAX_"))}
    env["ZIGGY_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


def describe(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"


def wait_until(predicate: Callable[[], Any], timeout: float, what: Callable[[], str] | str) -> Any:
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what() if callable(what) else what}")
        time.sleep(0.02)


@dataclass
class Cli:
    """Runs `python -m ziggy_desktop ...` in `home` (so no stray .env is read) on `data_dir`."""

    home: Path
    data_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        return clean_environment(self.data_dir, **extra)

    def __call__(self, *args: str, timeout: float = CLI_TIMEOUT, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ziggy_desktop", *args], env=self.env(**extra_env),
                              cwd=self.home, capture_output=True, text=True, timeout=timeout)

    def many(self, *commands: tuple[list[str], dict[str, str]]) -> list[subprocess.CompletedProcess]:
        """Run independent commands side by side ((args, extra env) each): same results, less waiting."""
        processes = [(args, subprocess.Popen([sys.executable, "-m", "ziggy_desktop", *args], env=self.env(**env),
                                             cwd=self.home, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             text=True)) for args, env in commands]
        results = []
        try:
            for args, process in processes:
                stdout, stderr = process.communicate(timeout=CLI_TIMEOUT)
                results.append(subprocess.CompletedProcess(args, process.returncode, stdout, stderr))
        finally:
            for _, process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        return results

    def ok(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
        result = self(*args, **extra_env)
        assert result.returncode == 0, describe(result)
        assert "Traceback" not in result.stderr, describe(result)
        return result

    def import_flow(self, path: Path) -> str:
        """Import through the command line, the way a user would; returns the uuid it prints."""
        return self.ok("flows", "import", str(path)).stdout.strip()

    @contextmanager
    def core(self) -> Iterator[Services]:
        """The same database through the core services, in this process: quick set-up and checks
        where the command line itself is not what a test is about."""
        services = open_services(load_settings({"ZIGGY_DATA_DIR": str(self.data_dir)}, cwd=self.home),
                                 run_flows=False)
        try:
            yield services
        finally:
            services.close()

    def detail(self, execution_id: str):
        """What the database holds about a run."""
        with self.core() as services:
            return services.executions.detail(execution_id)

    def key_names(self) -> list[str]:
        with self.core() as services:
            return [info.name for info in services.keys.list()]

    def flow_uuids(self) -> list[str]:
        with self.core() as services:
            return [summary.uuid for summary in services.flows.list()]


def assert_user_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 2, nothing on stdout, one 'ziggy-desktop: error: ...' line on stderr naming every fragment."""
    assert result.returncode == 2, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    assert result.stdout == "", describe(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, describe(result)
    message = lines[0]
    assert message.startswith("ziggy-desktop: error: "), message
    for fragment in fragments:
        assert fragment.lower() in message.lower(), f"{fragment!r} not in {message!r}"
    return message


class ServerProcess:
    """`ziggy-desktop serve` as a child process; its stdout and stderr go to a log file."""

    def __init__(self, cli: Cli, port: int, log_path: Path, **extra_env: str):
        self.port = port
        self.log_path = log_path
        self._log = open(log_path, "w", encoding="utf-8")
        self.process = subprocess.Popen([sys.executable, "-m", "ziggy_desktop", "serve"],
                                        env=cli.env(ZIGGY_PORT=str(port), **extra_env), cwd=cli.home,
                                        stdout=self._log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        # The child writes straight to the file descriptor; nothing is buffered on our side.
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def client(self, key: str | None = None) -> ApiClient:
        return ApiClient(self.url, key)

    def wait_ready(self, timeout: float = SERVER_START_TIMEOUT) -> dict[str, Any]:
        """Poll GET /api/ziggy/health until it answers 200; fail at once if the process died."""
        client = self.client()

        def health() -> dict[str, Any] | None:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode} before it was ready:\n"
                                     f"{self.output()}")
            try:
                response = client.request("GET", "/api/ziggy/health", key=None)
            except OSError:
                return None
            return response.json if response.status == 200 else None

        return wait_until(health, timeout, lambda: f"{self.url} to be healthy; log:\n{self.output()}")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up (a crash or a power cut)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)

    def close(self) -> None:
        """Finaliser: whatever state the test left it in, the process is gone afterwards."""
        if self.process.poll() is None:
            try:
                self.process.send_signal(signal.SIGCONT)  # in case a test stopped it with SIGSTOP
            except ProcessLookupError:
                pass
            self.process.kill()
            self.process.wait(30)
        self._log.close()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path, tmp_path / "data")


@pytest.fixture
def start_serve(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start healthy `serve` processes; any still alive at the end of the test is killed."""
    started: list[ServerProcess] = []

    def start(cli: Cli, port: int | None = None, **extra_env: str) -> ServerProcess:
        server = ServerProcess(cli, port or free_port(), tmp_path / f"serve-{len(started) + 1}.log", **extra_env)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in reversed(started):
        server.close()


# -- keys ----------------------------------------------------------------------------------------------------------


def test_keys_create_prints_only_the_key_and_list_never_shows_it(cli: Cli):
    created = cli.ok("keys", "create", "--name", "Postman")
    key = created.stdout.strip()
    assert created.stdout == f"{key}\n", describe(created)
    assert KEY_PATTERN.fullmatch(key), key
    assert "once" in created.stderr.lower(), describe(created)

    with cli.core() as services:
        second = services.keys.create("CRM webhook")[1]

    table = cli.ok("keys", "list")
    assert key not in table.stdout + table.stderr and second not in table.stdout + table.stderr
    assert "Postman" in table.stdout and "CRM webhook" in table.stdout
    assert key[:12] in table.stdout and second[:12] in table.stdout

    listed = cli.ok("keys", "list", "--json")
    assert key not in listed.stdout + listed.stderr and second not in listed.stdout + listed.stderr
    entries = {entry["name"]: entry for entry in json.loads(listed.stdout)}
    assert set(entries) == {"Postman", "CRM webhook"}
    assert entries["Postman"]["prefix"] == key[:12]
    assert key.startswith(entries["Postman"]["prefix"]) and len(entries["Postman"]["prefix"]) < len(key)
    assert entries["Postman"]["revokedAt"] is None


def test_keys_rename_and_revoke(cli: Cli):
    with cli.core() as services:
        info, key = services.keys.create("old name")
    renamed = cli.ok("keys", "rename", "old name", "new name")
    assert key not in renamed.stdout + renamed.stderr
    assert cli.key_names() == ["new name"]

    revoked = cli.ok("keys", "revoke", key[:12])  # the display prefix finds the key too (as does its id)
    assert key not in revoked.stdout + revoked.stderr
    (entry,) = json.loads(cli.ok("keys", "list", "--json").stdout)
    assert (entry["id"], entry["name"], entry["prefix"]) == (info.id, "new name", key[:12])
    assert entry["revokedAt"] is not None


def test_key_errors_exit_2_with_one_line_saying_what_to_do(cli: Cli, subtests):
    with cli.core() as services:
        services.keys.create("twin")
        services.keys.create("twin")
    cases = {
        "revoke unknown key": (["keys", "revoke", "no-such-key"], ["no-such-key", "keys list"]),
        "rename unknown key": (["keys", "rename", "no-such-key", "new"], ["no-such-key", "keys list"]),
        "create with empty name": (["keys", "create", "--name", ""], ["name"]),
        "create with blank name": (["keys", "create", "--name", "   "], ["name"]),
        "rename to empty name": (["keys", "rename", "1", ""], ["name"]),
        "ambiguous reference": (["keys", "revoke", "twin"], ["twin", "id"]),
    }
    results = cli.many(*((args, {}) for args, _ in cases.values()))
    for (case, (_, fragments)), result in zip(cases.items(), results):
        with subtests.test(msg=case):
            assert_user_error(result, *fragments)
    with cli.core() as services:
        infos = services.keys.list()
    assert [(info.name, info.revoked) for info in infos] == [("twin", False), ("twin", False)]


# -- flows ---------------------------------------------------------------------------------------------------------


def test_flows_import_list_export_delete_round_trip(cli: Cli, tmp_path: Path):
    imported = cli.ok("flows", "import", str(HELLO_WORLD))
    assert imported.stdout.strip() == HELLO_WORLD_UUID

    table = cli.ok("flows", "list").stdout
    assert HELLO_WORLD_UUID in table and "Hello world" in table
    (entry,) = json.loads(cli.ok("flows", "list", "--json").stdout)
    assert (entry["uuid"], entry["name"], entry["tags"]) == (HELLO_WORLD_UUID, "Hello world", ["sample"])

    original = json.loads(HELLO_WORLD.read_text(encoding="utf-8"))
    exported = json.loads(cli.ok("flows", "export", HELLO_WORLD_UUID).stdout)
    assert exported == original

    # Exported JSON imports again as the same flow, and exports identically (written with -o this time).
    export_file = tmp_path / "exported.json"
    cli.ok("flows", "export", HELLO_WORLD_UUID, "-o", str(export_file))
    assert json.loads(export_file.read_text(encoding="utf-8")) == original
    reimported = cli.ok("flows", "import", str(export_file))
    assert reimported.stdout.strip() == HELLO_WORLD_UUID
    with cli.core() as services:
        assert [summary.uuid for summary in services.flows.list()] == [HELLO_WORLD_UUID]
        assert services.flows.get_document(HELLO_WORLD_UUID) == original

    cli.ok("flows", "delete", HELLO_WORLD_UUID)
    assert cli.flow_uuids() == []
    assert_user_error(cli("flows", "export", HELLO_WORLD_UUID), HELLO_WORLD_UUID, "flows list")


def _bad_flow(kind: str) -> str:
    flow = make_flow({"id": "wait", "type": "delay", "config": {"ms": 10}}, name="Bad flow")
    if kind == "bad-json":
        return json.dumps(flow)[:-20]
    if kind == "unknown-type":
        flow["blocks"][1] = {"id": "warp", "type": "teleport", "config": {}}
        flow["edges"] = [{"from": "receiver", "to": "warp"}, {"from": "warp", "to": "end"}]
    elif kind == "missing-block":
        flow["edges"].append({"from": "wait", "to": "ghost"})
    elif kind == "two-receivers":
        flow["blocks"].append({"id": "second-receiver", "type": "receiver", "config": {}})
    elif kind == "delay-without-ms":
        flow["blocks"][1]["config"] = {}
    return json.dumps(flow)


def test_invalid_flow_import_exits_2_naming_the_fault(cli: Cli, tmp_path: Path, subtests):
    assert cli.flow_uuids() == []  # creates the database first (see test_fresh_database_opened_by_many_at_once)
    cases = {
        "bad-json": ["bad-json.json", "JSON"],
        "unknown-type": ["warp", "teleport"],
        "missing-block": ["ghost"],
        "two-receivers": ["receiver"],
        "delay-without-ms": ["wait", "ms"],
    }
    commands = []
    for kind in cases:
        path = tmp_path / f"{kind}.json"
        path.write_text(_bad_flow(kind), encoding="utf-8")
        commands.append((["flows", "import", str(path)], {}))
    for (kind, fragments), result in zip(cases.items(), cli.many(*commands)):
        with subtests.test(msg=kind):
            assert_user_error(result, *fragments)
    assert cli.flow_uuids() == []


# -- run without a server ------------------------------------------------------------------------------------------


def test_run_without_server_runs_in_process_and_prints_status(cli: Cli):
    with cli.core() as services:
        services.flows.save(HELLO_WORLD.read_text(encoding="utf-8"))
    result = cli.ok("run", HELLO_WORLD_UUID)
    status = json.loads(result.stdout)
    assert set(status) == STATUS_FIELDS
    assert status["terminationStatus"] == "SUCCESS"
    assert (status["flowUuid"], status["flowName"], status["executionEnvironmentMode"]) == (
        HELLO_WORLD_UUID, "Hello world", "DEV")
    assert isinstance(status["ms"], int) and status["createdAt"].endswith("Z")

    named = json.loads(cli.ok("run", HELLO_WORLD_UUID, "--mode", "prod", "--execution-id", "my-run-1").stdout)
    assert (named["executionId"], named["executionEnvironmentMode"], named["terminationStatus"]) == (
        "my-run-1", "PROD", "SUCCESS")
    assert cli.detail("my-run-1").view.trigger == "CLI"


def test_run_passes_data_inline_from_file_or_the_test_data(cli: Cli, tmp_path: Path):
    with cli.core() as services:
        flow_uuid = services.flows.save(make_flow(test_data={"from": "test data"}))[0].uuid

    def result_of(*args: str) -> Any:
        status = json.loads(cli.ok("run", flow_uuid, *args).stdout)
        assert status["terminationStatus"] == "SUCCESS", status
        return cli.detail(status["executionId"]).result

    assert result_of() == {"from": "test data"}
    assert result_of("--data", '{"a":1}') == {"a": 1}
    data_file = tmp_path / "payload.json"
    data_file.write_text(json.dumps([{"id": 1}, {"id": 2}]), encoding="utf-8")
    assert result_of("--data", f"@{data_file}") == [{"id": 1}, {"id": 2}]


def test_run_of_failing_flow_exits_1_and_says_fatal(cli: Cli):
    with cli.core() as services:
        flow_uuid = services.flows.save(make_flow({"id": "explode", "type": "fail",
                                                    "config": {"message": "boom"}}))[0].uuid
    result = cli("run", flow_uuid)
    assert result.returncode == 1, describe(result)
    assert "Traceback" not in result.stderr
    status = json.loads(result.stdout)
    assert set(status) == STATUS_FIELDS and status["terminationStatus"] == "FATAL"
    assert "FATAL" in result.stderr and "boom" in result.stderr, describe(result)


def test_run_argument_errors_exit_2(cli: Cli, tmp_path: Path, subtests):
    with cli.core() as services:
        services.flows.save(HELLO_WORLD.read_text(encoding="utf-8"))
    cases = {
        "bad mode": (["run", HELLO_WORLD_UUID, "--mode", "STAGING"], ["DEV", "PROD"]),
        "data not JSON": (["run", HELLO_WORLD_UUID, "--data", "{not json"], ["--data"]),
        "data file missing": (["run", HELLO_WORLD_UUID, "--data", f"@{tmp_path / 'missing.json'}"],
                              ["missing.json"]),
        "unknown flow": (["run", "00000000-0000-4000-8000-000000000000"], ["flows list"]),
    }
    results = cli.many(*((args, {}) for args, _ in cases.values()))
    for (case, (_, fragments)), result in zip(cases.items(), results):
        with subtests.test(msg=case):
            assert_user_error(result, *fragments)


# -- settings ------------------------------------------------------------------------------------------------------


def test_bad_setting_stops_start_up_naming_the_variable(cli: Cli, subtests):
    cases = [("MAX_CONCURENT_JOBS", "abc"), ("ZIGGY_PORT", "99999"), ("MAX_CONCURRENT_JOBS", "0"),
             ("MAX_SYSTEM_QUEUE_SIZE", "lots"), ("ZIGGY_LOG_LEVEL", "LOUD")]
    # A free port each, so that a setting wrongly accepted starts a server that fails this test, not the next.
    results = cli.many(*((["serve"], {"ZIGGY_PORT": str(free_port()), name: value}) for name, value in cases))
    for (name, value), result in zip(cases, results):
        with subtests.test(msg=f"{name}={value}"):
            message = assert_user_error(result, name)
            assert value in message


def test_bad_setting_in_dot_env_of_working_dir_stops_start_up(cli: Cli):
    (cli.home / ".env").write_text("MAX_CONCURENT_JOBS=many\n", encoding="utf-8")
    assert_user_error(cli("keys", "list"), "MAX_CONCURENT_JOBS")


def test_correct_spelling_max_concurrent_jobs_is_accepted(cli: Cli, start_serve):
    server = start_serve(cli, MAX_CONCURRENT_JOBS="3")
    assert server.wait_ready()["maxConcurrentJobs"] == 3
    assert server.stop() == 0, server.output()


# -- several processes on one database ---------------------------------------------------------------------------


def test_fresh_database_opened_by_many_at_once(tmp_path: Path):
    """Commands started together on a new data dir (a script firing `run`s in parallel, the window and a CLI
    at first start) must all open the database. Reproduced with threads, which start truly together: the
    same race that makes parallel `ziggy-desktop` processes intermittently crash with 'database is locked'."""
    for attempt in range(3):
        home = tmp_path / f"attempt-{attempt}"
        settings = load_settings({"ZIGGY_DATA_DIR": str(home / "data")}, cwd=tmp_path)
        barrier = threading.Barrier(6)
        errors: list[str] = []

        def open_and_close() -> None:
            barrier.wait()
            try:
                open_services(settings, run_flows=False).close()
            except Exception as exc:  # noqa: BLE001 - collected and reported below
                errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")

        threads = [threading.Thread(target=open_and_close) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == [], f"attempt {attempt + 1}: {len(errors)} of 6 failed to open a new database: {errors[0]}"


# -- the command line beside a running server ----------------------------------------------------------------------


def test_cli_keys_and_flows_take_effect_on_running_server_at_once(cli: Cli, start_serve):
    server = start_serve(cli)
    flow_uuid = cli.import_flow(HELLO_WORLD)  # imported while the server runs
    key = cli.ok("keys", "create", "--name", "live").stdout.strip()
    client = server.client(key)

    launched = client.launch(flow_uuid, {"name": "Ada"})
    assert launched.status == 202, launched.body
    assert client.wait_finished(launched.json["executionId"])["terminationStatus"] == "SUCCESS"

    cli.ok("keys", "revoke", "live")
    refused = client.launch(flow_uuid, {"name": "Ada"})
    assert refused.status == 401, refused.body
    assert key not in refused.body.decode()
    assert client.status(launched.json["executionId"]).status == 401

    assert server.stop(signal.SIGTERM) == 0, server.output()
    assert "Traceback" not in server.output()
    assert key not in server.output()


def test_cli_run_is_executed_by_running_server(cli: Cli, start_serve):
    server = start_serve(cli)
    with cli.core() as services:
        flow_uuid = services.flows.save(HELLO_WORLD.read_text(encoding="utf-8"))[0].uuid
        client = server.client(services.keys.create("reader")[1])

    waited = cli.ok("run", flow_uuid, "--wait", "--timeout", "30")
    status = json.loads(waited.stdout)
    assert set(status) == STATUS_FIELDS and status["terminationStatus"] == "SUCCESS"
    detail = client.request("GET", f"/api/ziggy/executions/{status['executionId']}")
    assert detail.status == 200 and detail.json["trigger"] == "CLI", detail.body
    assert client.status(status["executionId"]).json == status

    queued = json.loads(cli.ok("run", flow_uuid).stdout)
    assert set(queued) == {"executionId", "state"} and queued["state"] == "QUEUED", queued
    finished = client.wait_finished(queued["executionId"], timeout=30)
    assert finished["terminationStatus"] == "SUCCESS"

    assert server.stop(signal.SIGTERM) == 0, server.output()


def test_second_serve_on_same_port_fails_cleanly(cli: Cli, start_serve, tmp_path: Path):
    server = start_serve(cli)

    other = Cli(tmp_path, tmp_path / "other-data")  # another database, so only the port collides
    clash = other("serve", timeout=20, ZIGGY_PORT=str(server.port))
    assert clash.returncode != 0, describe(clash)
    assert "Traceback" not in clash.stderr, describe(clash)
    assert "in use" in clash.stderr and str(server.port) in clash.stderr, describe(clash)

    same_database = cli("serve", timeout=20, ZIGGY_PORT=str(server.port))
    assert same_database.returncode != 0, describe(same_database)
    assert "Traceback" not in same_database.stderr, describe(same_database)
    assert "already" in same_database.stderr, describe(same_database)

    assert server.client().request("GET", "/api/ziggy/health", key=None).status == 200
    assert server.stop(signal.SIGTERM) == 0, server.output()

"""`ziggy-desktop secrets` and `connections`: values from stdin, the environment or a hidden prompt, never argv."""

from __future__ import annotations

import getpass
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ziggy_desktop.__main__ import main
from ziggy_desktop.vault import Vault, key_file_path

from .test_cli import CLI_TIMEOUT, Cli, assert_user_error, describe

DEV_TOKEN = "pat-na1-dev-0123456789abcdef"
PROD_TOKEN = "pat-na1-prod-fedcba9876543210"
DB_URL = "postgresql://loader:s3cr3t-Pa55@db.example.com:5432/dw"
VALUES = ("dev-api-key-1", "prod-api-key-2", "env-secret-3", DEV_TOKEN, PROD_TOKEN, "s3cr3t-Pa55", "rest-pass-4")


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path, tmp_path / "data")


def run(cli: Cli, *args: str, stdin: str = "", **extra_env: str) -> subprocess.CompletedProcess:
    """The command with `stdin` piped in (never the test runner's terminal: that would make it prompt)."""
    return subprocess.run([sys.executable, "-m", "ziggy_desktop", *args], input=stdin, env=cli.env(**extra_env),
                          cwd=cli.home, capture_output=True, text=True, timeout=CLI_TIMEOUT)


def ok(cli: Cli, *args: str, stdin: str = "", **extra_env: str) -> subprocess.CompletedProcess:
    result = run(cli, *args, stdin=stdin, **extra_env)
    assert result.returncode == 0, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    return result


def run_many(cli: Cli, *commands: tuple[list[str], str, dict[str, str]]) -> list[subprocess.CompletedProcess]:
    """Independent commands side by side ((args, stdin, extra env) each)."""
    processes = [subprocess.Popen([sys.executable, "-m", "ziggy_desktop", *args], env=cli.env(**env), cwd=cli.home,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for args, _, env in commands]
    results = []
    try:
        for (args, stdin, _), process in zip(commands, processes):
            stdout, stderr = process.communicate(stdin, timeout=CLI_TIMEOUT)
            results.append(subprocess.CompletedProcess(args, process.returncode, stdout, stderr))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


def vault_of(cli: Cli, services) -> Vault:
    return Vault(services.engine, key_file_path(cli.data_dir))


def assert_no_values(*results: subprocess.CompletedProcess) -> None:
    for result in results:
        for value in VALUES:
            assert value not in result.stdout + result.stderr, describe(result)


# -- secrets -----------------------------------------------------------------------------------------------------


def test_secrets_set_list_delete_without_values_on_the_command_line(cli: Cli):
    saved = ok(cli, "secrets", "set", "api-key", "--dev-stdin", "--prod-stdin", "--description", "partner API",
               stdin="dev-api-key-1\nprod-api-key-2\n")
    from_env = ok(cli, "secrets", "set", "from.env", "--dev-env", "MY_SECRET", MY_SECRET="env-secret-3")
    assert saved.stdout == "" and "api-key" in saved.stderr and "PROD" in saved.stderr
    with cli.core() as services:
        vault = vault_of(cli, services)
        assert vault.resolve_secret("api-key", "DEV") == "dev-api-key-1"
        assert vault.resolve_secret("api-key", "PROD") == "prod-api-key-2"
        assert vault.resolve_secret("from.env", "PROD") == "env-secret-3"  # no PROD value: DEV's

    table = ok(cli, "secrets", "list")
    listed = ok(cli, "secrets", "list", "--json")
    assert_no_values(saved, from_env, table, listed)
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["NAME", "DEV", "PROD"]
    assert lines[1].split()[:3] == ["api-key", "set", "set"] and lines[1].endswith("partner API")
    assert lines[2].split()[:4] == ["from.env", "set", "=", "DEV"]
    entries = {entry["name"]: entry for entry in json.loads(listed.stdout)}
    assert entries["api-key"]["description"] == "partner API"
    assert (entries["api-key"]["prod"], entries["from.env"]["prod"]) == (True, False)
    assert set(entries["api-key"]) == {"name", "description", "dev", "prod", "readable", "createdAt", "updatedAt"}

    # Replacing without --description keeps the description.
    ok(cli, "secrets", "set", "api-key", "--dev-stdin", stdin="dev-api-key-1\n")
    (entry,) = [e for e in json.loads(ok(cli, "secrets", "list", "--json").stdout) if e["name"] == "api-key"]
    assert (entry["description"], entry["prod"]) == ("partner API", False)

    ok(cli, "secrets", "delete", "api-key")
    assert [e["name"] for e in json.loads(ok(cli, "secrets", "list", "--json").stdout)] == ["from.env"]


def test_secret_errors_exit_2_with_one_line_saying_what_to_do(cli: Cli, subtests):
    ok(cli, "secrets", "list")  # creates the database before the commands below race to
    cases = {
        "no value source and no terminal": (["secrets", "set", "s"], "", {}, ["--dev-stdin", "--dev-env", "history"]),
        "stdin ends early": (["secrets", "set", "s", "--dev-stdin", "--prod-stdin"], "only-one\n", {},
                             ["stdin ended", "PROD"]),
        "environment variable unset": (["secrets", "set", "s", "--dev-env", "NOT_SET_ANYWHERE"], "", {},
                                       ["NOT_SET_ANYWHERE", "not set"]),
        "empty DEV value": (["secrets", "set", "s", "--dev-stdin"], "\n", {}, ["DEV value"]),
        "bad name": (["secrets", "set", "bad name", "--dev-env", "V"], "", {"V": "x"}, ["letters, digits"]),
        "delete unknown": (["secrets", "delete", "ghost"], "", {}, ["ghost", "secrets list"]),
    }
    results = run_many(cli, *((args, stdin, env) for args, stdin, env, _ in cases.values()))
    for (case, (*_, fragments)), result in zip(cases.items(), results):
        with subtests.test(msg=case):
            assert_user_error(result, *fragments)
    assert json.loads(ok(cli, "secrets", "list", "--json").stdout) == []


# -- connections -------------------------------------------------------------------------------------------------


def test_connections_set_list_delete_without_credentials_on_the_command_line(cli: Cli):
    hubspot = ok(cli, "connections", "set", "crm", "--kind", "hubspot", "--field", "baseUrl=http://127.0.0.1:9000",
                 "--dev-stdin", "token", "--prod-env", "token=PROD_TOKEN", "--description", "CRM",
                 stdin=f"{DEV_TOKEN}\n", PROD_TOKEN=PROD_TOKEN)
    sql = ok(cli, "connections", "set", "warehouse", "--kind", "sql", "--dev-stdin", "url", stdin=f"{DB_URL}\n")
    rest = ok(cli, "connections", "set", "partner", "--kind", "rest", "--field", "baseUrl=https://dev.partner.example",
              "--field", "authType=basic", "--field", "username=svc", "--prod-field", "baseUrl=https://partner.example",
              "--dev-env", "password=REST_PASSWORD", REST_PASSWORD="rest-pass-4")
    assert "PROD sets token" in hubspot.stderr and "PROD uses the DEV settings" in sql.stderr
    with cli.core() as services:
        vault = vault_of(cli, services)
        assert vault.resolve_connection("crm", "hubspot", "DEV") == {"baseUrl": "http://127.0.0.1:9000",
                                                                     "token": DEV_TOKEN}
        assert vault.resolve_connection("crm", "hubspot", "PROD")["token"] == PROD_TOKEN
        assert vault.resolve_connection("warehouse", "sql", "PROD") == {"url": DB_URL}
        prod = vault.resolve_connection("partner", "rest", "PROD")
        assert (prod["baseUrl"], prod["username"], prod["password"]) == ("https://partner.example", "svc",
                                                                         "rest-pass-4")

    table = ok(cli, "connections", "list")
    listed = ok(cli, "connections", "list", "--json")
    only_sql = ok(cli, "connections", "list", "--kind", "sql", "--json")
    assert_no_values(hubspot, sql, rest, table, listed, only_sql)
    rows = {line.split()[0]: line for line in table.stdout.splitlines()[1:]}
    assert rows["crm"].split()[1:4] == ["hubspot", "http://127.0.0.1:9000", "token"]
    assert "postgresql://loader:***@db.example.com:5432/dw" in rows["warehouse"]
    assert rows["partner"].split()[1:4] == ["rest", "https://dev.partner.example", "baseUrl"]
    entries = {entry["name"]: entry for entry in json.loads(listed.stdout)}
    assert entries["partner"]["dev"] == {"baseUrl": "https://dev.partner.example", "authType": "basic",
                                         "username": "svc", "password": "********"}
    assert entries["partner"]["prod"] == {"baseUrl": "https://partner.example"}
    assert entries["crm"]["description"] == "CRM"
    assert [e["name"] for e in json.loads(only_sql.stdout)] == ["warehouse"]

    ok(cli, "connections", "delete", "warehouse")
    assert [e["name"] for e in json.loads(ok(cli, "connections", "list", "--json").stdout)] == ["crm", "partner"]


def test_connection_errors_exit_2_with_one_line_saying_what_to_do(cli: Cli, subtests):
    ok(cli, "connections", "list")
    cases = {
        "secret field as an argument": (["connections", "set", "c", "--kind", "hubspot", "--field",
                                         f"token={DEV_TOKEN}"], "", ["secret field", "--dev-stdin token"]),
        "secret PROD field as an argument": (["connections", "set", "c", "--kind", "rest", "--field",
                                              "baseUrl=https://x.example", "--prod-field", "password=rest-pass-4"],
                                             "", ["secret field", "--prod-stdin password"]),
        "unknown field": (["connections", "set", "c", "--kind", "rest", "--field", "baseUrl=https://x.example",
                           "--field", "timeout=5"], "", ["'timeout'", "baseUrl, authType"]),
        "field without =": (["connections", "set", "c", "--kind", "rest", "--field", "baseUrl"], "", ["KEY=VALUE"]),
        "required secret not given": (["connections", "set", "c", "--kind", "hubspot"], "", ["token is required"]),
        "bad base URL": (["connections", "set", "c", "--kind", "rest", "--field", "baseUrl=partner.example"], "",
                         ["baseUrl", "http"]),
        "stdin ends early": (["connections", "set", "c", "--kind", "sql", "--dev-stdin", "url"], "",
                             ["stdin ended", "url"]),
        "delete unknown": (["connections", "delete", "ghost"], "", ["ghost", "connections list"]),
    }
    results = run_many(cli, *((args, stdin, {}) for args, stdin, _ in cases.values()))
    for (case, (*_, fragments)), result in zip(cases.items(), results):
        with subtests.test(msg=case):
            message = assert_user_error(result, *fragments)
            assert_no_values(result)
            assert "rest-pass-4" not in message
    assert json.loads(ok(cli, "connections", "list", "--json").stdout) == []


# -- at a terminal: hidden prompts (in this process, with getpass answered by the test) ----------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def at_terminal(tmp_path: Path, monkeypatch):
    """main() as run from a terminal on a fresh data dir; returns the prompts shown and the answers queue."""
    for name in list(os.environ):
        if name.startswith(("ZIGGY_", "MAX_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ZIGGY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", _Terminal(""))
    prompts: list[str] = []
    answers: list[str] = []

    def fake_getpass(prompt: str = "Password: ", stream=None) -> str:
        prompts.append(prompt)
        return answers.pop(0)

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    return prompts, answers


def test_secret_values_are_asked_for_at_a_terminal(at_terminal, tmp_path: Path, capsys, monkeypatch):
    prompts, answers = at_terminal
    answers += ["dev-api-key-1", ""]  # Enter at the PROD prompt: PROD runs use the DEV value
    assert main(["secrets", "set", "api-key"]) == 0
    assert prompts == ["DEV value of secret 'api-key': ",
                       "PROD value of secret 'api-key' (empty: PROD runs use the DEV value): "]
    captured = capsys.readouterr()
    assert "dev-api-key-1" not in captured.out + captured.err
    assert "PROD runs use it too" in captured.err

    answers += [PROD_TOKEN]  # only PROD is asked for: DEV came from the environment
    monkeypatch.setenv("DEV_TOKEN_VAR", DEV_TOKEN)
    assert main(["connections", "set", "api", "--kind", "rest", "--field", "baseUrl=https://x.example",
                 "--field", "authType=bearer", "--dev-env", "token=DEV_TOKEN_VAR"]) == 0
    assert prompts[2:] == ["PROD token of connection 'api' (empty: use the DEV value): "]
    assert answers == []

    from ziggy_desktop.db import create_db_engine

    engine = create_db_engine(f"sqlite:///{tmp_path / 'data' / 'ziggy.db'}")
    try:
        vault = Vault(engine, key_file_path(tmp_path / "data"))
        assert vault.resolve_secret("api-key", "PROD") == "dev-api-key-1"
        assert vault.resolve_connection("api", "rest", "DEV")["token"] == DEV_TOKEN
        assert vault.resolve_connection("api", "rest", "PROD")["token"] == PROD_TOKEN
    finally:
        engine.dispose()

"""The vault: DEV/PROD secrets and connections, encryption at rest, key file handling, resolve per mode."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.engine import Engine

from ziggy_desktop.engine.context import BlockError, RunContext, RunResources
from ziggy_desktop.errors import NotFoundError, ValidationError, ZiggyError
from ziggy_desktop.models import ConnectionRecord, SecretRecord
from ziggy_desktop.vault import KEEP, MASK, Vault, key_file_path

DEV_TOKEN = "pat-na1-dev-0123456789abcdef"
PROD_TOKEN = "pat-na1-prod-fedcba9876543210"
DB_PASSWORD = "s3cr3t-Pa55"
VALUES = (DEV_TOKEN, PROD_TOKEN, DB_PASSWORD, "dev-api-key-1", "prod-api-key-2", "rest-password-9", "hv-77")


@pytest.fixture
def engine(services) -> Engine:
    return services.engine


@pytest.fixture
def key_path(settings) -> Path:
    return key_file_path(settings.data_dir)


@pytest.fixture
def vault(engine: Engine, key_path: Path) -> Vault:
    return Vault(engine, key_path)


def fill(vault: Vault) -> None:
    """One of each: a secret with and without a PROD value, and a connection of every kind."""
    vault.set_secret("api-key", "dev-api-key-1", "prod-api-key-2", description="the partner API")
    vault.set_secret("dev.only", "dev-only-value")
    vault.set_connection("crm", "hubspot", {"token": DEV_TOKEN}, {"token": PROD_TOKEN})
    vault.set_connection("warehouse", "sql", {"url": f"postgresql://loader:{DB_PASSWORD}@db.example.com:5432/dw"})
    vault.set_connection("partner", "rest", {"baseUrl": "https://dev.partner.example/api/", "authType": "basic",
                                             "username": "svc", "password": "rest-password-9"},
                         {"baseUrl": "https://partner.example/api"})
    vault.set_connection("hooks", "rest", {"baseUrl": "http://localhost:8080", "authType": "header",
                                           "headerName": "X-Api-Key", "headerValue": "hv-77"})


# -- secrets ---------------------------------------------------------------------------------------------------


def test_secret_round_trip_and_prod_falls_back_to_dev(vault: Vault):
    created = vault.set_secret("api-key", "dev-api-key-1", "prod-api-key-2", description="  the partner API ")
    assert (created.name, created.description, created.dev_set, created.prod_set) == (
        "api-key", "the partner API", True, True)
    vault.set_secret("dev.only", "dev-only-value")

    assert vault.resolve_secret("api-key", "DEV") == "dev-api-key-1"
    assert vault.resolve_secret("api-key", "PROD") == "prod-api-key-2"
    assert vault.resolve_secret("dev.only", "prod") == "dev-only-value"  # empty PROD: the DEV value
    assert vault.secrets_for("DEV") == {"api-key": "dev-api-key-1", "dev.only": "dev-only-value"}
    assert vault.secrets_for("PROD") == {"api-key": "prod-api-key-2", "dev.only": "dev-only-value"}

    listed = {info.name: info for info in vault.list_secrets()}
    assert [(i.name, i.dev_set, i.prod_set, i.readable) for i in listed.values()] == [
        ("api-key", True, True, True), ("dev.only", True, False, True)]
    assert not any(value in repr(listed) for value in VALUES + ("dev-only-value",))

    # Replacing keeps the creation time; the PROD value can be removed again.
    replaced = vault.set_secret("api-key", "dev-api-key-3")
    assert replaced.created_at == created.created_at and replaced.updated_at >= created.updated_at
    assert vault.resolve_secret("api-key", "PROD") == "dev-api-key-3"

    vault.delete_secret("api-key")
    assert [info.name for info in vault.list_secrets()] == ["dev.only"]
    with pytest.raises(NotFoundError, match="secrets list"):
        vault.delete_secret("api-key")


def test_secret_needs_a_dev_value(vault: Vault):
    with pytest.raises(ValidationError, match="DEV value"):
        vault.set_secret("empty", "", "prod-only")
    with pytest.raises(ValidationError, match="text"):
        vault.set_secret("number", 12345)  # type: ignore[arg-type]
    assert vault.list_secrets() == []


def test_keep_leaves_stored_values_alone(vault: Vault):
    vault.set_secret("api-key", "dev-api-key-1", "prod-api-key-2")
    vault.set_secret("api-key", KEEP, KEEP, description="renamed partner")
    assert (vault.resolve_secret("api-key", "DEV"), vault.resolve_secret("api-key", "PROD")) == (
        "dev-api-key-1", "prod-api-key-2")
    assert vault.list_secrets()[0].description == "renamed partner"

    vault.set_connection("crm", "hubspot", {"token": DEV_TOKEN}, {"token": PROD_TOKEN})
    vault.set_connection("crm", "hubspot", {"token": KEEP, "baseUrl": "http://127.0.0.1:9000"}, {"token": KEEP})
    assert vault.resolve_connection("crm", "hubspot", "PROD") == {"baseUrl": "http://127.0.0.1:9000",
                                                                  "token": PROD_TOKEN}


# -- connections -----------------------------------------------------------------------------------------------


def test_connections_resolve_per_mode_with_per_field_fallback(vault: Vault):
    fill(vault)
    assert vault.resolve_connection("crm", "hubspot", "DEV") == {"baseUrl": "https://api.hubapi.com",
                                                                 "token": DEV_TOKEN}
    assert vault.resolve_connection("crm", "hubspot", "PROD") == {"baseUrl": "https://api.hubapi.com",
                                                                  "token": PROD_TOKEN}
    assert vault.resolve_connection("warehouse", "sql", "PROD") == {
        "url": f"postgresql://loader:{DB_PASSWORD}@db.example.com:5432/dw"}

    rest_dev = vault.resolve_connection("partner", "rest", "DEV")
    assert rest_dev == {"baseUrl": "https://dev.partner.example/api", "authType": "basic", "token": "",
                        "username": "svc", "password": "rest-password-9", "headerName": "", "headerValue": ""}
    # PROD sets only its base URL: every other field comes from DEV.
    assert vault.resolve_connection("partner", "rest", "PROD") == {**rest_dev,
                                                                   "baseUrl": "https://partner.example/api"}

    # What a run gets is its own copy.
    vault.resolve_connection("crm", "hubspot", "DEV")["token"] = "changed"
    assert vault.resolve_connection("crm", "hubspot", "DEV")["token"] == DEV_TOKEN


def test_connection_info_shows_targets_but_never_credentials(vault: Vault):
    fill(vault)
    infos = {info.name: info for info in vault.list_connections()}
    assert list(infos) == ["crm", "hooks", "partner", "warehouse"]
    assert infos["crm"].dev == {"token": MASK} and infos["crm"].prod == {"token": MASK}
    assert infos["crm"].target == "https://api.hubapi.com"
    assert infos["warehouse"].dev == {"url": "postgresql://loader:***@db.example.com:5432/dw"}
    assert infos["warehouse"].prod == {}
    assert infos["partner"].dev == {"baseUrl": "https://dev.partner.example/api", "authType": "basic",
                                    "username": "svc", "password": MASK}
    assert infos["partner"].prod == {"baseUrl": "https://partner.example/api"}
    assert infos["hooks"].dev["headerName"] == "X-Api-Key" and infos["hooks"].dev["headerValue"] == MASK
    assert not any(value in repr(infos) for value in VALUES)

    assert vault.get_connection_info("warehouse") == infos["warehouse"]
    assert [info.name for info in vault.list_connections("rest")] == ["hooks", "partner"]

    vault.delete_connection("hooks")
    assert [info.name for info in vault.list_connections()] == ["crm", "partner", "warehouse"]
    with pytest.raises(NotFoundError, match="connections list"):
        vault.delete_connection("hooks")
    with pytest.raises(NotFoundError, match="No connection named 'hooks'"):
        vault.get_connection_info("hooks")


@pytest.mark.parametrize("kind, dev, prod, fragments", [
    ("ftp", {"url": "ftp://x"}, None, ["'ftp'", "hubspot, sql, rest"]),
    ("hubspot", {"token": DEV_TOKEN, "apiKey": "x"}, None, ["'apiKey'", "baseUrl, token"]),
    ("rest", {"baseUrl": "https://x.example"}, {"bearer": "x"}, ["'bearer'", "authType", "headerValue"]),
    ("hubspot", {"baseUrl": "https://api.hubapi.com"}, {"token": PROD_TOKEN}, ["DEV", "token is required"]),
    ("sql", {}, None, ["url is required"]),
    ("rest", {"authType": "none"}, None, ["baseUrl is required"]),
    ("rest", {"baseUrl": "partner.example/api"}, None, ["baseUrl", "http"]),
    ("hubspot", {"token": DEV_TOKEN}, {"baseUrl": "ftp://api.hubapi.com"}, ["PROD", "baseUrl"]),
    ("sql", {"url": f"not a url {DB_PASSWORD}"}, None, ["not a database URL"]),
    ("rest", {"baseUrl": "https://x.example", "authType": "oauth"}, None, ["authType", "bearer"]),
    ("rest", {"baseUrl": "https://x.example", "authType": "bearer"}, None, ["'bearer' needs token"]),
    ("rest", {"baseUrl": "https://x.example", "authType": "basic"}, None, ["needs username"]),
    ("rest", {"baseUrl": "https://x.example", "authType": "header", "headerName": "X Key", "headerValue": "v"}, None,
     ["headerName", "not a valid"]),
    ("hubspot", {"token": 42}, None, ["token must be text"]),
])
def test_bad_connection_settings_are_refused_naming_the_field(vault: Vault, kind, dev, prod, fragments):
    with pytest.raises(ValidationError) as raised:
        vault.set_connection("conn", kind, dev, prod)
    for fragment in fragments:
        assert fragment in raised.value.message, raised.value.message
    assert DB_PASSWORD not in raised.value.message
    assert vault.list_connections() == []


def test_prod_fields_may_rely_on_dev_fields(vault: Vault):
    # PROD switches to bearer auth and takes its token from DEV: complete once merged.
    vault.set_connection("api", "rest", {"baseUrl": "https://x.example", "token": "shared-token"},
                         {"authType": "bearer"})
    assert vault.resolve_connection("api", "rest", "DEV")["authType"] == "none"
    prod = vault.resolve_connection("api", "rest", "PROD")
    assert (prod["authType"], prod["token"]) == ("bearer", "shared-token")


# -- names, modes and what runs see ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "with space", "x" * 101, "ünïcode", "a/b", "semi;colon", None])
def test_bad_names_are_refused(vault: Vault, name):
    with pytest.raises(ValidationError, match="1 to 100 letters, digits"):
        vault.set_secret(name, "value")
    with pytest.raises(ValidationError, match="connection name"):
        vault.set_connection(name, "sql", {"url": "sqlite:///x.db"})


@pytest.mark.parametrize("name", ["a", "A-b_c.1", "x" * 100])
def test_good_names_are_accepted(vault: Vault, name):
    vault.set_secret(name, "value")
    vault.set_connection(name, "sql", {"url": "sqlite:///x.db"})
    assert vault.resolve_secret(name, "DEV") == "value"
    assert vault.resolve_connection(name, "sql", "DEV") == {"url": "sqlite:///x.db"}


def test_resolve_errors_say_what_to_do(vault: Vault):
    fill(vault)
    with pytest.raises(NotFoundError) as missing:
        vault.resolve_connection("nope", "hubspot", "DEV")
    assert missing.value.message == ("No connection named 'nope'; add it in Secrets & Connections or with "
                                     "`ziggy-desktop connections set`.")
    with pytest.raises(ValidationError) as mismatch:
        vault.resolve_connection("warehouse", "hubspot", "DEV")
    assert "is a sql connection" in mismatch.value.message and "needs a hubspot connection" in mismatch.value.message
    with pytest.raises(NotFoundError, match="No secret named 'nope'.*secrets set nope"):
        vault.resolve_secret("nope", "DEV")
    with pytest.raises(ValidationError, match="DEV or PROD"):
        vault.resolve_secret("api-key", "STAGING")


def test_run_context_reaches_the_vault_and_turns_its_errors_into_block_errors(vault: Vault):
    fill(vault)
    ctx = RunContext("run-1", "PROD", None, False, resources=RunResources(vault=vault))
    assert ctx.connection("crm", "hubspot")["token"] == PROD_TOKEN
    assert ctx.secret("api-key") == "prod-api-key-2"
    assert ctx.secrets()["dev.only"] == "dev-only-value"
    with pytest.raises(BlockError, match="No connection named 'nope'"):
        ctx.connection("nope", "sql")
    with pytest.raises(BlockError, match="needs a rest connection"):
        ctx.connection("crm", "rest")


# -- encryption at rest and the key file -------------------------------------------------------------------------


def test_values_are_encrypted_at_rest_with_an_owner_only_key_file(vault: Vault, engine: Engine, key_path: Path):
    assert not key_path.exists()  # made on first use, not before
    fill(vault)
    with engine.connect() as conn:
        raw = [tuple(row) for row in conn.execute(select(SecretRecord.__table__))]
        raw += [tuple(row) for row in conn.execute(select(ConnectionRecord.__table__))]
    dump = repr(raw)
    for value in VALUES + ("svc", "dev.partner.example", "loader"):
        assert value not in dump
    assert "api-key" in dump and "the partner API" in dump  # names and descriptions are not secret

    # The rows are Fernet tokens of this key file's key (and of nothing else).
    fernet = Fernet(key_path.read_bytes())
    secret_row = next(row for row in raw if row[0] == "api-key")
    assert fernet.decrypt(secret_row[2].encode()).decode() == "dev-api-key-1"
    assert not [p for p in key_path.parent.iterdir() if p.name.endswith(".tmp")]
    if os.name != "nt":
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_a_key_file_readable_by_others_is_tightened(engine: Engine, key_path: Path):
    Vault(engine, key_path).set_secret("a", "value")
    key_path.chmod(0o644)
    assert Vault(engine, key_path).resolve_secret("a", "DEV") == "value"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_missing_key_file_gives_a_clear_error_and_new_values_can_be_entered(engine: Engine, key_path: Path):
    fill(Vault(engine, key_path))
    key_path.unlink()

    vault = Vault(engine, key_path)
    for call in (lambda: vault.resolve_secret("api-key", "DEV"), lambda: vault.resolve_connection("crm", "hubspot",
                                                                                                 "PROD"),
                 lambda: vault.secrets_for("DEV")):
        with pytest.raises(ZiggyError) as raised:
            call()
        assert raised.value.code == "VAULT_KEY_MISSING"
        assert str(key_path) in raised.value.message and "missing" in raised.value.message
        assert "re-enter" in raised.value.message
    # The lists still show what is there, marked unreadable, so the user knows what to re-enter.
    assert [(i.name, i.readable) for i in vault.list_secrets()] == [("api-key", False), ("dev.only", False)]
    assert {i.name: i.readable for i in vault.list_connections()}["crm"] is False

    # Re-entering a value makes a new key; the others then name themselves as unreadable.
    vault.set_secret("api-key", "new-dev-value")
    assert vault.resolve_secret("api-key", "PROD") == "new-dev-value"
    assert key_path.exists()
    with pytest.raises(ZiggyError) as stale:
        vault.resolve_secret("dev.only", "DEV")
    assert stale.value.code == "VAULT_VALUE_UNREADABLE"
    assert "secret 'dev.only'" in stale.value.message and "secrets set" in stale.value.message
    with pytest.raises(ZiggyError, match="connection 'crm'.*connections set"):
        vault.resolve_connection("crm", "hubspot", "DEV")


def test_damaged_key_file_gives_a_clear_error_and_is_not_overwritten(engine: Engine, key_path: Path):
    fill(Vault(engine, key_path))
    key_path.write_bytes(b"this is not a fernet key\n")
    vault = Vault(engine, key_path)
    for call in (lambda: vault.resolve_secret("api-key", "DEV"), lambda: vault.set_secret("other", "value")):
        with pytest.raises(ZiggyError) as raised:
            call()
        assert raised.value.code == "VAULT_KEY_INVALID"
        assert str(key_path) in raised.value.message and "damaged" in raised.value.message
    assert key_path.read_bytes() == b"this is not a fernet key\n"


def test_another_key_gives_a_clear_error_naming_the_value(engine: Engine, key_path: Path):
    fill(Vault(engine, key_path))
    key_path.write_bytes(Fernet.generate_key())
    vault = Vault(engine, key_path)
    with pytest.raises(ZiggyError) as raised:
        vault.resolve_connection("warehouse", "sql", "DEV")
    assert raised.value.code == "VAULT_VALUE_UNREADABLE"
    assert "connection 'warehouse'" in raised.value.message and "another key" in raised.value.message
    assert DB_PASSWORD not in raised.value.message


def test_vaults_created_at_once_agree_on_one_key(engine: Engine, key_path: Path):
    """Processes saving their first value together must not each write a key of their own."""
    count = 6
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def save(index: int) -> None:
        vault = Vault(engine, key_path)
        barrier.wait()
        try:
            vault.set_secret(f"s{index}", f"value-{index}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert Vault(engine, key_path).secrets_for("DEV") == {f"s{i}": f"value-{i}" for i in range(count)}


# -- several processes ------------------------------------------------------------------------------------------


def test_two_vaults_see_each_others_writes(engine: Engine, key_path: Path):
    """Two Vaults on one database and key file: the window and a CLI, or the server and a CLI."""
    first = Vault(engine, key_path, cache_seconds=0)
    second = Vault(engine, key_path, cache_seconds=0)
    first.set_secret("shared", "one")
    assert second.resolve_secret("shared", "DEV") == "one"
    second.set_secret("shared", "two", "two-prod")
    assert first.resolve_secret("shared", "PROD") == "two-prod"
    second.set_connection("db", "sql", {"url": "sqlite:///a.db"})
    assert first.resolve_connection("db", "sql", "DEV") == {"url": "sqlite:///a.db"}
    first.delete_connection("db")
    with pytest.raises(NotFoundError):
        second.resolve_connection("db", "sql", "DEV")


def test_cached_view_of_other_writes_lasts_at_most_the_cache_time(engine: Engine, key_path: Path):
    now = [1000.0]
    reader = Vault(engine, key_path, cache_seconds=2.0, clock=lambda: now[0])
    writer = Vault(engine, key_path)
    writer.set_secret("token", "old")
    assert reader.resolve_secret("token", "DEV") == "old"

    writer.set_secret("token", "new")
    writer.set_secret("added", "value")
    now[0] += 1.0
    assert reader.resolve_secret("token", "DEV") == "old"  # cached: no database read per run
    now[0] += 1.0
    assert reader.resolve_secret("token", "DEV") == "new"
    assert reader.resolve_secret("added", "DEV") == "value"

    reader.set_secret("token", "own")  # a Vault's own writes show at once
    assert reader.resolve_secret("token", "DEV") == "own"
    writer.delete_secret("added")
    assert [i.name for i in reader.list_secrets()] == ["token"]  # lists always read the database

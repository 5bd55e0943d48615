"""The sql block against real SQLite files: every operation, batching, bad config and data, kill and timeout."""

from __future__ import annotations

import gc
import socket
import sqlite3
import threading
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event

from ziggy_desktop.engine import RunContext, RunResources, compile_flow, run_flow
from ziggy_desktop.engine import sql_engines
from ziggy_desktop.engine.blocks.sql import Sql, _compile
from ziggy_desktop.errors import NotFoundError, ValidationError
from ziggy_desktop.flows import validate_flow

from ..helpers import make_flow
from ..postgres_server import postgres_url  # noqa: F401 - the fixture


class StandInVault:
    """resolve_connection as vault.py answers it, from a dict of name -> URL."""

    def __init__(self, urls: dict[str, str]):
        self.urls = urls

    def resolve_connection(self, name: str, kind: str, mode: str) -> dict[str, Any]:
        assert kind == "sql"
        if name not in self.urls:
            raise NotFoundError(f"there is no connection named {name!r}; add it on the Connections page")
        return {"url": self.urls[name]}


@pytest.fixture(autouse=True)
def fresh_engines():
    yield
    sql_engines.dispose_all()


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "target.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT, "
                     "meta TEXT)")
    return path


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


def context(db: Path, payload: Any = None, execution_id: str = "e1") -> RunContext:
    return RunContext(execution_id, "DEV", payload, False,
                      resources=RunResources(vault=StandInVault({"target": url_of(db)})))


def run(flow: dict, ctx: RunContext):
    compiled = compile_flow(validate_flow(flow))
    ctx.start_clock(compiled.timeout_seconds)
    return run_flow(compiled, ctx)


def sql(operation: str = "select", **config: Any) -> dict:
    return {"id": "sql", "type": "sql", "config": {"connection": "target", "operation": operation, **config}}


def edge(outcome, src: str, port: str = "out") -> dict[str, Any]:
    return next(e for e in outcome.edges if e["from"] == src and e["fromPort"] == port)


def rows(db: Path, query: str = "SELECT id, email, name, meta FROM contacts ORDER BY id") -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()


def fill(db: Path, count: int) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                     "INSERT INTO contacts (id, email, name) SELECT i, 'user' || i || '@example.com', 'User ' || i "
                     "FROM n", (count,))


UPSERT = {"table": "contacts", "keyColumns": ["id"],
          "columns": [{"column": "id"}, {"column": "email", "field": "contact.email"}, {"column": "name"},
                      {"column": "meta"}]}


# -- writes ---------------------------------------------------------------------------------------------------


def test_csv_to_sql_upsert_through_the_engine_updates_instead_of_duplicating(tmp_path, db):
    source = tmp_path / "contacts.csv"
    source.write_text("id,email,name\n" + "".join(f"{i},u{i}@example.com,User {i}\n" for i in range(1, 2501)),
                      encoding="utf-8")
    config = {"table": "contacts", "keyColumns": ["id"], "columns": [{"column": "id"}, {"column": "email"},
                                                                     {"column": "name"}]}
    flow = make_flow({"id": "read", "type": "file_read", "config": {"path": str(source), "batchSize": 1000}},
                     sql("upsert", **config))
    ctx = context(db)
    outcome = run(flow, ctx)
    assert outcome.status == "SUCCESS", outcome.reason
    assert edge(outcome, "sql")["batches"] == 3 and edge(outcome, "sql")["records"] == 2500
    assert ctx.console[-1]["message"] == ("sql upsert into contacts: 2,500 records in 3 batches, 2,500 rows "
                                          "affected")
    source.write_text("id,email,name\n1,changed@example.com,Changed\n9999,new@example.com,New\n", encoding="utf-8")
    assert run(flow, context(db)).status == "SUCCESS"
    assert rows(db, "SELECT count(*) FROM contacts") == [(2501,)]
    assert rows(db, "SELECT email, name FROM contacts WHERE id IN (1, 9999) ORDER BY id") == [
        ("changed@example.com", "Changed"), ("new@example.com", "New")]


def test_insert_maps_fields_passes_records_on_and_stores_nested_data_as_json(db):
    records = [{"id": 1, "contact": {"email": "a@example.com"}, "name": "A", "meta": {"tags": ["x"]}},
               {"id": 2, "contact": {"email": "b@example.com"}}]
    outcome = run(make_flow(sql("insert", **UPSERT)), context(db, records))
    assert outcome.status == "SUCCESS", outcome.reason
    assert outcome.result == records  # the records pass on unchanged
    assert rows(db) == [(1, "a@example.com", "A", '{"tags": ["x"]}'), (2, "b@example.com", None, None)]


def test_update_and_delete_by_key(db):
    fill(db, 5)
    updated = run(make_flow(sql("update", table="contacts", keyColumns=["id"], columns=[{"column": "name"}])),
                  context(db, [{"id": 2, "name": "Two"}, {"id": 3, "name": "Three"}, {"id": 42, "name": "None"}]))
    assert updated.status == "SUCCESS", updated.reason
    deleted_ctx = context(db, [{"id": 4}, {"id": 5}])
    deleted = run(make_flow(sql("delete", table="contacts", keyColumns=["id"])), deleted_ctx)
    assert deleted.status == "SUCCESS", deleted.reason
    assert rows(db, "SELECT id, name FROM contacts ORDER BY id") == [(1, "User 1"), (2, "Two"), (3, "Three")]
    assert "2 rows affected" in deleted_ctx.console[-1]["message"]


def test_upsert_with_only_key_columns_does_nothing_on_conflict(tmp_path):
    path = tmp_path / "tags.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE tags (name TEXT PRIMARY KEY)")
    ctx = RunContext("e1", "DEV", [{"name": "a"}, {"name": "b"}, {"name": "a"}], False,
                     resources=RunResources(vault=StandInVault({"target": url_of(path)})))
    outcome = run(make_flow(sql("upsert", table="tags", keyColumns=["name"], columns=[])), ctx)
    assert outcome.status == "SUCCESS", outcome.reason
    assert rows(path, "SELECT name FROM tags ORDER BY name") == [("a",), ("b",)]


def test_a_failing_batch_is_rolled_back_and_names_the_database_error(db):
    records = [{"id": 1, "contact": {"email": "a@example.com"}}, {"id": 2, "contact": {}}]  # email is NOT NULL
    outcome = run(make_flow(sql("insert", **UPSERT)), context(db, records))
    assert outcome.status == "FATAL" and outcome.failed_block == "sql"
    assert "insert into contacts failed" in outcome.reason
    assert "NOT NULL constraint failed: contacts.email" in outcome.reason
    assert rows(db) == []  # one transaction per batch: the first record is not left behind


def test_a_record_without_its_key_is_refused(db):
    outcome = run(make_flow(sql("upsert", **UPSERT)), context(db, [{"id": 1, "contact": {"email": "a@x"}},
                                                                    {"contact": {"email": "b@x"}}]))
    assert outcome.status == "FATAL"
    assert "record 1 of the batch has no value for the key column 'id'" in outcome.reason
    assert rows(db) == []


def test_writes_need_records(db):
    outcome = run(make_flow(sql("insert", **UPSERT)), context(db, ["not a record"]))
    assert outcome.status == "FATAL" and "needs records (objects)" in outcome.reason


# -- select ---------------------------------------------------------------------------------------------------


def test_select_streams_rows_in_batches_and_stops_at_max_iterations(db):
    fill(db, 25_000)
    ctx = context(db)
    outcome = run(make_flow(sql(statement="SELECT id, email FROM contacts ORDER BY id", batchSize=1000)), ctx)
    assert outcome.status == "SUCCESS", outcome.reason
    out = edge(outcome, "sql")
    assert (out["batches"], out["records"]) == (25, 25_000)
    assert out["sample"][0] == {"id": 1, "email": "user1@example.com"}
    assert "25,000 rows in 25 batches" in ctx.console[-1]["message"]
    limited = run(make_flow(sql(statement="SELECT id FROM contacts", batchSize=1000, maxIterations=2)), context(db))
    assert (edge(limited, "sql")["batches"], edge(limited, "sql")["records"]) == (2, 2000)


def test_select_binds_parameters_from_each_record_and_from_parameters(db):
    fill(db, 10)
    statement = "SELECT id, name FROM contacts WHERE id BETWEEN :low AND :high ORDER BY id"
    outcome = run(make_flow(sql(statement=statement, parameters={"high": 3})),
                  context(db, [{"low": 2}, {"low": 9, "high": 10}]))
    assert outcome.status == "SUCCESS", outcome.reason
    assert outcome.result == [{"id": 2, "name": "User 2"}, {"id": 3, "name": "User 3"},
                              {"id": 9, "name": "User 9"}, {"id": 10, "name": "User 10"}]


def test_a_bound_value_is_data_never_sql(db):
    fill(db, 3)
    hostile = "1 OR 1=1; DROP TABLE contacts"
    outcome = run(make_flow(sql(statement="SELECT id FROM contacts WHERE name = :name")),
                  context(db, {"name": hostile}))
    assert outcome.status == "SUCCESS", outcome.reason
    assert outcome.result == []  # no rows, and the table is still there
    assert rows(db, "SELECT count(*) FROM contacts") == [(3,)]


def test_select_without_rows_emits_an_empty_batch(db):
    outcome = run(make_flow(sql(statement="SELECT * FROM contacts")), context(db))
    assert outcome.status == "SUCCESS" and outcome.result == []


def test_a_missing_parameter_says_where_values_come_from(db):
    outcome = run(make_flow(sql(statement="SELECT * FROM contacts WHERE id = :id")), context(db, {"other": 1}))
    assert outcome.status == "FATAL"
    assert "the statement's :id has no value" in outcome.reason and "config.parameters" in outcome.reason


def test_select_of_a_large_table_streams_in_bounded_memory(db):
    fill(db, 200_000)
    flow = make_flow(sql(statement="SELECT id, email, name FROM contacts", batchSize=1000))
    gc.collect()
    tracemalloc.start()
    try:
        outcome = run(flow, context(db))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert edge(outcome, "sql")["records"] == 200_000
    # All the rows as dicts would take ~90 MB; a few batches of 1000 take well under a tenth of that.
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


# -- raw ------------------------------------------------------------------------------------------------------


def test_raw_runs_ddl_once_per_batch_and_parameterised_statements_per_record(tmp_path):
    path = tmp_path / "raw.db"
    path.touch()
    ctx = RunContext("e1", "DEV", [{"k": "a", "v": 1}, {"k": "b", "v": 2}], False,
                     resources=RunResources(vault=StandInVault({"target": url_of(path)})))
    flow = make_flow({"id": "ddl", "type": "sql", "config": {
                         "connection": "target", "operation": "raw",
                         "statement": "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v INTEGER)"}},
                     sql("raw", statement="INSERT INTO kv (k, v) VALUES (:k, :v * 10)"))
    outcome = run(flow, ctx)
    assert outcome.status == "SUCCESS", outcome.reason
    assert outcome.result == [{"k": "a", "v": 1}, {"k": "b", "v": 2}]
    assert rows(path, "SELECT k, v FROM kv ORDER BY k") == [("a", 10), ("b", 20)]
    assert "2 statements, 2 rows affected" in ctx.console[-1]["message"]


# -- config, connections and errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("config, message", [
    ({"operation": "select"}, "config.connection is required"),
    ({"connection": "target", "operation": "select"}, "config.statement is required for select"),
    ({"connection": "target", "operation": "merge"}, "config.operation must be one of"),
    ({"connection": "target", "operation": "update", "table": "contacts", "columns": [{"column": "name"}]},
     "config.keyColumns is required for update"),
    ({"connection": "target", "operation": "insert", "table": "contacts"}, "config.columns is required for insert"),
    ({"connection": "target", "operation": "insert", "columns": [{"column": "id"}]}, "config.table is required"),
    ({"connection": "target", "operation": "insert", "table": "contacts; DROP TABLE contacts",
      "columns": [{"column": "id"}]}, "is not a usable name"),
    ({"connection": "target", "operation": "insert", "table": "contacts",
      "columns": [{"column": "id\" OR 1=1"}]}, r"config.columns\[0\].column"),
    ({"connection": "target", "operation": "delete", "table": "contacts", "keyColumns": ["id\n"]},
     r"config.keyColumns item 'id\\n' is not a usable name"),
    ({"connection": "target", "operation": "upsert", "table": "contacts", "keyColumns": ["id"],
      "columns": [{"column": "id"}, {"column": "id"}]}, "lists the column 'id' twice"),
    ({"connection": "target", "operation": "update", "table": "contacts", "keyColumns": ["id"],
      "columns": [{"column": "id"}]}, "at least one column besides the key columns"),
    ({"connection": "target", "statement": "SELECT 1", "timeoutSeconds": 0}, "config.timeoutSeconds must be at least"),
])
def test_bad_config_is_refused_when_the_flow_is_validated(config, message):
    with pytest.raises(ValidationError, match=message) as info:
        validate_flow(make_flow({"id": "sql", "type": "sql", "config": config}))
    assert "block 'sql'" in info.value.message


def test_an_unknown_connection_is_the_vaults_message(db):
    flow = make_flow({"id": "sql", "type": "sql", "config": {"connection": "nope", "statement": "SELECT 1"}})
    outcome = run(flow, context(db))
    assert outcome.status == "FATAL" and "there is no connection named 'nope'" in outcome.reason


def test_a_missing_table_names_the_operation_and_the_database(db):
    outcome = run(make_flow(sql("insert", table="nothing_here", columns=[{"column": "id"}])), context(db, {"id": 1}))
    assert outcome.status == "FATAL"
    assert f"insert into nothing_here failed on sqlite:///{db}: no such table: nothing_here" in outcome.reason


def test_connection_errors_never_show_the_password():
    with socket.socket() as probe:  # a port nothing listens on: the connection is refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctx = RunContext("e1", "DEV", None, False, resources=RunResources(vault=StandInVault(
        {"target": f"postgresql://ziggy:s3cret-pw@127.0.0.1:{port}/crm"})))
    outcome = run(make_flow(sql(statement="SELECT 1")), ctx)
    assert outcome.status == "FATAL"
    assert f"cannot connect to postgresql+psycopg://ziggy:***@127.0.0.1:{port}/crm" in outcome.reason
    assert "s3cret-pw" not in outcome.reason


def test_the_apps_own_database_is_refused(tmp_path):
    own = tmp_path / "ziggy.db"
    sqlite3.connect(own).close()
    sql_engines.protect_database(f"sqlite:///{own}")
    ctx = RunContext("e1", "DEV", None, False, resources=RunResources(vault=StandInVault(
        {"target": f"sqlite:///{tmp_path}/./ziggy.db"})))
    outcome = run(make_flow(sql(statement="DELETE FROM execution")), ctx)
    assert outcome.status == "FATAL" and "Ziggy Desktop's own database" in outcome.reason


def test_engines_are_shared_across_runs_and_statements_compiled_once_per_flow_version(db):
    flow = compile_flow(validate_flow(make_flow(sql("upsert", **UPSERT))))
    for index in range(2):
        ctx = context(db, [{"id": index, "contact": {"email": f"{index}@x"}}])
        ctx.start_clock(60)
        assert run_flow(flow, ctx).status == "SUCCESS"
    assert sql_engines.get_engine(url_of(db)) is sql_engines.get_engine(url_of(db))
    plan = next(b for b in flow.blocks if b.id == "sql").prepared
    assert list(plan.compiled) == ["sqlite:qmark"]


def test_postgresql_upsert_compiles_to_on_conflict_with_named_binds():
    config = validate_flow(make_flow(sql("upsert", **UPSERT)))["blocks"][1]["config"]
    plan = Sql.prepare(config, "block 'sql'")
    compiled = _compile(plan, create_engine("postgresql+psycopg://u:p@localhost/db"))  # never connects
    assert compiled.sql.startswith("INSERT INTO contacts (id, email, name, meta) VALUES (%(v0)s, %(v1)s")
    assert "ON CONFLICT (id) DO UPDATE SET email = excluded.email" in compiled.sql
    assert not compiled.positional


# -- kill and timeouts ------------------------------------------------------------------------------------------

ENDLESS = ("WITH RECURSIVE n(i) AS (SELECT started() UNION ALL SELECT i + 1 FROM n) "
           "SELECT count(*) FROM n")


def mark_started(db: Path) -> threading.Event:
    """SQL function started() sets the event: the test knows the query is running inside SQLite."""
    started = threading.Event()

    def on_connect(dbapi_connection, _record):
        dbapi_connection.create_function("started", 0, lambda: started.set() or 1)

    event.listen(sql_engines.get_engine(url_of(db)), "connect", on_connect)
    return started


def query_threads(execution_id: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"ziggy-io-{execution_id[:8]}"]


def test_kill_interrupts_a_long_query(db):
    started = mark_started(db)
    execution_id = uuid.uuid4().hex
    ctx = context(db, execution_id=execution_id)
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(outcome=run(make_flow(sql(statement=ENDLESS)), ctx)))
    worker.start()
    assert started.wait(10), "the query never started"
    ctx.kill("stop the query")
    worker.join(10)
    assert not worker.is_alive()
    outcome = result["outcome"]
    assert outcome.status == "KILLED" and outcome.failed_block == "sql" and outcome.reason == "stop the query"
    for thread in query_threads(execution_id):  # SQLite was interrupted: the query's thread ended too
        thread.join(10)
        assert not thread.is_alive()


def test_the_flow_timeout_interrupts_a_long_query(db):
    mark_started(db)
    outcome = run(make_flow(sql(statement=ENDLESS), timeout_seconds=0.3), context(db))
    assert outcome.status == "TIMED OUT" and outcome.failed_block == "sql"


def test_timeout_seconds_stops_one_statement(db):
    mark_started(db)
    outcome = run(make_flow(sql(statement=ENDLESS, timeoutSeconds=0.2)), context(db))
    assert outcome.status == "FATAL"
    assert "took longer than timeoutSeconds (0.2 s)" in outcome.reason


def test_a_pooled_connection_is_usable_after_a_kill(db):
    started = mark_started(db)
    ctx = context(db)
    worker = threading.Thread(target=lambda: run(make_flow(sql(statement=ENDLESS)), ctx))
    worker.start()
    assert started.wait(10)
    ctx.kill()
    worker.join(10)
    fill(db, 3)
    outcome = run(make_flow(sql(statement="SELECT count(*) AS n FROM contacts")), context(db))
    assert outcome.status == "SUCCESS" and outcome.result == [{"n": 3}]


def test_postgresql_round_trip(postgres_url):
    url = postgres_url
    table = f"ziggy_test_{uuid.uuid4().hex[:8]}"
    vault = StandInVault({"target": url})

    def go(*blocks: dict, payload: Any = None):
        return run(make_flow(*blocks), RunContext("e1", "DEV", payload, False, resources=RunResources(vault=vault)))

    assert go(sql("raw", statement=f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT)")).status == "SUCCESS"
    try:
        config = {"table": table, "keyColumns": ["id"], "columns": [{"column": "id"}, {"column": "name"}]}
        assert go(sql("upsert", **config), payload=[{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]).status == "SUCCESS"
        assert go(sql("upsert", **config), payload=[{"id": 1, "name": "A"}]).status == "SUCCESS"
        outcome = go(sql(statement=f"SELECT id, name FROM {table} WHERE id >= :low ORDER BY id", batchSize=1),
                     payload={"low": 1})
        assert outcome.result == [{"id": 1, "name": "A"}, {"id": 2, "name": "b"}]
        assert edge(outcome, "sql")["batches"] == 2
    finally:
        go(sql("raw", statement=f"DROP TABLE {table}"))


def test_postgresql_statement_timeout_and_kill_cancel_the_query(postgres_url):
    vault = StandInVault({"target": postgres_url})
    timed = run(make_flow(sql(statement="SELECT pg_sleep(60)", timeoutSeconds=0.3)),
                RunContext("e1", "DEV", None, False, resources=RunResources(vault=vault)))
    assert timed.status == "FATAL" and "took longer than timeoutSeconds" in timed.reason
    execution_id = uuid.uuid4().hex
    ctx = RunContext(execution_id, "DEV", None, False, resources=RunResources(vault=vault))
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(
        outcome=run(make_flow(sql(statement="SELECT pg_sleep(60)")), ctx)))
    worker.start()
    deadline = time.monotonic() + 10
    while not query_threads(execution_id):  # the database call's thread exists once it is under way
        assert worker.is_alive() and time.monotonic() < deadline, result
        threading.Event().wait(0.01)
    ctx.kill("stop")
    worker.join(10)
    assert result["outcome"].status == "KILLED"
    for thread in query_threads(execution_id):
        thread.join(10)
        assert not thread.is_alive()

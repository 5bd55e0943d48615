"""sql: SELECT/INSERT/UPDATE/DELETE/UPSERT/RAW with bound parameters through SQLAlchemy."""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import logging
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from sqlalchemy import and_, bindparam, column, delete, insert, table, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.expression import TableClause

from ...errors import ValidationError, ZiggyError
from ..block import Block, Emitted, source_fields
from ..context import BlockError, RunStopped
from ..records import as_records, get_path
from ..registry import BlockType, ConfigField, register
from ..sql_engines import get_engine, normalize_url, safe_url

log = logging.getLogger("ziggy.engine.sql")

OPERATIONS = ("select", "insert", "update", "delete", "upsert", "raw")
WRITES = ("insert", "update", "delete", "upsert")
# Letters, digits, _ and $, starting with a letter or _: every database takes these once quoted, and
# nothing in them can end the identifier early.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}")
_CLOSE_WAIT_SECONDS = 5.0  # how long close() waits for an interrupted query's thread to let go
_PLAIN = frozenset((str, int, float, bool, type(None)))
_CONTAINERS = (dict, list)


@dataclass(frozen=True)
class _Value:
    """One bound value of a write: the column it goes to and the record field it comes from."""

    column: str
    field: str
    bind: str
    key: bool = False


@dataclass
class _Plan:
    """What prepare() checked and built once per flow version; statements are compiled per dialect
    on first use and kept here, so later runs of the same version reuse them."""

    operation: str
    statement: TextClause | None = None
    parameter_names: tuple[str, ...] = ()
    table: TableClause | None = None
    table_name: str = ""
    values: tuple[_Value, ...] = ()  # columns written (insert/upsert: the keys too; update: SET columns)
    keys: tuple[_Value, ...] = ()  # columns that identify a row (update/delete/upsert)
    compiled: dict[str, "_Compiled"] = field(default_factory=dict)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    binds: tuple[_Value, ...]  # in the order of the driver's placeholders (or by name)
    positional: bool


def _identifier(name: Any, where: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ValidationError(f"{where} {name!r} is not a usable name: use letters, digits, _ and $, starting with a "
                              f"letter or _ (at most 63 characters)")
    return name


def _prepare_writes(config: Mapping[str, Any], where: str, operation: str) -> _Plan:
    table_name = config["table"].strip()
    if not table_name:
        raise ValidationError(f"{where}: config.table is required for {operation} (the table to write to)")
    parts = table_name.split(".")
    if len(parts) > 2:
        raise ValidationError(f"{where}: config.table {table_name!r} must be a table or schema.table")
    for part in parts:
        _identifier(part, f"{where}: config.table part")
    key_names = [_identifier(k, f"{where}: config.keyColumns item") for k in config["keyColumns"]]
    if len(set(key_names)) != len(key_names):
        raise ValidationError(f"{where}: config.keyColumns lists a column twice")
    if operation in ("update", "delete", "upsert") and not key_names:
        raise ValidationError(f"{where}: config.keyColumns is required for {operation}: name the column(s) that "
                              f"identify a row, e.g. [\"id\"]")
    fields: dict[str, str] = {}
    for index, item in enumerate(config["columns"]):
        name = _identifier(item["column"], f"{where}: config.columns[{index}].column")
        if name in fields:
            raise ValidationError(f"{where}: config.columns lists the column {name!r} twice")
        source = (item.get("field") or "").strip() or name
        fields[name] = source
    non_keys = [name for name in fields if name not in key_names]
    if operation == "insert" and not fields:
        raise ValidationError(f"{where}: config.columns is required for insert: list the columns to write, each "
                              f"with the record field it takes its value from")
    if operation == "update" and not non_keys:
        raise ValidationError(f"{where}: config.columns must list at least one column besides the key columns: "
                              f"update sets them on the rows the keys find")
    keys = tuple(_Value(name, fields.get(name, name), f"k{i}", key=True) for i, name in enumerate(key_names))
    if operation == "delete":
        values: tuple[_Value, ...] = ()
    elif operation == "update":
        values = tuple(_Value(name, fields[name], f"v{i}") for i, name in enumerate(non_keys))
    else:  # insert and upsert write the key columns too; insert ignores keyColumns otherwise
        written = list(fields) + [k for k in key_names if k not in fields and operation == "upsert"]
        values = tuple(_Value(name, fields.get(name, name), f"v{i}", key=name in key_names and operation == "upsert")
                       for i, name in enumerate(written))
    schema, name = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
    columns = dict.fromkeys([*(v.column for v in values), *(k.column for k in keys)])  # in the config's order
    clause = table(name, *(column(c) for c in columns), schema=schema)
    return _Plan(operation, table=clause, table_name=table_name, values=values,
                 keys=keys if operation != "insert" else ())


def _write_statement(plan: _Plan, dialect_name: str) -> Any:
    tbl = plan.table
    assert tbl is not None
    where = and_(*(tbl.c[k.column] == bindparam(k.bind) for k in plan.keys)) if plan.keys else None
    if plan.operation == "insert":
        return insert(tbl).values({v.column: bindparam(v.bind) for v in plan.values})
    if plan.operation == "update":
        return update(tbl).where(where).values({v.column: bindparam(v.bind) for v in plan.values})
    if plan.operation == "delete":
        return delete(tbl).where(where)
    dialect_insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect_name)
    if dialect_insert is None:
        raise BlockError(f"upsert works with SQLite and PostgreSQL, not {dialect_name}; use insert/update, or a raw "
                         f"statement in your database's own syntax")
    statement = dialect_insert(tbl).values({v.column: bindparam(v.bind) for v in plan.values})
    targets = [tbl.c[k.column] for k in plan.keys]
    changed = {v.column: statement.excluded[v.column] for v in plan.values if not v.key}
    if not changed:
        return statement.on_conflict_do_nothing(index_elements=targets)
    return statement.on_conflict_do_update(index_elements=targets, set_=changed)


def _compile(plan: _Plan, engine: Engine) -> _Compiled:
    """The write statement as the driver's SQL text, compiled once per flow version and dialect."""
    dialect = engine.dialect
    cache_key = f"{dialect.name}:{dialect.paramstyle}"
    compiled = plan.compiled.get(cache_key)
    if compiled is None:
        statement = _write_statement(plan, dialect.name)
        result = statement.compile(dialect=dialect)
        by_bind = {v.bind: v for v in (*plan.values, *plan.keys)}
        names = result.positiontup if result.positional else list(result.params)
        compiled = _Compiled(str(result), tuple(by_bind[name] for name in names), bool(result.positional))
        plan.compiled[cache_key] = compiled
    return compiled


def _jsonable(value: Any) -> Any:
    """A database value as JSON can carry it (edges carry JSON)."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (dict, list)):
        return value
    return str(value)


def _interrupt(dbapi_connection: Any) -> None:
    """Stop what the connection is running: sqlite3's interrupt(), psycopg's cancel()."""
    stop = getattr(dbapi_connection, "interrupt", None) or getattr(dbapi_connection, "cancel", None)
    if stop is not None:
        try:
            stop()
        except Exception:  # noqa: BLE001 - best effort; the query's own timeout still applies
            log.debug("interrupting a query failed", exc_info=True)


class Sql(Block):
    """One connection per run of the block, taken from the URL's shared pool and given back in close()."""

    @classmethod
    def prepare(cls, config: Mapping[str, Any], where: str) -> _Plan:
        operation = config["operation"]
        if operation in WRITES:
            return _prepare_writes(config, where, operation)
        statement = config["statement"]
        if not statement.strip():
            raise ValidationError(f"{where}: config.statement is required for {operation}: the SQL to run, with "
                                  f":name placeholders for values (e.g. select * from contacts where id = :id)")
        try:
            clause = text(statement)
            names = tuple(clause.compile().params)
        except SQLAlchemyError as exc:
            raise ValidationError(f"{where}: config.statement cannot be read: {exc}") from None
        return _Plan(operation, statement=clause, parameter_names=names)

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.plan: _Plan = self.prepared
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self._dbapi_errors: tuple[type[BaseException], ...] = ()
        self._database = ""  # the URL without its password, to name the database in messages
        self._password = ""
        self._in_flight: threading.Event | None = None
        self._result: Any = None
        self._records = self._batches = self._rows = self._statements = 0

    # -- the connection and its blocking calls -----------------------------------------------------------

    def _connect(self) -> Connection:
        if self._conn is not None:
            return self._conn
        name = self.config["connection"]
        settings = self.ctx.connection(name, "sql")
        url = settings.get("url") if isinstance(settings, dict) else None
        if not isinstance(url, str) or not url.strip():
            raise BlockError(f"connection {name!r} has no database URL for {self.ctx.mode}; set its url, e.g. "
                             f"sqlite:////path/to/file.db or postgresql://user:password@host/dbname")
        try:
            parsed = normalize_url(url)
            self._engine = get_engine(url)
        except ZiggyError as exc:
            raise BlockError(f"connection {name!r}: {exc.message}") from None
        self._database = safe_url(parsed)
        self._password = parsed.password or ""
        dbapi_error = getattr(self._engine.dialect.loaded_dbapi, "Error", None)
        self._dbapi_errors = (dbapi_error,) if isinstance(dbapi_error, type) else ()
        try:
            self._conn = self.ctx.call_blocking(self._engine.connect)
        except (DBAPIError, *self._dbapi_errors) as exc:
            raise BlockError(f"cannot connect to {self._database}: {self._message(exc)}. Check the connection's "
                             f"URL, that the database is reachable and the credentials") from None
        return self._conn

    def _message(self, exc: BaseException) -> str:
        original = getattr(exc, "orig", None) or exc
        message = " ".join(str(original).split()) or type(original).__name__
        if self._password:
            message = message.replace(self._password, "***")
        return message

    def _blocking(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run one database call so that a kill, the run's timeout or timeoutSeconds stop it."""
        assert self._conn is not None
        self.ctx.check()
        dbapi_connection = self._conn.connection.dbapi_connection
        done = threading.Event()
        timed_out = threading.Event()

        def on_timeout() -> None:
            timed_out.set()
            _interrupt(dbapi_connection)

        def work() -> Any:
            try:
                return function(*args)
            finally:
                done.set()

        timer = threading.Timer(self.config["timeoutSeconds"], on_timeout)
        timer.daemon = True
        self._in_flight = done
        timer.start()
        try:
            return self.ctx.call_blocking(work)
        except RunStopped:
            _interrupt(dbapi_connection)  # the helper thread is abandoned; make it let go of the database
            raise
        except (DBAPIError, *self._dbapi_errors) as exc:
            if timed_out.is_set():
                raise BlockError(f"{self._what()} took longer than timeoutSeconds ({self.config['timeoutSeconds']:g} "
                                 f"s) and was stopped; raise timeoutSeconds or make the statement faster") from None
            raise BlockError(f"{self._what()} failed on {self._database}: {self._message(exc)}") from None
        finally:
            timer.cancel()

    def _what(self) -> str:
        operation = self.plan.operation
        return f"{operation} into {self.plan.table_name}" if operation in ("insert", "upsert") else (
            f"{operation} of {self.plan.table_name}" if operation in WRITES else f"the {operation} statement")

    def close(self) -> None:
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        in_flight = self._in_flight
        if in_flight is not None and not in_flight.is_set():
            _interrupt(conn.connection.dbapi_connection)
            if not in_flight.wait(_CLOSE_WAIT_SECONDS):
                # A thread is still inside the driver with this connection: never hand it to another run.
                log.warning("a query of block %s did not stop; its connection is discarded", self.node.id)
                conn.invalidate()
                return
        try:
            if self._result is not None:
                self._result.close()
        except SQLAlchemyError:
            log.debug("closing a result failed", exc_info=True)
        conn.close()  # rolls back whatever was not committed and returns the connection to the pool

    # -- the operations ------------------------------------------------------------------------------------

    def process(self, port: str, data: Any) -> Emitted:
        self._connect()
        if self.plan.operation == "select":
            yield from self._select(data)
        elif self.plan.operation == "raw":
            self._raw(data)
            yield "out", data
        else:
            self._write(data)
            yield "out", data

    def finish(self) -> Emitted:
        if self._conn is None:
            return
        operation = self.plan.operation
        if operation == "select":
            self.ctx.log(f"sql select: {self._statements:,} queries, {self._rows:,} rows in {self._batches:,} batches")
        elif operation == "raw":
            self.ctx.log(f"sql raw: {self._statements:,} statements, {self._rows:,} rows affected")
        else:
            self.ctx.log(f"sql {self._what()}: {self._records:,} records in {self._batches:,} batches, "
                         f"{self._rows:,} rows affected")
        yield from ()

    def _parameters(self, record: Any) -> dict[str, Any]:
        static = self.config["parameters"]
        values: dict[str, Any] = {}
        for name in self.plan.parameter_names:
            if isinstance(record, dict) and name in record:
                value = record[name]
            elif name in static:
                value = static[name]
            else:
                raise BlockError(f"the statement's :{name} has no value: the incoming record has no field {name!r} "
                                 f"and config.parameters does not set it")
            values[name] = json.dumps(value, ensure_ascii=False) if isinstance(value, _CONTAINERS) else value
        return values

    def _select(self, data: Any) -> Iterator[tuple[str, Any]]:
        # With :parameters the query runs once per incoming record; without, once per incoming batch.
        records = as_records(data) if self.plan.parameter_names and data is not None else [None]
        batch_size, max_iterations = self.config["batchSize"], self.config["maxIterations"]
        conn = self._conn
        assert conn is not None
        emitted = False
        for record in records:
            parameters = self._parameters(record)
            self._result = result = self._blocking(conn.execution_options(stream_results=True).execute,
                                                   self.plan.statement, parameters)
            self._statements += 1
            keys = list(result.keys()) if result.returns_rows else []
            batches = 0
            while keys and (not max_iterations or batches < max_iterations):
                rows = self._blocking(result.fetchmany, batch_size) if batch_size else self._blocking(result.fetchall)
                if not rows:
                    break
                batch = [dict(zip(keys, row)) for row in rows]
                for index, row in enumerate(rows):
                    if any(value.__class__ not in _PLAIN for value in row):
                        batch[index] = {key: _jsonable(value) if value.__class__ not in _PLAIN else value
                                        for key, value in batch[index].items()}
                batches += 1
                self._batches += 1
                self._rows += len(batch)
                emitted = True
                yield "out", batch
                if not batch_size:
                    break
            result.close()
            self._result = None
            self._blocking(conn.commit)
        if not emitted:
            yield "out", []  # so has_data and the like can tell "no rows" from "not run"

    def _raw(self, data: Any) -> None:
        conn = self._conn
        assert conn is not None
        if self.plan.parameter_names:
            parameters = [self._parameters(record) for record in as_records(data)] if data is not None else [
                self._parameters(None)]
            if not parameters:
                return
        else:
            parameters = None  # a statement without placeholders runs once per incoming batch
        argument = parameters if parameters is None or len(parameters) > 1 else parameters[0]

        def execute() -> int:
            with conn.begin():
                result = conn.execute(self.plan.statement, argument)
                return max(result.rowcount, 0)

        self._rows += self._blocking(execute)
        self._statements += 1 if parameters is None else len(parameters)

    def _write(self, data: Any) -> None:
        records = as_records(data)
        self._batches += 1
        if not records:
            return
        conn = self._conn
        assert conn is not None and self._engine is not None
        compiled = _compile(self.plan, self._engine)
        binds = compiled.binds
        key_positions = [position for position, bind in enumerate(binds) if bind.key]
        fields = [bind.field for bind in binds]
        nested = any("." in name for name in fields)
        rows: list[Any] = []
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise BlockError(f"record {index} of the batch is a {type(record).__name__}; sql {self.plan.operation} "
                                 f"needs records (objects)")
            values = [get_path(record, name) for name in fields] if nested else list(map(record.get, fields))
            if not _PLAIN.issuperset(map(type, values)):
                # Drivers take scalars only; nested data is stored as its JSON text.
                values = [json.dumps(v, ensure_ascii=False) if v.__class__ in _CONTAINERS else v for v in values]
            for position in key_positions:
                if values[position] is None:
                    bind = binds[position]
                    raise BlockError(f"record {index} of the batch has no value for the key column {bind.column!r} "
                                     f"(field {bind.field!r}); every record needs its key")
            rows.append(tuple(values) if compiled.positional else {b.bind: v for b, v in zip(binds, values)})

        def execute_many() -> int:
            # One transaction per batch, executed on the driver's cursor: the statement was compiled
            # once, so SQLAlchemy's per-row parameter handling is skipped.
            with conn.begin():
                cursor = conn.connection.dbapi_connection.cursor()
                try:
                    cursor.executemany(compiled.sql, rows)
                    return max(cursor.rowcount, 0)
                finally:
                    cursor.close()

        self._rows += self._blocking(execute_many)
        self._records += len(records)


register(BlockType(
    "sql", "SQL", "Runs SQL against a database connection (SQLite or PostgreSQL), always with bound values. "
    "select streams rows out in batches; insert/update/delete/upsert write each incoming batch in one "
    "transaction and pass the records on; raw runs any statement (DDL, vendor syntax). The rows "
    "affected are written to the run's console when the block finishes.",
    inputs=("in",), outputs=("out",),
    config=(
        ConfigField("connection", "connection", "The SQL connection (its URL, per DEV/PROD). Never the app's own "
                    "database.", required=True, connection_kind="sql"),
        ConfigField("operation", "enum", "select: run the statement and emit its rows; insert/update/delete/upsert: "
                    "write the incoming records to the table; raw: run the statement for each incoming record "
                    "(or once per batch without placeholders) and pass the records on.",
                    default="select", choices=OPERATIONS),
        ConfigField("statement", "string", "select and raw: the SQL, with :name placeholders bound from the field of "
                    "the same name of each incoming record (or from parameters); a statement with placeholders "
                    "runs once per incoming record, without them once per incoming batch. Write \\: for a "
                    "literal colon.", default=""),
        ConfigField("parameters", "object", "select and raw: values for :name placeholders that the records do not "
                    "carry (a record's field wins).", default={}),
        ConfigField("table", "string", "insert/update/delete/upsert: the table (or schema.table).", default=""),
        ConfigField("columns", "list", "insert/update/upsert: the columns written and the record field each takes "
                    "its value from (a missing field writes NULL; objects and lists are written as JSON text).",
                    default=[],
                    items=(ConfigField("column", "string", "The column's name.", required=True),
                           ConfigField("field", "string", "The record field (dots for nested); empty: the field "
                                       "named like the column.", default=""))),
        ConfigField("keyColumns", "list", "update/delete/upsert: the column(s) that identify a row (upsert: a "
                    "primary key or unique constraint on exactly these). A key column not listed in columns takes "
                    "the field of the same name; a record without its key is an error.",
                    default=[], item_kind="string"),
        ConfigField("timeoutSeconds", "number", "A statement (or one fetch of rows) running longer than this is "
                    "stopped and the run fails.", default=300, minimum=0.1, maximum=86_400),
        *source_fields(),
    ),
    impl=Sql, category="Data",
))

"""The data_store block's storage: namespaced key/value records kept in the app database."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from .db import DatabaseWriter
from .errors import ConflictError, NotFoundError, ValidationError, ZiggyError
from .models import DataStoreRecord

MAX_NAMESPACE_CHARS = 200
MAX_KEY_CHARS = 500
MAX_VALUE_CHARS = 1_000_000  # one value; state, not a file store
MAX_LIST_LIMIT = 10_000
_IN_CHUNK = 500  # keys per IN (...) query: far below any database's bound-parameter limit

_table = DataStoreRecord.__table__
_c = _table.c

_UPDATE_VALUE = (update(_table).where(_c.namespace == bindparam("b_namespace"), _c.key == bindparam("b_key"))
                 .values(value_json=bindparam("b_value"), updated_at=bindparam("b_now")))

# What a batch operation does with each key; the writer op applies them in order.
UPSERT, CREATE, UPDATE, DELETE = "upsert", "create", "update", "delete"


@dataclass(frozen=True)
class StoredItem:
    """One key as list() returns it; times are seconds since the epoch (UTC)."""

    key: str
    value: Any
    created_at: float
    updated_at: float


def check_namespace(namespace: Any) -> str:
    if not isinstance(namespace, str) or not namespace.strip():
        raise ValidationError("The data store namespace is empty; give it a name such as 'state'.",
                              code="INVALID_NAMESPACE")
    if len(namespace) > MAX_NAMESPACE_CHARS:
        raise ValidationError(f"The data store namespace is longer than {MAX_NAMESPACE_CHARS} characters; use a "
                              f"shorter name.", code="INVALID_NAMESPACE")
    return namespace


def check_key(key: Any) -> str:
    if not isinstance(key, str) or key == "":
        raise ValidationError(f"A data store key must be non-empty text (got {key!r}).", code="INVALID_KEY")
    if len(key) > MAX_KEY_CHARS:
        raise ValidationError(f"A data store key is longer than {MAX_KEY_CHARS} characters ({key[:40]!r}...); use "
                              f"a shorter key.", code="INVALID_KEY")
    return key


def encode_value(key: str, value: Any) -> str:
    # default=str, as on the engine's edges: a date or decimal from a SQL source is kept as its text.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if len(text) > MAX_VALUE_CHARS:
        raise ValidationError(f"The value for key {key!r} is {len(text):,} characters of JSON; the data store keeps "
                              f"at most {MAX_VALUE_CHARS:,}. Store a smaller value (valueField picks one field).",
                              code="VALUE_TOO_LARGE")
    return text


def _existing_keys(conn: Connection, namespace: str, keys: Iterable[str]) -> set[str]:
    unique = list(dict.fromkeys(keys))
    found: set[str] = set()
    for start in range(0, len(unique), _IN_CHUNK):
        chunk = unique[start:start + _IN_CHUNK]
        found.update(conn.execute(select(_c.key).where(_c.namespace == namespace, _c.key.in_(chunk))).scalars())
    return found


def _apply(conn: Connection, namespace: str, operation: str, items: Sequence[tuple[str, Any]],
           fail_if_exists: bool = False) -> list[bool]:
    """Apply `operation` to each (key, value) in order; True where it took effect.

    Runs inside the writer's transaction, which holds SQLite's write lock: nobody can add or remove
    a key between the look-up and the writes. Keys repeated in one batch behave as if written one
    after the other (a second create of the same key fails; the last upsert wins).
    """
    present = _existing_keys(conn, namespace, (key for key, _ in items))
    if fail_if_exists and operation == CREATE:
        taken = next((key for key, _ in items if key in present), None)
        if taken is not None:
            raise ConflictError(f"key exists: {taken!r} is already in data store namespace {namespace!r}",
                                code="KEY_EXISTS")
    originally = set(present)
    inserts: dict[str, str] = {}
    updates: dict[str, str] = {}
    deletes: set[str] = set()
    outcome: list[bool] = []
    for key, value in items:
        exists = key in present
        if operation == DELETE:
            outcome.append(exists)
            present.discard(key)
            inserts.pop(key, None)
            updates.pop(key, None)
            if key in originally:
                deletes.add(key)
            continue
        if operation == CREATE and exists and fail_if_exists:
            raise ConflictError(f"key exists: {key!r} is already in data store namespace {namespace!r}",
                                code="KEY_EXISTS")
        if (operation == CREATE and exists) or (operation == UPDATE and not exists):
            outcome.append(False)
            continue
        text = encode_value(key, value)
        present.add(key)
        deletes.discard(key)
        if key in originally:
            updates[key] = text
        else:
            inserts[key] = text
        outcome.append(True)
    now = time.time()
    if deletes:
        ordered = sorted(deletes)
        for start in range(0, len(ordered), _IN_CHUNK):
            conn.execute(delete(_table).where(_c.namespace == namespace, _c.key.in_(ordered[start:start + _IN_CHUNK])))
    if inserts:
        conn.execute(insert(_table), [{"namespace": namespace, "key": key, "value_json": text, "created_at": now,
                                       "updated_at": now} for key, text in inserts.items()])
    if updates:
        conn.execute(_UPDATE_VALUE, [{"b_namespace": namespace, "b_key": key, "b_value": text, "b_now": now}
                                     for key, text in updates.items()])
    return outcome


class DataStore:
    """Key/value state that outlives a run; writes go through the app's DatabaseWriter.

    Built once per process from the services' engine and writer (`DataStore(services.engine,
    services.writer)`) and handed to runs as `RunResources(data_store=...)`. Every write is one
    writer op, committed with whatever else the writer is committing (group commit); the *_many
    methods write a whole batch in one op. Values are any JSON value. Safe to call from any
    thread except the writer's own.
    """

    def __init__(self, engine: Engine, writer: DatabaseWriter, write_timeout: float = 60):
        self._engine = engine
        self._writer = writer
        self._write_timeout = write_timeout

    def _write(self, namespace: str, operation: str, items: Sequence[tuple[str, Any]],
               fail_if_exists: bool = False) -> list[bool]:
        check_namespace(namespace)
        checked = [(check_key(key), value) for key, value in items]
        if not checked:
            return []
        try:
            return self._writer.run(lambda conn, _batch: _apply(conn, namespace, operation, checked, fail_if_exists),
                                    timeout=self._write_timeout)
        except TimeoutError:  # the write may still land; the caller must not assume either way
            raise ZiggyError(f"The database did not take the data store write within {self._write_timeout:g} s "
                             f"(it is busy); retry the run later.", code="DATABASE_BUSY", http_status=503) from None

    # -- batch writes (one writer op each) -----------------------------------------------------

    def upsert_many(self, namespace: str, items: Sequence[tuple[str, Any]]) -> None:
        self._write(namespace, UPSERT, items)

    def create_many(self, namespace: str, items: Sequence[tuple[str, Any]], *, fail_if_exists: bool = False
                    ) -> list[bool]:
        """Create each key; False where it already existed. With fail_if_exists, one existing key
        raises ConflictError naming it and nothing of the batch is written."""
        return self._write(namespace, CREATE, items, fail_if_exists)

    def update_many(self, namespace: str, items: Sequence[tuple[str, Any]]) -> list[bool]:
        """Replace each key's value; False where the key does not exist (nothing is created)."""
        return self._write(namespace, UPDATE, items)

    def delete_many(self, namespace: str, keys: Sequence[str]) -> list[bool]:
        """Delete each key; False where it did not exist."""
        return self._write(namespace, DELETE, [(key, None) for key in keys])

    # -- one key -------------------------------------------------------------------------------

    def upsert(self, namespace: str, key: str, value: Any) -> None:
        self.upsert_many(namespace, [(key, value)])

    def create(self, namespace: str, key: str, value: Any) -> None:
        self.create_many(namespace, [(key, value)], fail_if_exists=True)

    def update(self, namespace: str, key: str, value: Any) -> None:
        if not self.update_many(namespace, [(key, value)])[0]:
            raise NotFoundError(f"key not found: {key!r} is not in data store namespace {namespace!r}; create it "
                                f"first (or use upsert).", code="KEY_NOT_FOUND")

    def delete(self, namespace: str, key: str) -> bool:
        return self.delete_many(namespace, [key])[0]

    # -- reads (straight from the database; a write is visible once its call has returned) -----

    def read(self, namespace: str, key: str) -> Any:
        """The value, or None when the key is absent (a stored JSON null also reads as None)."""
        return self.read_many(namespace, [key]).get(key)

    def read_many(self, namespace: str, keys: Sequence[str]) -> dict[str, Any]:
        """{key: value} for the keys that exist; absent keys are left out."""
        check_namespace(namespace)
        wanted = list(dict.fromkeys(check_key(key) for key in keys))
        result: dict[str, Any] = {}
        with self._engine.connect() as conn:
            for start in range(0, len(wanted), _IN_CHUNK):
                rows = conn.execute(select(_c.key, _c.value_json)
                                    .where(_c.namespace == namespace, _c.key.in_(wanted[start:start + _IN_CHUNK])))
                result.update((row.key, json.loads(row.value_json)) for row in rows)
        return result

    def list(self, namespace: str, prefix: str = "", limit: int = 100, after: str = "") -> list[StoredItem]:
        """Keys of `namespace` starting with `prefix`, in key order; `after` continues from a key."""
        check_namespace(namespace)
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValidationError(f"limit must be from 1 to {MAX_LIST_LIMIT}.", code="INVALID_LIMIT")
        query = select(_c.key, _c.value_json, _c.created_at, _c.updated_at).where(_c.namespace == namespace)
        if prefix:
            # Not LIKE: SQLite's LIKE ignores case and treats % and _ as wildcards.
            query = query.where(func.substr(_c.key, 1, len(prefix)) == prefix)
        if after:
            query = query.where(_c.key > after)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(_c.key).limit(limit)).all()
        return [StoredItem(row.key, json.loads(row.value_json), row.created_at, row.updated_at) for row in rows]


__all__ = ["DataStore", "StoredItem", "check_key", "check_namespace", "encode_value"]

"""The data store service on a real SQLite database: each operation, batches, bad keys and values."""

from __future__ import annotations

import pytest

from ziggy_desktop.data_store import MAX_KEY_CHARS, MAX_VALUE_CHARS, DataStore
from ziggy_desktop.errors import ConflictError, NotFoundError, ValidationError


@pytest.fixture
def store(services) -> DataStore:
    return DataStore(services.engine, services.writer)


def test_upsert_read_and_overwrite(store):
    assert store.read("state", "lastId") is None
    store.upsert("state", "lastId", 41)
    assert store.read("state", "lastId") == 41
    store.upsert("state", "lastId", {"id": 42, "at": "2024-05-01"})
    assert store.read("state", "lastId") == {"id": 42, "at": "2024-05-01"}


def test_namespaces_keep_keys_apart(store):
    store.upsert("dev", "k", "in dev")
    store.upsert("prod", "k", "in prod")
    assert store.read("dev", "k") == "in dev"
    assert store.read("prod", "k") == "in prod"
    assert store.delete("dev", "k") is True
    assert store.read("dev", "k") is None
    assert store.read("prod", "k") == "in prod"


def test_create_refuses_an_existing_key(store):
    store.create("ns", "a", [1, 2])
    with pytest.raises(ConflictError) as caught:
        store.create("ns", "a", "again")
    assert caught.value.code == "KEY_EXISTS" and "'a'" in caught.value.message
    assert store.read("ns", "a") == [1, 2]


def test_update_needs_the_key(store):
    with pytest.raises(NotFoundError) as caught:
        store.update("ns", "missing", 1)
    assert "create it first" in caught.value.message
    assert store.read("ns", "missing") is None
    store.upsert("ns", "present", 1)
    store.update("ns", "present", 2)
    assert store.read("ns", "present") == 2


def test_delete_says_whether_there_was_a_key(store):
    store.upsert("ns", "a", True)
    assert store.delete("ns", "a") is True
    assert store.delete("ns", "a") is False


def test_batches_report_per_key_and_follow_the_batch_order(store):
    store.upsert_many("ns", [("a", 1), ("b", 2)])
    # A key repeated within one batch behaves as if written one after the other.
    assert store.create_many("ns", [("a", 10), ("c", 3), ("c", 30)]) == [False, True, False]
    assert store.update_many("ns", [("b", 20), ("zz", 0), ("b", 21)]) == [True, False, True]
    assert store.read_many("ns", ["a", "b", "c", "zz"]) == {"a": 1, "b": 21, "c": 3}
    store.upsert_many("ns", [("d", 1), ("d", 2)])
    assert store.read("ns", "d") == 2
    assert store.delete_many("ns", ["a", "a", "nope"]) == [True, False, False]
    assert store.read_many("ns", ["a", "b"]) == {"b": 21}


def test_create_or_error_writes_nothing_of_a_batch_with_an_existing_key(store):
    store.upsert("ns", "taken", "old")
    with pytest.raises(ConflictError) as caught:
        store.create_many("ns", [("new", 1), ("taken", 2)], fail_if_exists=True)
    assert "'taken'" in caught.value.message
    assert store.read_many("ns", ["new", "taken"]) == {"taken": "old"}
    with pytest.raises(ConflictError):
        store.create_many("ns", [("twice", 1), ("twice", 2)], fail_if_exists=True)
    assert store.read("ns", "twice") is None


def test_a_large_batch_is_one_writer_operation(store, services, monkeypatch):
    calls = []
    original = services.writer.run
    monkeypatch.setattr(services.writer, "run", lambda op, timeout=60: calls.append(op) or original(op, timeout))
    items = [(f"k{i:05d}", {"n": i}) for i in range(2_500)]
    store.upsert_many("bulk", items)
    assert len(calls) == 1
    found = store.read_many("bulk", [key for key, _ in items])
    assert len(found) == 2_500 and found["k02499"] == {"n": 2499}


def test_list_by_prefix_in_key_order_with_paging(store):
    store.upsert_many("ns", [("user:2", "b"), ("user:1", "a"), ("USER:3", "c"), ("user_x", "x"), ("other", 0)])
    items = store.list("ns", prefix="user:")
    assert [(item.key, item.value) for item in items] == [("user:1", "a"), ("user:2", "b")]
    assert items[0].created_at <= items[0].updated_at
    # The prefix is matched exactly: no case folding, '_' and '%' are not wildcards.
    assert [item.key for item in store.list("ns", prefix="user_")] == ["user_x"]
    first = store.list("ns", limit=2)
    rest = store.list("ns", limit=10, after=first[-1].key)
    assert [i.key for i in first + rest] == sorted(["user:2", "user:1", "USER:3", "user_x", "other"])
    with pytest.raises(ValidationError):
        store.list("ns", limit=0)


def test_values_are_any_json_and_null_reads_as_absent(store):
    for key, value in (("s", "text é"), ("n", 1.5), ("l", [1, {"a": None}]), ("b", False)):
        store.upsert("json", key, value)
        assert store.read("json", key) == value
    store.upsert("json", "null", None)
    assert store.read("json", "null") is None
    assert store.read_many("json", ["null"]) == {"null": None}


@pytest.mark.parametrize("namespace, key", [("", "k"), ("  ", "k"), ("ns", ""), ("ns", 5), ("ns", None),
                                            ("x" * 201, "k"), ("ns", "k" * (MAX_KEY_CHARS + 1))])
def test_bad_namespaces_and_keys_are_refused_with_a_reason(store, namespace, key):
    with pytest.raises(ValidationError) as caught:
        store.upsert(namespace, key, 1)
    assert caught.value.code in ("INVALID_NAMESPACE", "INVALID_KEY")


def test_a_value_too_large_is_refused_and_nothing_of_the_batch_is_written(store):
    with pytest.raises(ValidationError) as caught:
        store.upsert_many("ns", [("small", 1), ("big", "x" * MAX_VALUE_CHARS)])
    assert caught.value.code == "VALUE_TOO_LARGE" and "'big'" in caught.value.message
    assert store.read_many("ns", ["small", "big"]) == {}


def test_state_outlives_the_service(services, settings):
    DataStore(services.engine, services.writer).upsert("state", "lastId", 7)
    from ziggy_desktop.services import open_services

    services.close()
    reopened = open_services(settings, run_flows=False)
    try:
        assert DataStore(reopened.engine, reopened.writer).read("state", "lastId") == 7
    finally:
        reopened.close()


def test_a_write_the_database_does_not_take_in_time_is_a_clear_error(services):
    from ziggy_desktop.db import DatabaseWriter
    from ziggy_desktop.errors import ZiggyError

    stalled = DatabaseWriter(services.engine)  # never started: nothing it is given is committed
    with pytest.raises(ZiggyError) as caught:
        DataStore(services.engine, stalled, write_timeout=0.01).upsert("ns", "k", 1)
    assert caught.value.code == "DATABASE_BUSY" and "retry" in caught.value.message

"""Database: schema versioning and the group-commit writer's isolation between requests."""

import pytest
from sqlalchemy import text

from ziggy_desktop.db import SCHEMA_VERSION, DatabaseWriter, create_db_engine, init_schema
from ziggy_desktop.errors import ConfigError, ValidationError


@pytest.fixture
def engine(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'z.db'}")
    init_schema(engine)
    yield engine
    engine.dispose()


def test_schema_version_recorded_and_wal(engine):
    with engine.connect() as conn:
        assert conn.execute(text("select version from schema_info")).scalar_one() == SCHEMA_VERSION
        assert conn.execute(text("pragma journal_mode")).scalar_one() == "wal"
    assert init_schema(engine) == SCHEMA_VERSION  # idempotent on the next start


def test_newer_database_is_refused_not_damaged(engine):
    with engine.begin() as conn:
        conn.execute(text("update schema_info set version = :v"), {"v": SCHEMA_VERSION + 1})
    with pytest.raises(ConfigError, match="newer Ziggy Desktop"):
        init_schema(engine)


def test_a_failing_write_does_not_spoil_its_batch(engine):
    writer = DatabaseWriter(engine)
    committed = []

    def good(name):
        def op(conn, batch):
            conn.execute(text("insert into flow(uuid, name, tags, document, version, created_at, updated_at) "
                              "values (:u, :u, '[]', '{}', 1, 0, 0)"), {"u": name})
            batch.after_commit(lambda: committed.append(name))
            return name
        return op

    def bad(conn, batch):
        conn.execute(text("insert into flow(uuid, name, tags, document, version, created_at, updated_at) "
                          "values ('bad', 'bad', '[]', '{}', 1, 0, 0)"))
        batch.after_commit(lambda: committed.append("bad"))
        raise ValidationError("refused")

    # Submitted before the thread starts, so all three land in one batch.
    futures = [writer.submit(good("a")), writer.submit(bad), writer.submit(good("b"))]
    writer.start()
    assert futures[0].result(5) == "a" and futures[2].result(5) == "b"
    with pytest.raises(ValidationError):
        futures[1].result(5)
    writer.stop()
    with engine.connect() as conn:
        assert sorted(conn.execute(text("select uuid from flow")).scalars()) == ["a", "b"]
    assert committed == ["a", "b"]


def test_a_cancelled_write_never_runs(engine):
    writer = DatabaseWriter(engine)
    ran = []
    cancelled = writer.submit(lambda conn, batch: ran.append("cancelled"))
    kept = writer.submit(lambda conn, batch: ran.append("kept") or "ok")
    assert cancelled.cancel()  # as asyncio does to a waiting handler's future at shutdown
    writer.start()
    assert kept.result(5) == "ok"
    writer.stop()
    assert ran == ["kept"]

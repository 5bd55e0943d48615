"""Execution History queries: filters, paging newest first, summaries, flush and retention."""

import time

import pytest
from sqlalchemy import text

from ziggy_desktop.history import HistoryFilter

from .helpers import make_flow


@pytest.fixture
def filled(services):
    """Rows inserted directly, as past runs would have left them."""
    a = services.flows.save(make_flow(name="A"))[0]
    b = services.flows.save(make_flow(name="B"))[0]
    now = time.time()
    rows = [
        ("run-1", a, "DEV", "FINISHED", "SUCCESS", 10, now - 3600),
        ("run-2", a, "PROD", "FINISHED", "FATAL", 30, now - 600),
        ("run-3", b, "DEV", "FINISHED", "SUCCESS", 20, now - 60),
        ("run-4", b, "DEV", "QUEUED", None, None, now - 1),
        ("other-5", a, "DEV", "RUNNING", None, None, now),
    ]
    with services.engine.begin() as conn:
        for eid, flow, mode, state, status, ms, created in rows:
            conn.execute(text(
                "insert into execution(execution_id, flow_uuid, flow_name, mode, trigger, state, "
                "termination_status, ms, created_at, use_test_data, input_hash) "
                "values (:e, :f, :n, :m, 'API', :s, :t, :ms, :c, 0, '')"),
                {"e": eid, "f": flow.uuid, "n": flow.name, "m": mode, "s": state, "t": status, "ms": ms, "c": created})
    return services, a, b, now


def ids(rows):
    return [r.view.execution_id for r in rows]


def test_paging_newest_first(filled):
    services, *_ = filled
    history = services.history
    assert history.count(HistoryFilter()) == 5
    assert ids(history.page(HistoryFilter(), 0, 2)) == ["other-5", "run-4"]
    assert ids(history.page(HistoryFilter(), 2, 10)) == ["run-3", "run-2", "run-1"]


def test_filters(filled):
    services, a, b, now = filled
    history = services.history
    assert ids(history.page(HistoryFilter(flow_uuid=b.uuid), 0, 10)) == ["run-4", "run-3"]
    assert ids(history.page(HistoryFilter(statuses=frozenset({"FATAL", "QUEUED"})), 0, 10)) == ["run-4", "run-2"]
    assert ids(history.page(HistoryFilter(mode="PROD"), 0, 10)) == ["run-2"]
    assert ids(history.page(HistoryFilter(since=now - 120), 0, 10)) == ["other-5", "run-4", "run-3"]
    assert ids(history.page(HistoryFilter(text="other"), 0, 10)) == ["other-5"]
    assert history.count(HistoryFilter(text="%")) == 0  # LIKE wildcards are taken literally


def test_summary(filled):
    services, *_ = filled
    summary = services.history.summary(HistoryFilter())
    assert summary.total == 5
    assert summary.by_status == {"SUCCESS": 2, "FATAL": 1, "QUEUED": 1, "RUNNING": 1}
    assert (summary.min_ms, summary.avg_ms, summary.max_ms) == (10, 20, 30)


def test_flush_keeps_live_runs_and_retention(filled):
    services, a, _, now = filled
    assert services.history.prune(0) == 0
    assert services.history.prune(retention_days=1, now=now + 86400 - 1800) == 1  # only run-1 is older
    assert services.history.flush(HistoryFilter(flow_uuid=a.uuid)) == 1  # run-2; other-5 is running
    assert ids(services.history.page(HistoryFilter(), 0, 10)) == ["other-5", "run-4", "run-3"]

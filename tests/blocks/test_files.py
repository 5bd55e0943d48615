"""file_read and file_write: formats, batching, bad lines, atomic overwrite, kill and bounded memory."""

from __future__ import annotations

import csv
import dataclasses
import gc
import json
import os
import threading
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import pytest

from ziggy_desktop.engine import Block, BlockType, RunContext, compile_flow, run_flow
from ziggy_desktop.engine.blocks import files
from ziggy_desktop.engine.registry import REGISTRY
from ziggy_desktop.errors import ValidationError
from ziggy_desktop.flows import validate_flow

from ..helpers import make_flow


def run(flow: dict, ctx: RunContext | None = None):
    compiled = compile_flow(validate_flow(flow))
    ctx = ctx or RunContext("e1", "DEV", None, False)
    ctx.start_clock(compiled.timeout_seconds)
    return run_flow(compiled, ctx), ctx


def edge(outcome, src: str, port: str = "out") -> dict[str, Any]:
    return next(e for e in outcome.edges if e["from"] == src and e["fromPort"] == port)


def graph(blocks: list[dict], edges: list[tuple[str, str, str, str]], timeout_seconds: float = 60) -> dict:
    """A flow from explicit blocks and (from, fromPort, to, toPort) edges; the receiver is added."""
    return {"ziggyFlow": 1, "uuid": str(uuid.uuid4()), "name": "files test",
            "settings": {"timeoutSeconds": timeout_seconds, "historyLevel": "ALL"},
            "blocks": [{"id": "receiver", "type": "receiver", "config": {}}, *blocks],
            "edges": [{"from": a, "fromPort": p, "to": b, "toPort": q} for a, p, b, q in edges]}


def read_flow(config: dict, rejected: bool = False, timeout_seconds: float = 60) -> dict:
    blocks = [{"id": "read", "type": "file_read", "config": config}, {"id": "end", "type": "terminator"}]
    edges = [("receiver", "out", "read", "in"), ("read", "out", "end", "in")]
    if rejected:
        blocks.append({"id": "bad", "type": "terminator"})
        edges.append(("read", "rejected", "bad", "in"))
    return graph(blocks, edges, timeout_seconds)


def write_csv(path: Path, rows: int) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        handle.write("id,email,name\n")
        handle.writelines(f"{i},user{i}@example.com,User {i}\n" for i in range(rows))
    return path


# -- file_read ------------------------------------------------------------------------------------------------


def test_csv_streams_in_batches_through_the_engine(tmp_path):
    path = write_csv(tmp_path / "contacts.csv", 25_000)
    outcome, ctx = run(read_flow({"path": str(path), "batchSize": 1000}))
    assert outcome.status == "SUCCESS", outcome.reason
    out = edge(outcome, "read")
    assert (out["batches"], out["records"]) == (25, 25_000)
    assert out["sample"][0] == {"id": "0", "email": "user0@example.com", "name": "User 0"}  # CSV values are text
    assert "25,000 records" in ctx.console[-1]["message"]


def test_max_iterations_stops_the_read_early(tmp_path):
    path = write_csv(tmp_path / "contacts.csv", 25_000)
    outcome, _ = run(read_flow({"path": str(path), "batchSize": 1000, "maxIterations": 3}))
    out = edge(outcome, "read")
    assert (out["batches"], out["records"]) == (3, 3000)


def test_csv_options_delimiter_encoding_and_columns_without_header(tmp_path):
    path = tmp_path / "data.txt"
    path.write_bytes("1;Zoë;\"a;b\"\n2;Åsa;c\n".encode("latin-1"))
    outcome, _ = run(read_flow({"path": str(path), "format": "csv", "delimiter": ";", "encoding": "latin-1",
                                "hasHeader": False, "columns": ["id", "name", "note"]}))
    assert outcome.status == "SUCCESS", outcome.reason
    assert outcome.result == [{"id": "1", "name": "Zoë", "note": "a;b"}, {"id": "2", "name": "Åsa", "note": "c"}]


def test_tsv_uses_a_tab_and_a_quoted_field_may_span_lines(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text('id\tnote\n1\t"two\nlines"\n2\tplain\n', encoding="utf-8")
    outcome, _ = run(read_flow({"path": str(path)}))
    assert outcome.result == [{"id": "1", "note": "two\nlines"}, {"id": "2", "note": "plain"}]


def test_json_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2, "b": [1, 2]}\n"text"\n', encoding="utf-8")
    outcome, _ = run(read_flow({"path": str(path), "batchSize": 2}))
    assert outcome.result == [{"a": 1}, {"a": 2, "b": [1, 2]}, "text"]
    assert edge(outcome, "read")["batches"] == 2


def test_json_array_is_read_item_by_item_across_chunk_boundaries(tmp_path, monkeypatch):
    items = [{"id": i, "n": i * 1.5, "big": 10 ** 20 + i, "text": f"é\"\\ \u2603 {i}", "ok": i % 2 == 0,
              "none": None, "nested": {"list": [i, [i, {"x": "]"}]]}} for i in range(300)]
    path = tmp_path / "items.json"
    path.write_text(json.dumps(items, ensure_ascii=False, indent=2), encoding="utf-8")
    # Chunks of a few characters cut through every kind of token: numbers, strings, escapes, literals.
    for chunk in (1, 3, 7, 64):
        monkeypatch.setattr(files, "_CHUNK_CHARS", chunk)
        outcome, _ = run(read_flow({"path": str(path), "batchSize": 100}))
        assert outcome.status == "SUCCESS", outcome.reason
        assert outcome.result == items
        assert edge(outcome, "read")["batches"] == 3


@pytest.mark.parametrize("text, expected", [('{"one": {"record": true}}', [{"one": {"record": True}}]),
                                            ("[]", []), ("  [ 1 , 2 ]  ", [1, 2]), ("", [])])
def test_json_object_is_one_record_and_empty_input_emits_nothing(tmp_path, text, expected):
    path = tmp_path / "doc.json"
    path.write_text(text, encoding="utf-8")
    outcome, _ = run(read_flow({"path": str(path)}))
    assert outcome.status == "SUCCESS", outcome.reason
    assert (outcome.result or []) == expected


def test_missing_file_names_the_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outcome, _ = run(read_flow({"path": "nowhere/contacts.csv"}))
    assert outcome.status == "FATAL" and outcome.failed_block == "read"
    assert f"file not found: {tmp_path / 'nowhere' / 'contacts.csv'}" in outcome.reason
    assert "Check the path" in outcome.reason


def test_a_relative_path_starts_from_the_working_directory(tmp_path, monkeypatch):
    write_csv(tmp_path / "here.csv", 2)
    monkeypatch.chdir(tmp_path)
    outcome, _ = run(read_flow({"path": "here.csv"}))
    assert len(outcome.result) == 2


def test_a_malformed_csv_line_fails_with_its_line_number(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,name\n1,a\n2,b,extra\n3,c\n", encoding="utf-8")
    outcome, _ = run(read_flow({"path": str(path)}))
    assert outcome.status == "FATAL"
    assert "line 3: 3 fields where there are 2 columns" in outcome.reason
    assert "skipBadLines" in outcome.reason


def test_skip_bad_lines_sends_them_to_rejected_with_line_and_reason(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('id,name\n1,a\n2,b,extra\n3,"c"x"\n4,d\n', encoding="utf-8")
    outcome, _ = run(read_flow({"path": str(path), "skipBadLines": True}, rejected=True))
    assert outcome.status == "SUCCESS", outcome.reason
    assert edge(outcome, "read")["sample"] == [{"id": "1", "name": "a"}, {"id": "4", "name": "d"}]
    rejected = edge(outcome, "read", "rejected")["sample"]
    assert [(r["line"], r["raw"]) for r in rejected] == [(3, ["2", "b", "extra"]), (4, [])]
    assert "3 fields" in rejected[0]["reason"] and "cannot be read" in rejected[1]["reason"]
    assert rejected[0]["file"] == str(path)


def test_a_bad_json_line_is_rejected_with_its_text(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"a": 1}\n{"a": \n{"a": 3}\n', encoding="utf-8")
    failed, _ = run(read_flow({"path": str(path)}))
    assert failed.status == "FATAL" and "line 2: not valid JSON" in failed.reason
    outcome, _ = run(read_flow({"path": str(path), "skipBadLines": True}, rejected=True))
    assert edge(outcome, "read")["sample"] == [{"a": 1}, {"a": 3}]
    assert edge(outcome, "read", "rejected")["sample"][0]["raw"] == '{"a": '


@pytest.mark.parametrize("text, line", [('[\n{"a": 1},\n{"a": 2}\n{"a": 3}\n]', 4), ('[\n{"a": 1},\n{"a": tru}\n]', 3),
                                        ('[{"a": 1}', 1), ('{"a": 1} {"b": 2}', 1)])
def test_a_malformed_json_file_fails_with_a_line_even_with_skip_bad_lines(tmp_path, text, line):
    path = tmp_path / "broken.json"
    path.write_text(text, encoding="utf-8")
    outcome, _ = run(read_flow({"path": str(path), "skipBadLines": True}))
    assert outcome.status == "FATAL"
    assert f"line {line}:" in outcome.reason


def test_a_file_in_another_encoding_says_to_set_encoding(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("id,name\n1,Zoë\n".encode("latin-1"))
    outcome, _ = run(read_flow({"path": str(path)}))
    assert outcome.status == "FATAL" and "set encoding" in outcome.reason


@pytest.mark.parametrize("config, message", [
    ({}, "config.path is required"),
    ({"path": "a.csv", "delimiter": ";;"}, "config.delimiter must be one character"),
    ({"path": "a.csv", "encoding": "klingon"}, "not a known text encoding"),
    ({"path": "a.csv", "hasHeader": False}, "config.columns is required when hasHeader is false"),
    ({"path": "a.csv", "format": "xml"}, "config.format must be one of"),
    ({"path": "a.csv", "batchSize": -1}, "config.batchSize must be at least 0"),
])
def test_bad_read_config_is_refused_when_the_flow_is_validated(config, message):
    with pytest.raises(ValidationError, match=message) as info:
        validate_flow(read_flow(config))
    assert "block 'read'" in info.value.message


def test_an_unknown_extension_asks_for_a_format(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("x", encoding="utf-8")
    outcome, _ = run(read_flow({"path": str(path)}))
    assert outcome.status == "FATAL" and "set format to csv, json or jsonl" in outcome.reason


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("file_format, batch_size", [("csv", 0), ("jsonl", 1000), ("json", 0)])
def test_kill_stops_an_endless_read(tmp_path, file_format, batch_size):
    """A pipe fed for ever: the read can only end through the kill (batchSize 0: inside one batch)."""
    pipe = tmp_path / f"endless.{file_format}"
    os.mkfifo(pipe)
    stop_writing = threading.Event()
    started = threading.Event()

    def feed() -> None:
        line = {"csv": "1,a\n", "jsonl": '{"id": 1}\n', "json": '{"id": 1},\n'}[file_format]
        try:
            with open(pipe, "w", encoding="utf-8") as handle:
                handle.write({"csv": "id,name\n", "json": "[\n"}.get(file_format, ""))
                while not stop_writing.is_set():
                    handle.write(line * 1000)
                    started.set()
        except BrokenPipeError:
            pass  # the reader went away: what the kill is meant to do

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    ctx = RunContext("e-kill", "DEV", None, False)
    result: dict[str, Any] = {}
    flow = read_flow({"path": str(pipe), "batchSize": batch_size})
    worker = threading.Thread(target=lambda: result.update(outcome=run(flow, ctx)[0]), daemon=True)
    worker.start()
    try:
        assert started.wait(10), "the pipe was never read"
        ctx.kill("enough")
        worker.join(10)
        assert not worker.is_alive(), "the read did not stop on kill"
    finally:
        stop_writing.set()
        feeder.join(10)
    outcome = result["outcome"]
    assert outcome.status == "KILLED" and outcome.reason == "enough"
    if batch_size == 0:
        # Stopped inside the one batch the whole stream would have been.
        assert outcome.failed_block == "read" and edge(outcome, "read")["batches"] == 0
    else:
        assert outcome.failed_block in ("read", "end")


def test_a_million_row_csv_streams_in_bounded_memory(tmp_path):
    # One short column: tracemalloc slows every allocation, and what is measured is the growth with rows.
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("id\n")
        handle.writelines(f"{i}\n" for i in range(1_000_000))
    flow = read_flow({"path": str(path), "batchSize": 1000})
    gc.collect()
    tracemalloc.start()
    try:
        outcome, _ = run(flow)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.status == "SUCCESS", outcome.reason
    assert edge(outcome, "read")["records"] == 1_000_000
    # A million one-field dicts take over 200 MB; a batch of 1000 takes ~0.3 MB. A generous bound:
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_a_large_json_array_streams_in_bounded_memory(tmp_path):
    path = tmp_path / "big.json"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("[")
        handle.write(",".join(json.dumps({"id": i, "email": f"user{i}@example.com"}) for i in range(200_000)))
        handle.write("]")
    gc.collect()
    tracemalloc.start()
    try:
        outcome, _ = run(read_flow({"path": str(path), "batchSize": 500}))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert edge(outcome, "read")["records"] == 200_000
    assert peak < path.stat().st_size / 2, f"peak {peak / 1e6:.1f} MB for a {path.stat().st_size / 1e6:.1f} MB file"


# -- file_write -----------------------------------------------------------------------------------------------


def write_flow(config: dict, *after: dict, test_data: Any = None) -> dict:
    return make_flow({"id": "write", "type": "file_write", "config": config}, *after, test_data=test_data)


def run_with(flow: dict, payload: Any):
    return run(flow, RunContext("e1", "DEV", payload, False))


def test_csv_write_passes_records_on_and_writes_them(tmp_path):
    target = tmp_path / "out.csv"
    records = [{"id": 1, "name": "Zoë", "tags": ["a", "b"], "active": True, "note": None},
               {"id": 2, "name": "Bo, Jr.", "tags": [], "active": False}]
    outcome, ctx = run_with(write_flow({"path": str(target)}), records)
    assert outcome.status == "SUCCESS", outcome.reason
    assert outcome.result == records
    with open(target, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["id", "name", "tags", "active", "note"], ["1", "Zoë", '["a", "b"]', "true", ""],
                    ["2", "Bo, Jr.", "[]", "false", ""]]
    assert "2 records" in ctx.console[-1]["message"]


def test_explicit_columns_choose_order_and_leave_out_other_fields(tmp_path):
    target = tmp_path / "out.csv"
    outcome, _ = run_with(write_flow({"path": str(target), "columns": ["name", "id"], "delimiter": ";"}),
                          [{"id": 1, "name": "a", "secret": "x"}, {"name": "b"}])
    assert outcome.status == "SUCCESS", outcome.reason
    assert target.read_text(encoding="utf-8") == "name;id\na;1\nb;\n"


def test_a_later_record_with_a_new_field_is_an_error_that_says_to_set_columns(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old content\n", encoding="utf-8")
    outcome, _ = run_with(write_flow({"path": str(target)}), [{"id": 1}, {"id": 2, "extra": 3}])
    assert outcome.status == "FATAL"
    assert "record 1 of the batch has field(s) extra" in outcome.reason and "set columns" in outcome.reason
    assert target.read_text(encoding="utf-8") == "old content\n"


@pytest.mark.parametrize("file_format", ["json", "jsonl", "csv"])
def test_round_trip_through_file_write_and_file_read(tmp_path, file_format):
    target = tmp_path / f"data.{file_format}"
    records = [{"id": str(i), "name": f"n{i}"} for i in range(2500)]
    written, _ = run_with(make_flow({"type": "file_write", "config": {"path": str(target)}}), records)
    assert written.status == "SUCCESS", written.reason
    read, _ = run(read_flow({"path": str(target), "batchSize": 1000}))
    assert read.result[:1000] == records[:1000]
    assert edge(read, "read")["records"] == 2500


def test_a_failed_run_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "out.json"
    target.write_text('["old"]', encoding="utf-8")
    flow = write_flow({"path": str(target)}, {"id": "boom", "type": "fail", "config": {"message": "downstream"}})
    outcome, _ = run_with(flow, [{"id": 1}])
    assert outcome.status == "FATAL" and "downstream" in outcome.reason
    assert target.read_text(encoding="utf-8") == '["old"]'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_overwrite_keeps_the_files_permissions(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("", encoding="utf-8")
    target.chmod(0o640)
    run_with(write_flow({"path": str(target)}), [{"a": 1}])
    assert target.stat().st_mode & 0o777 == 0o640
    assert target.read_text(encoding="utf-8") == '{"a": 1}\n'


def test_append_adds_rows_under_the_existing_header(tmp_path):
    target = tmp_path / "log.csv"
    target.write_text("name,id\nfirst,0\n", encoding="utf-8")
    outcome, _ = run_with(write_flow({"path": str(target), "mode": "append"}), [{"id": 1, "name": "second"}])
    assert outcome.status == "SUCCESS", outcome.reason
    assert target.read_text(encoding="utf-8") == "name,id\nfirst,0\nsecond,1\n"
    new = tmp_path / "new.csv"
    run_with(write_flow({"path": str(new), "mode": "append"}), [{"id": 1}])
    run_with(write_flow({"path": str(new), "mode": "append"}), [{"id": 2}])
    assert new.read_text(encoding="utf-8") == "id\n1\n2\n"


def test_csv_needs_records(tmp_path):
    outcome, _ = run_with(write_flow({"path": str(tmp_path / "x.csv")}), [1, 2])
    assert outcome.status == "FATAL" and "CSV needs records" in outcome.reason
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_is_named(tmp_path):
    outcome, _ = run_with(write_flow({"path": str(tmp_path / "no" / "x.csv")}), [{"a": 1}])
    assert outcome.status == "FATAL" and f"the folder {tmp_path / 'no'} does not exist" in outcome.reason


@pytest.mark.parametrize("config, message", [
    ({}, "config.path is required"),
    ({"path": "a.json", "mode": "append"}, "cannot be appended to"),
    ({"path": "a.csv", "format": "json", "mode": "append"}, "cannot be appended to"),
    ({"path": "a.csv", "delimiter": ""}, "config.delimiter must be one character"),
    ({"path": "a.csv", "mode": "replace"}, "config.mode must be one of overwrite, append"),
    ({"path": "a.csv", "columns": ["a", "a"]}, "config.columns must be distinct"),
])
def test_bad_write_config_is_refused_when_the_flow_is_validated(config, message):
    with pytest.raises(ValidationError, match=message):
        validate_flow(write_flow(config))


class _Probe(Block):
    """Looks at the target's folder each time a batch has been written."""

    seen: list[list[tuple[str, int]]] = []

    def process(self, port, data):
        folder = Path(self.config["folder"])
        _Probe.seen.append(sorted((p.name, p.stat().st_size) for p in folder.iterdir()))
        yield "out", data


def test_writes_stream_to_a_temporary_file_renamed_at_the_end(tmp_path, monkeypatch):
    from ziggy_desktop.engine.registry import ConfigField

    probe = BlockType("probe", "Probe", "test only", ("in",), ("out",),
                      (ConfigField("folder", "string", "folder"),), impl=_Probe)
    monkeypatch.setitem(REGISTRY, "probe", probe)
    monkeypatch.setattr(_Probe, "seen", [])
    source = write_csv(tmp_path / "in.csv", 5000)
    folder = tmp_path / "out"
    folder.mkdir()
    flow = graph([{"id": "read", "type": "file_read", "config": {"path": str(source), "batchSize": 1000}},
                  {"id": "write", "type": "file_write", "config": {"path": str(folder / "copy.csv")}},
                  {"id": "probe", "type": "probe", "config": {"folder": str(folder)}},
                  {"id": "end", "type": "terminator"}],
                 [("receiver", "out", "read", "in"), ("read", "out", "write", "in"), ("write", "out", "probe", "in"),
                  ("probe", "out", "end", "in")])
    outcome, _ = run(flow)
    assert outcome.status == "SUCCESS", outcome.reason
    assert len(_Probe.seen) == 5
    assert all(len(listing) == 1 and listing[0][0].startswith(".copy.csv.") for listing in _Probe.seen)
    sizes = [listing[0][1] for listing in _Probe.seen]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]  # written batch by batch, not held to the end
    assert [p.name for p in folder.iterdir()] == ["copy.csv"]
    assert (folder / "copy.csv").read_text(encoding="utf-8") == source.read_text(encoding="utf-8")


def test_schemas_are_data():
    read = REGISTRY["file_read"].to_json()
    assert read["outputs"] == ["out", "rejected", "error"]
    assert {f["name"] for f in read["config"]} >= {"path", "format", "batchSize", "maxIterations", "skipBadLines"}
    assert next(f for f in read["config"] if f["name"] == "path")["kind"] == "path"
    assert dataclasses.asdict(REGISTRY["file_write"].config[0])["required"] is True

"""Engine throughput: CSV -> validate -> map -> SQL upsert through the engine against the same work as a
plain Python loop (same run), and a CSV -> HubSpot migration against the stand-in at 10 calls/s.

Run by hand: .venv/bin/python bench/engine_throughput.py [--records 100000] [--hubspot-records 3000]
Targets (issue #3): engine >= 0.5 of the loop; migration >= 95% of 10 calls/s x 100 records.
"""

from __future__ import annotations

import argparse
import csv
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jsonschema import Draft202012Validator  # noqa: E402

from tests.hubspot_standin import HubSpotStandIn  # noqa: E402
from ziggy_desktop.app import start_runtime  # noqa: E402
from ziggy_desktop.config import load_settings  # noqa: E402
from ziggy_desktop.executions import LaunchRequest  # noqa: E402

SCHEMA = {"type": "object", "required": ["email", "first_name"],
          "properties": {"email": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+\\.[A-Za-z]+$"},
                         "first_name": {"type": "string", "minLength": 1},
                         "company": {"type": "string"}}}
MAPPINGS = [{"target": "email", "source": "email", "transform": "lower"},
            {"target": "firstname", "source": "first_name", "transform": "trim"},
            {"target": "lastname", "source": "last_name", "transform": "trim"},
            {"target": "company", "source": "company", "transform": "trim"},
            {"target": "phone", "source": "phone", "transform": "string"}]
UPSERT_SQL = ("INSERT INTO contacts (email, firstname, lastname, company, phone) VALUES (?, ?, ?, ?, ?) "
              "ON CONFLICT (email) DO UPDATE SET firstname = excluded.firstname, lastname = excluded.lastname, "
              "company = excluded.company, phone = excluded.phone")
CREATE_SQL = ("CREATE TABLE contacts (email TEXT PRIMARY KEY, firstname TEXT, lastname TEXT, company TEXT, "
              "phone TEXT)")
BATCH = 1000


def write_contacts(path: Path, count: int, seed: int = 7) -> int:
    """A realistic contacts export; about 2% have a broken email. Returns how many are valid."""
    rng = random.Random(seed)
    first = ["Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Ken", "Frances", "Edsger", "Radia"]
    last = ["Lovelace", "Hopper", "Torvalds", "Hamilton", "Turing", "Liskov", "Thompson", "Allen", "Dijkstra"]
    valid = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "last_name", "company", "phone"])
        for index in range(count):
            name, surname = rng.choice(first), rng.choice(last)
            broken = rng.random() < 0.02
            email = f"{name}.{surname}.{index}{'' if broken else '@example.com'}"
            valid += not broken
            writer.writerow([email.upper() if index % 3 == 0 else email, f" {name} ", surname,
                             f"{surname} & Co ", f"+33 6 {index:08d}"])
    return valid


def plain_loop(csv_path: Path, db_path: Path) -> tuple[float, int]:
    """The same work without the engine: read, validate, map, upsert per 1,000 rows."""
    validator = Draft202012Validator(SCHEMA)
    conn = sqlite3.connect(db_path)
    conn.execute(CREATE_SQL)
    started = time.perf_counter()
    written = 0
    batch: list[tuple[Any, ...]] = []
    with csv_path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if not validator.is_valid(row):
                continue
            batch.append((row["email"].lower(), row["first_name"].strip(), row["last_name"].strip(),
                          row["company"].strip(), str(row["phone"])))
            if len(batch) == BATCH:
                with conn:
                    conn.executemany(UPSERT_SQL, batch)
                written += len(batch)
                batch = []
    if batch:
        with conn:
            conn.executemany(UPSERT_SQL, batch)
        written += len(batch)
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, written


def engine_flow(csv_path: Path) -> dict[str, Any]:
    blocks = [
        {"id": "receiver", "type": "receiver", "config": {}},
        {"id": "read", "type": "file_read", "config": {"path": str(csv_path), "format": "csv", "batchSize": BATCH}},
        {"id": "check", "type": "validate", "config": {"schema": SCHEMA}},
        {"id": "shape", "type": "map", "config": {"mappings": MAPPINGS}},
        {"id": "save", "type": "sql", "config": {
            "connection": "target", "operation": "upsert", "table": "contacts", "keyColumns": ["email"],
            "columns": [{"column": c} for c in ("email", "firstname", "lastname", "company", "phone")]}},
        {"id": "end", "type": "terminator"},
    ]
    edges = [("receiver", "out", "read"), ("read", "out", "check"), ("check", "valid", "shape"),
             ("shape", "out", "save"), ("save", "out", "end")]
    return {"ziggyFlow": 1, "uuid": "7d1c3b2a-0e4f-4a5b-9c8d-1e2f3a4b5c6d", "name": "Bench CSV to SQL",
            "settings": {"timeoutSeconds": 3600, "historyLevel": "ERRORED_NO_DATA"}, "blocks": blocks,
            "edges": [{"from": a, "fromPort": p, "to": b, "toPort": "in"} for a, p, b in edges]}


def migration_flow(csv_path: Path) -> dict[str, Any]:
    blocks = [
        {"id": "receiver", "type": "receiver", "config": {}},
        {"id": "read", "type": "file_read", "config": {"path": str(csv_path), "format": "csv", "batchSize": BATCH}},
        {"id": "shape", "type": "map", "config": {"mappings": MAPPINGS[:4]}},
        {"id": "push", "type": "hubspot_write", "config": {
            "connection": "hubspot", "objectType": "contacts", "operation": "upsert", "idProperty": "email",
            "idField": "email", "callsPerSecond": 10}},
        {"id": "end", "type": "terminator"},
    ]
    edges = [("receiver", "out", "read"), ("read", "out", "shape"), ("shape", "out", "push"), ("push", "out", "end")]
    return {"ziggyFlow": 1, "uuid": "8e2d4c3b-1f5a-4b6c-8d9e-2f3a4b5c6d7e", "name": "Bench migration",
            "settings": {"timeoutSeconds": 3600, "historyLevel": "ERRORED_NO_DATA"}, "blocks": blocks,
            "edges": [{"from": a, "fromPort": p, "to": b, "toPort": "in"} for a, p, b in edges]}


def run_once(runtime, flow: dict[str, Any]) -> tuple[float, Any]:
    services = runtime.services
    services.flows.save(flow)
    started = time.perf_counter()
    launched = services.executions.launch(LaunchRequest(flow["uuid"], trigger="UI"))
    view = services.executions.wait_finished(launched.view.execution_id, timeout=3600, poll_seconds=0.02)
    elapsed = time.perf_counter() - started
    detail = services.executions.detail(view.execution_id)
    if view.termination_status != "SUCCESS":
        raise SystemExit(f"the run ended {view.termination_status}: {view.reason}")
    return elapsed, detail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--hubspot-records", type=int, default=3000)
    parser.add_argument("--enforce", action="store_true",
                        help="the stand-in also refuses an 11th call within any second with a 429, as HubSpot does")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ziggy-bench-") as tmp_name:
        tmp = Path(tmp_name)
        csv_path = tmp / "contacts.csv"
        valid = write_contacts(csv_path, args.records)
        settings = load_settings({"ZIGGY_DATA_DIR": str(tmp / "data"), "ZIGGY_PORT": "0",
                                  "ZIGGY_LOG_LEVEL": "WARNING"}, cwd=tmp)
        runtime = start_runtime(settings)
        try:
            loop_seconds, loop_written = plain_loop(csv_path, tmp / "loop.db")
            target_db = tmp / "engine.db"
            sqlite3.connect(target_db).execute(CREATE_SQL)
            runtime.services.vault.set_connection("target", "sql", {"url": f"sqlite:///{target_db}"})
            engine_seconds, detail = run_once(runtime, engine_flow(csv_path))
            engine_written = sqlite3.connect(target_db).execute("SELECT count(*) FROM contacts").fetchone()[0]
            assert engine_written == loop_written == valid, (engine_written, loop_written, valid)
            loop_rate, engine_rate = args.records / loop_seconds, args.records / engine_seconds
            print(f"CSV -> validate -> map -> SQL upsert, {args.records:,} records ({valid:,} valid)")
            print(f"  plain Python loop: {loop_seconds:6.2f} s  {loop_rate:10,.0f} records/s")
            print(f"  engine:            {engine_seconds:6.2f} s  {engine_rate:10,.0f} records/s")
            print(f"  ratio engine/loop: {engine_rate / loop_rate:.2f}  (target >= 0.5)")
            steps = {s["blockId"]: s for s in detail.steps}
            print("  per block ms: " + ", ".join(f"{b} {s['ms']}" for b, s in steps.items()))

            hub_csv = tmp / "hubspot.csv"
            hub_valid = write_contacts(hub_csv, args.hubspot_records, seed=11)
            with HubSpotStandIn(token="bench-token", rate_limit_per_second=10 if args.enforce else None) as hub:
                runtime.services.vault.set_connection("hubspot", "hubspot",
                                                      {"baseUrl": hub.base_url, "token": "bench-token"})
                seconds, detail = run_once(runtime, migration_flow(hub_csv))
                stored = len(hub.objects["contacts"])
                refused = sum(1 for call in hub.calls if call.status == 429)
            theoretical = 10 * 100
            rate = args.hubspot_records / seconds
            print(f"CSV -> map -> HubSpot upsert at 10 calls/s, {args.hubspot_records:,} records "
                  f"({stored:,} stored, {args.hubspot_records - hub_valid:,} without a valid email)")
            print(f"  {seconds:6.2f} s  {rate:8,.0f} records/s = {rate / theoretical:.1%} of the limit's "
                  f"{theoretical:,} records/s (target >= 95%); {refused} calls answered 429")
        finally:
            runtime.shutdown()


if __name__ == "__main__":
    main()

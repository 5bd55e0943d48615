"""Command line: parses arguments and hands each sub-command to the composition root or a service."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .errors import ZiggyError

EXIT_OK, EXIT_RUN_FAILED, EXIT_USER_ERROR = 0, 1, 2


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ziggy-desktop", description="Build, launch and follow data flows.")
    parser.add_argument("--version", action="version", version=f"ziggy-desktop {__version__}")
    parser.add_argument("--quit-after", type=float, metavar="SECONDS",
                        help="close the window after SECONDS (for smoke tests of an installed build)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    commands.add_parser("serve", help="run the local API and the queue without a window "
                                      "(without a command, the window opens with both inside)")

    keys = commands.add_parser("keys", help="manage execution keys").add_subparsers(dest="keys_command",
                                                                                   metavar="ACTION", required=True)
    create = keys.add_parser("create", help="create a key and print it once (nothing else goes to stdout)")
    create.add_argument("--name", required=True)
    keys_list = keys.add_parser("list", help="list keys (never the keys themselves)")
    keys_list.add_argument("--json", action="store_true")
    rename = keys.add_parser("rename", help="rename a key")
    rename.add_argument("key", help="id, name or display prefix")
    rename.add_argument("new_name")
    revoke = keys.add_parser("revoke", help="revoke a key: it fails on the very next request")
    revoke.add_argument("key", help="id, name or display prefix")

    flows = commands.add_parser("flows", help="import, export, list and delete flows").add_subparsers(
        dest="flows_command", metavar="ACTION", required=True)
    flow_import = flows.add_parser("import", help="import flow JSON files (a flow with the same uuid is replaced)")
    flow_import.add_argument("files", nargs="+", type=Path)
    flows_list = flows.add_parser("list", help="list flows")
    flows_list.add_argument("--json", action="store_true")
    export = flows.add_parser("export", help="print a flow's JSON (or write it with -o)")
    export.add_argument("uuid")
    export.add_argument("-o", "--output", type=Path)
    flow_delete = flows.add_parser("delete", help="delete a flow")
    flow_delete.add_argument("uuid")

    run = commands.add_parser("run", help="launch a flow (the Receiver's test data unless --data is given)")
    run.add_argument("flow_uuid")
    run.add_argument("--data", help="JSON for the Receiver, or @FILE to read it from a file")
    run.add_argument("--mode", default="DEV", help="DEV (default) or PROD")
    run.add_argument("--execution-id", help="your id for this run (default: a new UUID)")
    run.add_argument("--wait", action="store_true", help="wait for the run to finish and print its status")
    run.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait with --wait (default 3600)")
    return parser


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _iso(timestamp: float | None) -> str:
    from .executions import iso_utc

    return iso_utc(timestamp) or "-"


def _keys_command(args: argparse.Namespace, services) -> int:
    if args.keys_command == "create":
        info, clear_key = services.keys.create(args.name)
        print(clear_key)
        print(f"Created key {info.name!r} ({info.prefix}...). It is shown only this once: store it now.",
              file=sys.stderr)
    elif args.keys_command == "list":
        infos = services.keys.list()
        if args.json:
            _print_json([{"id": k.id, "name": k.name, "prefix": k.prefix, "createdAt": _iso(k.created_at),
                          "lastUsedAt": _iso(k.last_used_at) if k.last_used_at else None,
                          "revokedAt": _iso(k.revoked_at) if k.revoked_at else None} for k in infos])
        elif not infos:
            print("No execution keys yet: 'ziggy-desktop keys create --name NAME' makes one.", file=sys.stderr)
        else:
            print(f"{'ID':>4}  {'NAME':<24} {'PREFIX':<14} {'CREATED':<26} {'LAST USED':<26} STATUS")
            for k in infos:
                status = f"revoked {_iso(k.revoked_at)}" if k.revoked else "active"
                print(f"{k.id:>4}  {k.name[:24]:<24} {k.prefix:<14} {_iso(k.created_at):<26} "
                      f"{_iso(k.last_used_at):<26} {status}")
    elif args.keys_command == "rename":
        info = services.keys.rename(args.key, args.new_name)
        print(f"Key {info.id} is now named {info.name!r}.", file=sys.stderr)
    elif args.keys_command == "revoke":
        info = services.keys.revoke(args.key)
        print(f"Key {info.name!r} ({info.prefix}...) is revoked; requests with it now get 401.", file=sys.stderr)
    return EXIT_OK


def _flows_command(args: argparse.Namespace, services) -> int:
    if args.flows_command == "import":
        for path in args.files:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ZiggyError(f"Cannot read {path}: {exc.strerror}.") from None
            try:
                summary, created = services.flows.save(text)
            except ZiggyError as exc:
                raise ZiggyError(f"{path}: {exc.message}", code=exc.code) from None
            print(f"{'Imported' if created else 'Updated'} flow {summary.name!r} ({summary.uuid}).", file=sys.stderr)
            print(summary.uuid)
    elif args.flows_command == "list":
        flows = services.flows.list()
        if args.json:
            _print_json([{"uuid": f.uuid, "name": f.name, "tags": list(f.tags), "version": f.version,
                          "updatedAt": _iso(f.updated_at)} for f in flows])
        elif not flows:
            print("No flows yet: 'ziggy-desktop flows import FILE' adds one.", file=sys.stderr)
        else:
            print(f"{'UUID':<36}  {'NAME':<32} TAGS")
            for f in flows:
                print(f"{f.uuid:<36}  {f.name[:32]:<32} {', '.join(f.tags)}")
    elif args.flows_command == "export":
        text = services.flows.export(args.uuid)
        if args.output:
            args.output.write_text(text, encoding="utf-8")
            print(f"Wrote {args.output}.", file=sys.stderr)
        else:
            sys.stdout.write(text)
    elif args.flows_command == "delete":
        services.flows.delete(args.uuid)
        print(f"Deleted flow {args.uuid}.", file=sys.stderr)
    return EXIT_OK


def _read_data(data: str | None) -> tuple[str | None, str, bool]:
    """(body text, fingerprint, use_test_data) for `run --data`."""
    from .executions import body_fingerprint

    if data is None:
        return None, body_fingerprint(None, has_body=False), True
    if data.startswith("@"):
        try:
            data = Path(data[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise ZiggyError(f"Cannot read {data[1:]}: {exc.strerror}.") from None
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise ZiggyError(f"--data is not valid JSON ({exc}); quote it, e.g. --data '{{\"id\": 1}}'.") from None
    return data, body_fingerprint(value, has_body=True), False


def _run_command(args: argparse.Namespace, services) -> int:
    from .executions import LaunchRequest, check_execution_id, parse_mode

    body, fingerprint, use_test_data = _read_data(args.data)
    request = LaunchRequest(args.flow_uuid, parse_mode(args.mode), check_execution_id(args.execution_id), body,
                            fingerprint, "CLI", use_test_data=use_test_data)
    owns_queue = services.queue is not None
    if owns_queue:
        services.queue.start(recover=False, poll_interval=None)
    result = services.executions.launch(request)
    execution_id = result.view.execution_id
    if not (args.wait or owns_queue):
        _print_json({"executionId": execution_id, "state": result.view.state})
        return EXIT_OK
    view = services.executions.wait_finished(execution_id, args.timeout)
    if not view.finished:
        _print_json({"executionId": execution_id, "state": view.state})
        print(f"The run has not finished after {args.timeout:g} s; it goes on.", file=sys.stderr)
        return EXIT_RUN_FAILED
    _print_json(view.status_json())
    if view.termination_status != "SUCCESS":
        print(f"The run ended {view.termination_status}: {view.reason}", file=sys.stderr)
        return EXIT_RUN_FAILED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    # A frozen app starts its script workers by running itself: this turns such a start into the worker.
    multiprocessing.freeze_support()
    args = _build_parser().parse_args(argv)
    from .config import load_settings

    try:
        settings = load_settings()
        if args.command == "serve":
            from .app import serve

            return serve(settings)
        if args.command is None:
            from .app import run_gui

            return run_gui(settings, quit_after_seconds=args.quit_after)
        from .app import open_services

        services = open_services(settings, run_flows=None if args.command == "run" else False)
        try:
            if args.command == "keys":
                return _keys_command(args, services)
            if args.command == "flows":
                return _flows_command(args, services)
            return _run_command(args, services)
        finally:
            services.close()
    except ZiggyError as exc:
        print(f"ziggy-desktop: error: {exc.message}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

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
    _add_vault_commands(commands)

    queues = commands.add_parser("queues", help="named queues: rate limits and pauses for the flows on them"
                                 ).add_subparsers(dest="queues_command", metavar="ACTION", required=True)
    queues_list = queues.add_parser("list", help="list named queues")
    queues_list.add_argument("--json", action="store_true")
    queue_set = queues.add_parser("set", help="create a queue or change it (a running server picks it up)")
    queue_set.add_argument("name")
    queue_set.add_argument("--rate", type=float, help="runs started per second at most (0: no limit)")
    pause = queue_set.add_mutually_exclusive_group()
    pause.add_argument("--pause", action="store_true", help="hold the queue's runs until --resume")
    pause.add_argument("--resume", action="store_true")
    queue_delete = queues.add_parser("delete", help="delete a queue (its waiting runs go on unthrottled)")
    queue_delete.add_argument("name")
    return parser


def _queues_command(args: argparse.Namespace, services) -> int:
    store = services.named_queues
    if args.queues_command == "list":
        queues = store.list()
        if args.json:
            _print_json([q.to_json() for q in queues])
        for queue in [] if args.json else queues:
            rate = f"{queue.rate_per_second:g}/s" if queue.rate_per_second else "no limit"
            print(f"{queue.name}\t{rate}\t{'paused' if queue.paused else 'running'}")
    elif args.queues_command == "set":
        paused = True if args.pause else False if args.resume else None
        saved = store.save(args.name, args.rate, paused)
        rate = f"{saved.rate_per_second:g} runs/s" if saved.rate_per_second else "no rate limit"
        print(f"Saved queue {saved.name!r}: {rate}, {'paused' if saved.paused else 'running'}.", file=sys.stderr)
    elif args.queues_command == "delete":
        store.delete(args.name)
        print(f"Deleted queue {args.name!r}.", file=sys.stderr)
    return EXIT_OK


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _iso(timestamp: float | None) -> str:
    from .models import iso_utc

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


def _add_vault_commands(commands) -> None:
    """`secrets` and `connections`: values come from a prompt, stdin or the environment, never from argv
    (where shell history and `ps` would keep them)."""
    secrets = commands.add_parser("secrets", help="manage secrets (DEV/PROD values, never shown)").add_subparsers(
        dest="secrets_command", metavar="ACTION", required=True)
    secrets_list = secrets.add_parser("list", help="list secrets: names and which modes have a value")
    secrets_list.add_argument("--json", action="store_true")
    secret_set = secrets.add_parser(
        "set", help="create or replace a secret; the values are asked for (hidden), or read with --dev-stdin/"
                    "--dev-env and --prod-stdin/--prod-env; an empty PROD value means PROD runs use DEV's")
    secret_set.add_argument("name")
    secret_set.add_argument("--description", help="what it is for (default: keep the current one)")
    for mode in ("dev", "prod"):
        source = secret_set.add_mutually_exclusive_group()
        source.add_argument(f"--{mode}-stdin", action="store_true",
                            help=f"read the {mode.upper()} value from one line of stdin (DEV's line first)")
        source.add_argument(f"--{mode}-env", metavar="VAR",
                            help=f"take the {mode.upper()} value from the environment variable VAR")
    secrets.add_parser("delete", help="delete a secret").add_argument("name")

    connections = commands.add_parser("connections", help="manage connections (HubSpot, SQL, REST)").add_subparsers(
        dest="connections_command", metavar="ACTION", required=True)
    connections_list = connections.add_parser("list", help="list connections (credentials never shown)")
    connections_list.add_argument("--kind", choices=("hubspot", "sql", "rest"))
    connections_list.add_argument("--json", action="store_true")
    connection_set = connections.add_parser(
        "set", help="create or replace a connection; secret fields (token, password, headerValue, and the sql "
                    "url) are asked for (hidden), or read with --dev-stdin/--dev-env (--prod-... for PROD)")
    connection_set.add_argument("name")
    connection_set.add_argument("--kind", required=True, choices=("hubspot", "sql", "rest"))
    connection_set.add_argument("--description", help="what it is for (default: keep the current one)")
    connection_set.add_argument("--field", action="append", default=[], metavar="KEY=VALUE",
                                help="a DEV field that is not secret, e.g. baseUrl=https://api.example.com, "
                                     "authType=bearer, username=..., headerName=...")
    connection_set.add_argument("--prod-field", action="append", default=[], metavar="KEY=VALUE",
                                help="a PROD field that is not secret (PROD fields left out use DEV's)")
    for mode in ("dev", "prod"):
        # One list for both modes, so stdin lines are read in the order the options were given.
        connection_set.add_argument(f"--{mode}-stdin", action="append", dest="stdin_fields", default=[],
                                    metavar="FIELD", type=lambda field, m=mode.upper(): (m, field),
                                    help=f"read the {mode.upper()} secret FIELD from one line of stdin")
        connection_set.add_argument(f"--{mode}-env", action="append", dest=f"{mode}_env", default=[],
                                    metavar="FIELD=VAR", help=f"take the {mode.upper()} secret FIELD from the "
                                                              f"environment variable VAR")
    connections.add_parser("delete", help="delete a connection").add_argument("name")


def _stdin_line(what: str) -> str:
    line = sys.stdin.readline() if sys.stdin is not None else ""
    if not line:
        raise ZiggyError(f"stdin ended before the {what}; give one line per --dev-stdin/--prod-stdin option.")
    return line.rstrip("\r\n")


def _env_value(variable: str, option: str) -> str:
    import os

    value = os.environ.get(variable)
    if value is None:
        raise ZiggyError(f"{option}: the environment variable {variable!r} is not set.")
    return value


def _interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _prompt(prompt: str) -> str:
    import getpass

    try:
        return getpass.getpass(prompt)
    except EOFError:
        raise ZiggyError("No value was entered.") from None


def _secrets_command(args: argparse.Namespace, services) -> int:
    vault = services.vault
    if args.secrets_command == "list":
        infos = vault.list_secrets()
        if args.json:
            _print_json([{"name": s.name, "description": s.description, "dev": s.dev_set, "prod": s.prod_set,
                          "readable": s.readable, "createdAt": _iso(s.created_at), "updatedAt": _iso(s.updated_at)}
                         for s in infos])
        elif not infos:
            print("No secrets yet: 'ziggy-desktop secrets set NAME' adds one.", file=sys.stderr)
        else:
            print(f"{'NAME':<32} {'DEV':<4} {'PROD':<6} {'UPDATED':<26} DESCRIPTION")
            for s in infos:
                dev, prod = ("set", "set" if s.prod_set else "= DEV") if s.readable else ("?", "?")
                note = "" if s.readable else "  (cannot be decrypted: set it again)"
                print(f"{s.name[:32]:<32} {dev:<4} {prod:<6} {_iso(s.updated_at):<26} {s.description}{note}")
    elif args.secrets_command == "set":
        values = {}
        for mode in ("dev", "prod"):
            what = f"{mode.upper()} value of secret {args.name!r}"
            if getattr(args, f"{mode}_stdin"):
                values[mode] = _stdin_line(what)
            elif getattr(args, f"{mode}_env"):
                values[mode] = _env_value(getattr(args, f"{mode}_env"), f"--{mode}-env")
            elif _interactive():
                hint = " (empty: PROD runs use the DEV value)" if mode == "prod" else ""
                values[mode] = _prompt(f"{what}{hint}: ")
            elif mode == "dev":
                raise ZiggyError(f"Give the {what} with --dev-stdin (one line on stdin) or --dev-env VAR; values are "
                                 f"not taken as arguments, where shell history and ps would show them.")
            else:
                values[mode] = ""
        description = args.description
        if description is None:
            description = next((s.description for s in vault.list_secrets() if s.name == args.name), "")
        info = vault.set_secret(args.name, values["dev"], values["prod"], description=description)
        modes = "DEV and PROD values" if info.prod_set else "DEV value (PROD runs use it too)"
        print(f"Saved secret {info.name!r}: {modes}.", file=sys.stderr)
    elif args.secrets_command == "delete":
        vault.delete_secret(args.name)
        print(f"Deleted secret {args.name!r}.", file=sys.stderr)
    return EXIT_OK


def _pairs(items: list[str], option: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ZiggyError(f"{option} {item.split('=')[0]!r}: write it as KEY=VALUE.")
        pairs.append((key.strip(), value))
    return pairs


def _connection_fields(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, str]]:
    """The DEV and PROD fields of `connections set`, secret ones from stdin, the environment or a prompt."""
    from .vault import CONNECTION_KINDS, REST_AUTH_FIELDS

    spec = CONNECTION_KINDS[args.kind]
    fields: dict[str, dict[str, str]] = {"DEV": {}, "PROD": {}}
    for mode, option in (("DEV", "--field"), ("PROD", "--prod-field")):
        for key, value in _pairs(getattr(args, option[2:].replace("-", "_")), option):
            if key in spec.secret:
                raise ZiggyError(f"{key} is a secret field: give it with --{mode.lower()}-stdin {key}, "
                                 f"--{mode.lower()}-env {key}=VAR or at the prompt, never on the command line.")
            fields[mode][key] = value
    for mode, key in args.stdin_fields:
        fields[mode][key] = _stdin_line(f"{mode} {key} of connection {args.name!r}")
    for mode in ("DEV", "PROD"):
        option = f"--{mode.lower()}-env"
        for key, variable in _pairs(getattr(args, f"{mode.lower()}_env"), option):
            fields[mode][key] = _env_value(variable.strip(), option)
    if _interactive():
        # Ask for the secret fields this connection needs and that were not given another way.
        needed = [f for f in spec.required if f in spec.secret]
        if args.kind == "rest":
            for mode in ("DEV", "PROD"):
                auth = fields[mode].get("authType") or fields["DEV"].get("authType") or "none"
                needed += [f for f in REST_AUTH_FIELDS.get(auth, ()) if f in spec.secret and f not in needed]
        for mode in ("DEV", "PROD"):
            hint = " (empty: use the DEV value)" if mode == "PROD" else ""
            for key in needed:
                if key not in fields[mode]:
                    fields[mode][key] = _prompt(f"{mode} {key} of connection {args.name!r}{hint}: ")
    return fields["DEV"], fields["PROD"]


def _connections_command(args: argparse.Namespace, services) -> int:
    vault = services.vault
    if args.connections_command == "list":
        infos = vault.list_connections(args.kind)
        if args.json:
            _print_json([{"name": c.name, "kind": c.kind, "description": c.description, "dev": c.dev,
                          "prod": c.prod, "readable": c.readable, "createdAt": _iso(c.created_at),
                          "updatedAt": _iso(c.updated_at)} for c in infos])
        elif not infos:
            print("No connections yet: 'ziggy-desktop connections set NAME --kind KIND' adds one.", file=sys.stderr)
        else:
            print(f"{'NAME':<24} {'KIND':<8} {'TARGET (DEV)':<40} {'PROD OWN FIELDS':<24} {'UPDATED':<26} "
                  f"DESCRIPTION")
            for c in infos:
                prod = (", ".join(c.prod) or "= DEV") if c.readable else "?"
                target = c.target if c.readable else "(cannot be decrypted: set it again)"
                print(f"{c.name[:24]:<24} {c.kind:<8} {target:<40} {prod:<24} {_iso(c.updated_at):<26} "
                      f"{c.description}")
    elif args.connections_command == "set":
        from .errors import NotFoundError

        dev, prod = _connection_fields(args)
        description = args.description
        if description is None:
            try:
                description = vault.get_connection_info(args.name).description
            except NotFoundError:
                description = ""
        info = vault.set_connection(args.name, args.kind, dev, prod, description=description)
        own = f"PROD sets {', '.join(info.prod)}" if info.prod else "PROD uses the DEV settings"
        print(f"Saved {info.kind} connection {info.name!r} ({info.target}); {own}.", file=sys.stderr)
    elif args.connections_command == "delete":
        vault.delete_connection(args.name)
        print(f"Deleted connection {args.name!r}.", file=sys.stderr)
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
            if args.command == "secrets":
                return _secrets_command(args, services)
            if args.command == "connections":
                return _connections_command(args, services)
            if args.command == "queues":
                return _queues_command(args, services)
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

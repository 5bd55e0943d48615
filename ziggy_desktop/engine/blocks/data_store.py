"""data_store: namespaced key/value state kept across runs in the app database."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Mapping

from ...data_store import check_key
from ...errors import ValidationError, ZiggyError
from ..block import Block, Emitted
from ..context import BlockError
from ..expressions import Evaluator, ExpressionError, Template, compile_template
from ..records import as_records, get_path, has_path, set_path
from ..registry import BlockType, ConfigField, register

OPERATIONS = ("upsert", "create", "create_or_error", "update", "read", "delete")
WRITES = ("upsert", "create", "create_or_error", "update")


@dataclass(frozen=True)
class StorePlan:
    namespace: Template
    key: Template | None  # None: the key is read from keyField


def key_text(value: Any) -> str:
    """Keys are text; whole numbers (an id from a database) become their digits."""
    if isinstance(value, bool):
        raise ValueError(f"a key must be text or a whole number, not {str(value).lower()}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return check_key(value)
    if value is None:
        raise ValueError("the key is missing (null)")
    raise ValueError(f"a key must be text or a whole number, not {type(value).__name__}")


class DataStoreBlock(Block):
    """Applies one operation to the data store per batch (one database operation for the batch)."""

    def __init__(self, *args: Any):
        super().__init__(*args)
        ctx = self.ctx
        self.evaluator = Evaluator(ctx.variables, ctx.mode, ctx.execution_id, ctx.secret)

    @classmethod
    def prepare(cls, config: Mapping[str, Any], where: str) -> StorePlan:
        if not config["namespace"].strip():
            raise ValidationError(f"{where}: config.namespace is empty; name the store, e.g. 'state'")
        has_field, has_key = bool(config["keyField"].strip()), bool(config["key"].strip())
        if has_field == has_key:
            raise ValidationError(f"{where}: set exactly one of config.keyField (the record field holding the key) "
                                  f"and config.key (a key or template such as lastId or contact-{{{{ id }}}})")
        key = compile_template(config["key"], f"{where}: config.key") if has_key else None
        return StorePlan(compile_template(config["namespace"], f"{where}: config.namespace"), key)

    # -- per record ------------------------------------------------------------------------------

    def namespace(self) -> str:
        try:
            value = self.evaluator.render(self.prepared.namespace, None)
        except ExpressionError as exc:
            raise BlockError(f"namespace: {exc}; a namespace template can use vars, mode and executionId, not "
                             f"record fields") from None
        text = "" if value is None else str(value)
        if not text.strip():
            raise BlockError(f"the namespace {self.config['namespace']!r} came out empty; check its template")
        return text

    def key_of(self, record: Any) -> str:
        """The record's key; ValueError with the reason when it has none."""
        if self.prepared.key is None:
            field = self.config["keyField"]
            if not has_path(record, field):
                raise ValueError(f"the record has no field {field!r} (keyField)")
            value = get_path(record, field)
        else:
            try:
                value = self.evaluator.render(self.prepared.key, record)
            except ExpressionError as exc:
                raise ValueError(f"key: {exc}") from None
        try:
            return key_text(value)
        except ZiggyError as exc:
            raise ValueError(exc.message) from None

    def value_of(self, record: Any) -> Any:
        field = self.config["valueField"]
        if not field:
            return record
        if not has_path(record, field):
            raise ValueError(f"the record has no field {field!r} (valueField)")
        return get_path(record, field)

    # -- per batch -------------------------------------------------------------------------------

    def process(self, port: str, data: Any) -> Emitted:
        operation = self.config["operation"]
        records = as_records(data)
        if data is None and operation == "read" and self.prepared.key is not None:
            # Nothing came in (a receiver without a body): read the key once, e.g. the last synced id.
            records = [{}]
        if not records:
            if data is not None:
                yield "out", data
            return
        namespace = self.namespace()
        failed: list[dict[str, Any]] = []
        keyed: list[tuple[str, Any, Any]] = []  # (key, value, record)
        for record in records:
            self.ctx.check()
            try:
                key = self.key_of(record)
                value = self.value_of(record) if operation in WRITES else None
            except ValueError as exc:
                failed.append({"namespace": namespace, "key": None, "reason": str(exc), "record": record})
                continue
            keyed.append((key, value, record))
        passed = self.apply(operation, namespace, keyed, failed) if keyed else []
        if passed:
            yield "out", passed
        if failed:
            yield "failed", failed

    def apply(self, operation: str, namespace: str, keyed: list[tuple[str, Any, Any]],
              failed: list[dict[str, Any]]) -> list[Any]:
        """Run the operation on the store; return what goes to `out`, add the rest to `failed`."""
        store = self.ctx.data_store
        call = self.ctx.call_blocking  # a kill does not wait for a busy database
        pairs = [(key, value) for key, value, _ in keyed]
        try:
            if operation == "read":
                return self.read(call(store.read_many, namespace, [key for key, _ in pairs]), namespace, keyed, failed)
            if operation == "upsert":
                call(store.upsert_many, namespace, pairs)
                done = [True] * len(pairs)
            elif operation == "delete":
                call(store.delete_many, namespace, [key for key, _ in pairs])
                done = [True] * len(pairs)  # deleting an absent key leaves the store as asked
            elif operation == "update":
                done = call(store.update_many, namespace, pairs)
            else:
                done = call(lambda: store.create_many(namespace, pairs, fail_if_exists=operation == "create_or_error"))
        except ZiggyError as exc:
            if exc.code == "KEY_EXISTS":
                raise BlockError(f"{exc.message} (operation create_or_error stops the run when a key exists; use "
                                 f"create to send such records to 'failed' instead, or upsert to overwrite)") from None
            raise BlockError(f"data store {operation} failed: {exc.message}") from None
        reason = "key exists" if operation == "create" else "key not found"
        passed = []
        for ok, (key, _, record) in zip(done, keyed):
            if ok:
                passed.append(record)
            else:
                failed.append({"namespace": namespace, "key": key, "reason": reason, "record": record})
        return passed

    def read(self, found: dict[str, Any], namespace: str, keyed: list[tuple[str, Any, Any]],
             failed: list[dict[str, Any]]) -> list[Any]:
        target, default = self.config["targetField"], self.config["defaultValue"]
        passed = []
        for key, _, record in keyed:
            if key in found:
                value = found[key]
            elif default is not None:
                value = copy.deepcopy(default)
            else:
                failed.append({"namespace": namespace, "key": key, "reason": "key not found", "record": record})
                continue
            if not target:
                passed.append(value)
                continue
            if not isinstance(record, dict):
                raise BlockError(f"targetField needs records that are objects; got a {type(record).__name__}. "
                                 f"Leave targetField empty to emit the values instead")
            result = dict(record)
            if "." in target:
                result = copy.deepcopy(record)  # set_path writes into nested objects: do not touch the input's
            set_path(result, target, value)
            passed.append(result)
        return passed


register(BlockType(
    "data_store", "Data Store", "Keeps key/value state across runs in the app's database (e.g. the last synced "
    "id). Records go to `failed` (as {namespace, key, reason, record}) when they have no key, when create finds "
    "the key already there (reason 'key exists') or when update/read finds nothing ('key not found'). "
    "create_or_error instead ends the run FATAL naming the existing key, writing nothing of that batch (that is "
    "Ziggy's 'error if exists'). Each batch is one database operation; a later block of the same run, and every "
    "later run, sees what was written.",
    inputs=("in",), outputs=("out", "failed"),
    config=(
        ConfigField("namespace", "template", "The store's name; keys are unique within it. May use mode, e.g. "
                    "sync-{{ mode }} to keep DEV and PROD state apart.", required=True),
        ConfigField("operation", "enum", "upsert: write, overwriting; create: write new keys only; "
                    "create_or_error: like create, but an existing key ends the run; update: overwrite existing "
                    "keys only; read: look the key up; delete: remove the key.", default="upsert",
                    choices=OPERATIONS),
        ConfigField("keyField", "string", "The record field holding the key (dots for nested). Set this or key.",
                    default=""),
        ConfigField("key", "template", "The key, the same for every record (lastId) or a template "
                    "(contact-{{ id }}). Set this or keyField. A read with a fixed key also runs when no data "
                    "came in, once.", default=""),
        ConfigField("valueField", "string", "For writes: the record field to store (empty: the whole record).",
                    default=""),
        ConfigField("targetField", "string", "For read: put the value in this field of each record (empty: emit "
                    "the values themselves).", default=""),
        ConfigField("defaultValue", "json", "For read: the value of a key that is not there (then the record "
                    "goes to out, not failed); empty: absent keys go to failed."),
    ),
    impl=DataStoreBlock, category="Storage",
))

"""validate: JSON Schema checks on records; invalid ones go to their own output with the reasons."""

from __future__ import annotations

from typing import Any, Mapping

import jsonschema
import referencing.exceptions
from jsonschema_specifications import REGISTRY as SPECIFICATIONS

from ...errors import ValidationError
from ..block import Block, Emitted
from ..context import BlockError
from ..records import as_records
from ..registry import BlockType, ConfigField, register

CHECK_EVERY = 1000  # records between kill/timeout checks inside one batch
MAX_ERRORS_PER_RECORD = 20  # a record wrong everywhere needs no list of hundreds of reasons
DRAFTS: dict[str, type] = {"2020-12": jsonschema.Draft202012Validator, "7": jsonschema.Draft7Validator}


def _path_text(path: Any) -> str:
    return ".".join(str(part) for part in path)


def _prepare_validator(config: Mapping[str, Any], where: str) -> Any:
    schema = config["schema"]
    if not isinstance(schema, dict):
        raise ValidationError(f"{where}: config.schema must be a JSON Schema object, e.g. "
                              f'{{"type": "object", "required": ["email"]}}')
    validator_class = DRAFTS[config["draft"]]
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        at = _path_text(exc.path)
        raise ValidationError(f"{where}: config.schema is not a valid JSON Schema (draft {config['draft']})"
                              f"{f' at {at}' if at else ''}: {exc.message}") from None
    format_checker = validator_class.FORMAT_CHECKER if config["formats"] else None
    # $ref resolves inside the schema and to the official meta-schemas (shipped with jsonschema) only:
    # a flow never fetches schemas from the network.
    return validator_class(schema, registry=SPECIFICATIONS, format_checker=format_checker)


def _errors(validator: Any, record: Any) -> list[dict[str, str]]:
    found = []
    for error in validator.iter_errors(record):
        found.append({"path": _path_text(error.absolute_path), "message": error.message})
        if len(found) >= MAX_ERRORS_PER_RECORD:
            break
    return found


class Validate(Block):
    """Valid records go to `valid`; the others to `invalid` with their errors, or the run fails."""

    @classmethod
    def prepare(cls, config: Mapping[str, Any], where: str) -> Any:
        return _prepare_validator(config, where)

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.seen = 0  # records checked so far in this run: an index the user can find in the input

    def process(self, port: str, data: Any) -> Emitted:
        records = as_records(data)
        validator, abort, check = self.prepared, self.config["abortOnInvalid"], self.ctx.check
        is_valid = validator.is_valid
        valid: list[Any] = []
        invalid: list[dict[str, Any]] = []
        try:
            for start in range(0, len(records), CHECK_EVERY):
                check()
                for record in records[start:start + CHECK_EVERY] if len(records) > CHECK_EVERY else records:
                    if is_valid(record):
                        valid.append(record)
                        continue
                    errors = _errors(validator, record)
                    if abort:
                        index = self.seen + len(valid) + len(invalid)
                        reasons = "; ".join(f"{e['path'] or '(record)'}: {e['message']}" for e in errors)
                        raise BlockError(f"record {index} (counting from 0) is invalid: {reasons}; fix the data, "
                                         f"or turn off abortOnInvalid to send invalid records to `invalid`")
                    invalid.append({"record": record, "errors": errors})
        except referencing.exceptions.Unresolvable as exc:
            raise BlockError(f"the schema refers to {exc} which cannot be resolved; only references inside the "
                             f"schema itself (#/$defs/...) are supported, nothing is downloaded") from None
        self.seen += len(records)
        # An empty batch still goes on (a has_data block downstream may want to see it).
        if valid or not invalid:
            yield "valid", valid
        if invalid:
            yield "invalid", invalid


register(BlockType(
    "validate", "Validate", "Checks each record against a JSON Schema: valid records go to `valid`, invalid ones "
    "to `invalid` as {record, errors: [{path, message}]} (or the run fails on the first one).",
    inputs=("in",), outputs=("valid", "invalid"),
    config=(ConfigField("schema", "json", "The JSON Schema each record must meet, e.g. {\"type\": \"object\", "
                        "\"required\": [\"email\"], \"properties\": {\"email\": {\"type\": \"string\"}}}.",
                        required=True),
            ConfigField("abortOnInvalid", "boolean", "Fail the run on the first invalid record instead of sending "
                        "it to `invalid`.", default=False),
            ConfigField("draft", "enum", "The JSON Schema version the schema is written in.", default="2020-12",
                        choices=tuple(DRAFTS)),
            ConfigField("formats", "boolean", "Also check \"format\" (email, date, uuid, ipv4, ...).",
                        default=False)),
    impl=Validate, category="Transform",
))

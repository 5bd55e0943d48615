"""audit: writes lines to the audit table (topic, identifier, keys, data, is-error)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ...audit import AuditEntry
from ...errors import ValidationError, ZiggyError
from ..block import Block, Emitted
from ..context import BlockError
from ..expressions import Evaluator, ExpressionError, Template, compile_template
from ..records import as_records, get_path
from ..registry import BlockType, ConfigField, register

LABEL_FIELDS = ("identifier", "primaryKey", "secondaryKey")


@dataclass(frozen=True)
class Label:
    """Where a label comes from: a template when the text has {{ }} parts, else a field path."""

    template: Template | None = None
    path: str | None = None


@dataclass(frozen=True)
class AuditPlan:
    topic: Template
    labels: dict[str, Label | None]


def compile_label(text: str, where: str) -> Label | None:
    """Plain text names a field of the record (dots for nested); text with {{ }} is a template."""
    if not text.strip():
        return None
    if "{{" in text:
        return Label(template=compile_template(text, where))
    return Label(path=text.strip())


class Audit(Block):
    """One audit line per record, all of a batch written in one database operation."""

    def __init__(self, *args: Any):
        super().__init__(*args)
        ctx = self.ctx
        self.evaluator = Evaluator(ctx.variables, ctx.mode, ctx.execution_id, ctx.secret)

    @classmethod
    def prepare(cls, config: Mapping[str, Any], where: str) -> AuditPlan:
        if not config["topic"].strip():
            raise ValidationError(f"{where}: config.topic is empty; name what the lines are about, e.g. "
                                  f"'contact-import'")
        topic = compile_template(config["topic"], f"{where}: config.topic")
        labels = {name: compile_label(config[name], f"{where}: config.{name}") for name in LABEL_FIELDS}
        return AuditPlan(topic, labels)

    def _render(self, template: Template, record: Any, name: str, index: int) -> Any:
        try:
            return self.evaluator.render(template, record)
        except ExpressionError as exc:
            raise BlockError(f"{name} of record {index}: {exc}; fix the template or the data") from None

    def _label(self, name: str, record: Any, index: int) -> Any:
        label = self.prepared.labels[name]
        if label is None:
            return None
        if label.template is not None:
            value = self._render(label.template, record, name, index)
        else:
            value = get_path(record, label.path)
        return None if value in (None, "") else value

    def entries(self, records: list[Any]) -> list[AuditEntry]:
        ctx, config, plan = self.ctx, self.config, self.prepared
        result = []
        for index, record in enumerate(records):
            ctx.check()
            topic = self._render(plan.topic, record, "topic", index)
            if topic in (None, ""):
                raise BlockError(f"the topic of record {index} is empty; check config.topic ({config['topic']!r})")
            result.append(AuditEntry(
                execution_id=ctx.execution_id, flow_uuid=ctx.flow_uuid, block_id=self.node.id, topic=str(topic),
                identifier=self._label("identifier", record, index),
                primary_key=self._label("primaryKey", record, index),
                secondary_key=self._label("secondaryKey", record, index),
                data=record if config["includeData"] else None, is_error=config["isError"]))
        return result

    def process(self, port: str, data: Any) -> Emitted:
        records = as_records(data)
        if records:
            entries = self.entries(records)
            audit = self.ctx.audit
            try:
                # Through call_blocking: a kill does not wait for a busy database to commit.
                self.ctx.call_blocking(audit.record_many, entries)
            except ZiggyError as exc:
                raise BlockError(f"the audit lines could not be written: {exc.message}") from None
        if data is not None:
            yield "out", data


register(BlockType(
    "audit", "Audit", "Writes one audit line per record (topic, identifier, primary and secondary key, optionally "
    "the record) with the run's executionId, then passes the records on unchanged. Lines are kept whatever the "
    "flow's history level, and are read with GET /api/ziggy/audit or in the run's detail. Put one on a "
    "terminator's error path (isError on) to log why a run failed.",
    inputs=("in",), outputs=("out",),
    config=(
        ConfigField("topic", "template", "What the lines are about, e.g. contact-import or "
                    "{{ 'rejected-' + objectType }}.", required=True),
        ConfigField("identifier", "template", "The record's identifier: a field of the record (email, or "
                    "dots for nested: contact.email), or a template with {{ }} such as {{ lower(email) }}.",
                    default=""),
        ConfigField("primaryKey", "template", "A key to find the line by (e.g. the HubSpot id): a field of "
                    "the record or a template with {{ }}.", default=""),
        ConfigField("secondaryKey", "template", "A second key (e.g. the source system's id): a field of the "
                    "record or a template with {{ }}.", default=""),
        ConfigField("isError", "boolean", "Mark the lines as errors (filter with isError=true).", default=False),
        ConfigField("includeData", "boolean", "Keep the whole record with each line (records over 64 KB of "
                    "JSON are kept as their size and a preview).", default=False),
    ),
    impl=Audit, category="Storage",
))

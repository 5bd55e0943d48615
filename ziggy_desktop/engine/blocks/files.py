"""file_read and file_write: CSV, JSON and JSON Lines on the local file system, streamed."""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import IO, Any, Iterator, Mapping

from ...errors import ValidationError
from ..block import Block, Emitted, source_fields
from ..context import BlockError
from ..records import as_records
from ..registry import BlockType, ConfigField, register

_EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_CHECK_EVERY = 4096  # records between kill/timeout checks inside one batch
_CHUNK_CHARS = 1 << 16  # JSON is read this much at a time
_MAX_JSON_ITEM_CHARS = 64 << 20  # one item of a JSON array larger than this is refused, not buffered
_MAX_RAW_CHARS = 10_000  # how much of a bad line its rejected record keeps
_WHITESPACE = re.compile(r"[ \t\n\r]*")

PATH_HELP = ("The file: an absolute path, or one relative to the folder Ziggy Desktop was started from; ~ is your "
             "home folder.")


def _resolve(path: str) -> Path:
    return Path(os.path.abspath(os.path.expanduser(path.strip())))


def _delimiter(value: str, where: str) -> str:
    # An editor field cannot hold a tab easily, so the two characters \t mean one.
    delimiter = "\t" if value == "\\t" else value
    if len(delimiter) != 1 or delimiter in ('"', "\r", "\n"):
        raise ValidationError(f"{where}: config.delimiter must be one character, e.g. , or ; or \\t (got {value!r})")
    return delimiter


def _check_encoding(value: str, where: str) -> None:
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValidationError(f"{where}: config.encoding {value!r} is not a known text encoding; use e.g. utf-8, "
                              f"utf-8-sig, latin-1 or cp1252") from None


def _format(config_format: str, path: Path) -> str:
    if config_format != "auto":
        return config_format
    found = _EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise BlockError(f"cannot tell the format of {path} from its extension; set format to csv, json or jsonl")
    return found


def _open_error(exc: OSError, path: Path, reading: bool) -> BlockError:
    if isinstance(exc, FileNotFoundError):
        if reading:
            return BlockError(f"file not found: {path}. Check the path (a relative path starts from {os.getcwd()})")
        return BlockError(f"the folder {path.parent} does not exist; create it or change the path")
    if isinstance(exc, IsADirectoryError):
        return BlockError(f"{path} is a folder, not a file; give the path of a file")
    if isinstance(exc, PermissionError):
        return BlockError(f"no permission to {'read' if reading else 'write'} {path}; check the file's permissions")
    return BlockError(f"cannot {'read' if reading else 'write'} {path}: {exc.strerror or exc}")


# -- file_read ---------------------------------------------------------------------------------------------


class _BadLine(Exception):
    """A line that cannot be read: yielded by the CSV and JSON Lines readers (they go on after it),
    raised by the JSON reader (it cannot)."""

    def __init__(self, line: int, reason: str, raw: Any):
        super().__init__(reason)
        self.line, self.reason, self.raw = line, reason, raw


class _JsonArrayStream:
    """Reads a JSON document a chunk at a time; the items of a top-level array one by one."""

    def __init__(self, handle: IO[str]):
        self.handle = handle
        self.decoder = json.JSONDecoder()
        self.buf = ""
        self.pos = 0
        self.line = 1  # the line of buf[0]
        self.eof = False

    def line_at(self, pos: int | None = None) -> int:
        return self.line + self.buf.count("\n", 0, self.pos if pos is None else pos)

    def _more(self, size: int = 0) -> bool:
        if self.eof:
            return False
        data = self.handle.read(size or _CHUNK_CHARS)
        if not data:
            self.eof = True
            return False
        self.line += self.buf.count("\n", 0, self.pos)
        self.buf = self.buf[self.pos:] + data
        self.pos = 0
        if len(self.buf) > _MAX_JSON_ITEM_CHARS:
            raise _BadLine(self.line, f"an item is over {_MAX_JSON_ITEM_CHARS >> 20} MiB of text; split the file "
                           f"(JSON Lines reads any size)", None)
        return True

    def peek(self) -> str:
        """The next character that is not whitespace ('' at the end); pos moves to it."""
        while True:
            self.pos = _WHITESPACE.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def value(self) -> Any:
        if not self.peek():
            raise _BadLine(self.line_at(), "the file ends where a value should be", None)
        size = 0
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # The chunk may end inside the value: read on and try again; a real error stays one.
                incomplete = exc.pos >= len(self.buf) - 6 or exc.msg.startswith("Unterminated string")
                if incomplete and self._more(size):
                    # A value much bigger than a chunk must not be decoded again for every chunk.
                    size = 2 * (size or _CHUNK_CHARS)
                    continue
                raise _BadLine(self.line_at(exc.pos), f"not valid JSON: {exc.msg}", None) from None
            if end >= len(self.buf) and self._more(size):
                continue  # a number at the very end may go on in the next chunk
            self.pos = end
            return value


def _check_path_encoding_columns(config: Mapping[str, Any], where: str) -> list[str]:
    """The settings both file blocks share; returns the configured columns."""
    if not config["path"].strip():
        raise ValidationError(f"{where}: config.path is required ({PATH_HELP})")
    _check_encoding(config["encoding"], where)
    columns = config["columns"]
    if len(set(columns)) != len(columns) or not all(c.strip() for c in columns):
        raise ValidationError(f"{where}: config.columns must be distinct, non-empty names")
    return columns


class FileRead(Block):
    """Reads the whole file each time a batch arrives (usually once: the receiver's), emitting it in batches."""

    @classmethod
    def prepare(cls, config: Mapping[str, Any], where: str) -> Any:
        columns = _check_path_encoding_columns(config, where)
        if not config["hasHeader"] and not columns and config["format"] in ("auto", "csv"):
            raise ValidationError(f"{where}: config.columns is required when hasHeader is false: name the CSV's "
                                  f"columns in order")
        return {"delimiter": _delimiter(config["delimiter"], where)}

    def __init__(self, *args: Any):
        super().__init__(*args)
        self._records = self._rejected = 0
        self._line_now: Any = lambda: 0  # the reader's current line, for messages

    def process(self, port: str, data: Any) -> Emitted:
        path = _resolve(self.config["path"])
        file_format = _format(self.config["format"], path)
        newline = "" if file_format == "csv" else None  # the csv module reads line ends itself
        try:
            handle = open(path, encoding=self.config["encoding"], newline=newline)  # noqa: SIM115 - closed below
        except OSError as exc:
            raise _open_error(exc, path, reading=True) from None
        batch_size = self.config["batchSize"]
        max_iterations = self.config["maxIterations"]
        batches = 0
        with handle:
            reader = {"csv": self._csv, "json": self._json, "jsonl": self._jsonl}[file_format]
            items = reader(handle, path)
            batch: list[Any] = []
            rejected: list[Any] = []
            try:
                while not max_iterations or batches < max_iterations:
                    try:
                        item = next(items)
                    except StopIteration:
                        break
                    except _BadLine as bad:  # the reader cannot go on (a malformed JSON file)
                        raise BlockError(f"{path}, line {bad.line}: {bad.reason}") from None
                    if item.__class__ is _BadLine:
                        bad = item
                        if not self.config["skipBadLines"]:
                            raise BlockError(f"{path}, line {bad.line}: {bad.reason}. Fix the line, or set "
                                             f"skipBadLines to send bad lines to the rejected output")
                        rejected.append({"file": str(path), "line": bad.line, "reason": bad.reason, "raw": bad.raw})
                        self._rejected += 1
                        if len(rejected) >= (batch_size or 1000):
                            yield "rejected", rejected
                            rejected = []
                        continue
                    batch.append(item)
                    if len(batch) == batch_size:
                        batches += 1
                        self._records += len(batch)
                        yield "out", batch
                        batch = []
                        if rejected:
                            yield "rejected", rejected
                            rejected = []
                if batch and (not max_iterations or batches < max_iterations):
                    batches += 1
                    self._records += len(batch)
                    yield "out", batch
                if rejected:
                    yield "rejected", rejected
            except UnicodeDecodeError as exc:
                raise BlockError(f"{path} is not {self.config['encoding']} text ({exc.reason} near line "
                                 f"{self._line_now() + 1}); set encoding to the file's, e.g. latin-1 or "
                                 f"cp1252") from None
            finally:
                items.close()
        if not batches:
            yield "out", []  # so has_data and the like can tell "empty file" from "not run"

    def finish(self) -> Emitted:
        path = _resolve(self.config["path"])
        rejected = f", {self._rejected:,} bad lines rejected" if self.config["skipBadLines"] else ""
        self.ctx.log(f"file_read: {self._records:,} records from {path}{rejected}")
        return ()

    def _csv(self, handle: IO[str], path: Path) -> Iterator[dict[str, Any]]:
        delimiter = self.prepared["delimiter"]
        if delimiter == "," and path.suffix.lower() == ".tsv":
            delimiter = "\t"
        reader = csv.reader(handle, delimiter=delimiter, strict=True)
        self._line_now = lambda: reader.line_num
        check = self.ctx.check
        names: list[str] = list(self.config["columns"])
        if self.config["hasHeader"]:
            try:
                header = next(reader, None)
            except csv.Error as exc:
                raise BlockError(f"{path}, line 1: the header cannot be read: {exc}") from None
            if header is None:
                return
            if not names:
                names = [name.strip() for name in header]
                if len(set(names)) != len(names) or not all(names):
                    raise BlockError(f"{path}: the header line has empty or repeated column names; fix it, or set "
                                     f"columns (the header line is then skipped)")
        width = len(names)
        count = 0
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield _BadLine(line, f"the CSV cannot be read: {exc}", [])
                continue
            if not row:
                continue  # a blank line
            if len(row) != width:
                yield _BadLine(line, f"{len(row)} fields where there are {width} columns", row)
                continue
            count += 1
            if count % _CHECK_EVERY == 0:
                check()
            yield dict(zip(names, row))

    def _jsonl(self, handle: IO[str], path: Path) -> Iterator[Any]:
        loads = json.loads
        check = self.ctx.check
        number = 0
        self._line_now = lambda: number
        for number, line in enumerate(handle, 1):
            if number % _CHECK_EVERY == 0:
                check()
            if not line.strip():
                continue
            try:
                yield loads(line)
            except json.JSONDecodeError as exc:
                yield _BadLine(number, f"not valid JSON: {exc.msg} (column {exc.colno})",
                               line.rstrip("\r\n")[:_MAX_RAW_CHARS])

    def _json(self, handle: IO[str], path: Path) -> Iterator[Any]:
        stream = _JsonArrayStream(handle)
        self._line_now = stream.line_at
        first = stream.peek()
        if not first:
            return
        if first != "[":
            value = stream.value()  # a single object (or value) is one record
            if stream.peek():
                raise _BadLine(stream.line_at(), "there is more after the JSON value; a file holds one JSON value "
                               "(use JSON Lines for one value per line)", None)
            yield value
            return
        stream.pos += 1
        count = 0
        if stream.peek() == "]":
            stream.pos += 1
        else:
            while True:
                yield stream.value()
                count += 1
                if count % _CHECK_EVERY == 0:
                    self.ctx.check()
                after = stream.peek()
                if after == ",":
                    stream.pos += 1
                    continue
                if after == "]":
                    stream.pos += 1
                    break
                raise _BadLine(stream.line_at(), f"expected , or ] after item {count} of the array"
                               f"{' (the file ends early)' if not after else ''}", None)
        if stream.peek():
            raise _BadLine(stream.line_at(), "there is more after the JSON array's closing ]", None)


# -- file_write --------------------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def _existing_header(path: Path, encoding: str, delimiter: str) -> list[str]:
    """The header of a CSV that append mode adds to (empty when the file is new or empty)."""
    try:
        with open(path, encoding=encoding, newline="") as handle:
            return [name.strip() for name in next(csv.reader(handle, delimiter=delimiter), [])]
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BlockError(f"cannot read the header of {path} to append to it: {exc}") from None


class FileWrite(Block):
    """Writes each batch as it arrives; overwrite mode writes a temporary file renamed over the target
    when the block finishes, so a failed run never leaves a half-written file."""

    @classmethod
    def prepare(cls, config: Mapping[str, Any], where: str) -> Any:
        _check_path_encoding_columns(config, where)
        explicit_json = config["format"] == "json" or (
            config["format"] == "auto" and _resolve(config["path"]).suffix.lower() == ".json")
        if config["mode"] == "append" and explicit_json:
            raise ValidationError(f"{where}: a JSON array file cannot be appended to; use format jsonl (one record "
                                  f"per line) or csv to append, or mode overwrite")
        return {"delimiter": _delimiter(config["delimiter"], where)}

    def __init__(self, *args: Any):
        super().__init__(*args)
        self._path = _resolve(self.config["path"])
        self._format = ""
        self._handle: IO[str] | None = None
        self._temporary: Path | None = None
        self._writer: Any = None
        self._columns: list[str] | None = None
        self._columns_fixed = bool(self.config["columns"])  # chosen by the user: other fields are left out
        self._header_needed = False
        self._records = 0

    def process(self, port: str, data: Any) -> Emitted:
        records = as_records(data)
        if self._handle is None:
            self._open()
        try:
            if self._format == "csv":
                self._write_csv(records)
            elif self._format == "jsonl":
                self._handle.write("".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records))
            else:
                separator = ",\n" if self._records else "\n"
                for record in records:
                    self._handle.write(separator + json.dumps(record, ensure_ascii=False, default=str))
                    separator = ",\n"
        except OSError as exc:
            raise BlockError(f"cannot write {self._path}: {exc.strerror or exc}") from None
        self._records += len(records)
        yield "out", data

    def _open(self) -> None:
        path = self._path
        self._format = _format(self.config["format"], path)
        if self._format == "json" and self.config["mode"] == "append":
            raise BlockError("a JSON array file cannot be appended to; use format jsonl or csv, or mode overwrite")
        encoding = self.config["encoding"]
        newline = "" if self._format == "csv" else None
        if self._format == "csv" and self.config["mode"] == "append" and not self._columns_fixed:
            self._columns = _existing_header(path, encoding, self.prepared["delimiter"]) or None
        try:
            if self.config["mode"] == "append":
                # Appending goes straight to the file: what a failed run wrote stays (documented).
                appending_to = path.stat().st_size if path.exists() else 0
                self._handle = open(path, "a", encoding=encoding, newline=newline)  # noqa: SIM115
                self._header_needed = appending_to == 0
            else:
                temporary = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
                descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                self._temporary = temporary
                self._handle = open(descriptor, "w", encoding=encoding, newline=newline)  # noqa: SIM115
                self._header_needed = True
        except OSError as exc:
            raise _open_error(exc, path, reading=False) from None
        if self._format == "csv":
            self._writer = csv.writer(self._handle, delimiter=self.prepared["delimiter"], lineterminator="\n")
        elif self._format == "json":
            self._handle.write("[")

    def _write_csv(self, records: list[Any]) -> None:
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise BlockError(f"record {index} of the batch is a {type(record).__name__}; CSV needs records "
                                 f"(objects), or choose format jsonl")
        if not records:
            return
        if self._columns is None:
            self._columns = list(self.config["columns"]) or [str(key) for key in records[0]]
        columns = self._columns
        if self._header_needed and self.config["header"]:
            self._writer.writerow(columns)
        self._header_needed = False
        if not self._columns_fixed:
            known = set(columns)
            for index, record in enumerate(records):
                if len(record) > len(known) or not known.issuperset(record):
                    extra = ", ".join(sorted(str(k) for k in record if k not in known))
                    raise BlockError(f"record {index} of the batch has field(s) {extra} that are not columns of the "
                                     f"CSV ({', '.join(columns)}); set columns to choose the CSV's columns (other "
                                     f"fields are then left out)")
        self._writer.writerows([_cell(record.get(name)) for name in columns] for record in records)

    def finish(self) -> Emitted:
        handle = self._handle
        if handle is None:
            return ()
        try:
            if self._format == "json":
                handle.write("\n]\n" if self._records else "]\n")
            elif self._format == "csv" and self._header_needed and self.config["header"] and self._columns_fixed:
                self._writer.writerow(self._columns or self.config["columns"])  # no records: the header alone
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            self._handle = None
            if self._temporary is not None:
                if self._path.exists():
                    shutil.copymode(self._path, self._temporary)
                os.replace(self._temporary, self._path)
                self._temporary = None
        except OSError as exc:
            raise BlockError(f"cannot finish writing {self._path}: {exc.strerror or exc}") from None
        self.ctx.log(f"file_write: {self._records:,} records to {self._path}")
        return ()

    def close(self) -> None:
        # Without finish() (the run failed or was stopped) the temporary file is dropped.
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._temporary is not None:
            try:
                self._temporary.unlink()
            except FileNotFoundError:
                pass
            self._temporary = None


_ENCODING_HELP = "The text encoding, e.g. utf-8, utf-8-sig (skips or writes Excel's BOM), latin-1, cp1252."

register(BlockType(
    "file_read", "File Reader", "Reads a CSV, JSON or JSON Lines file each time data arrives (usually once, from "
    "the receiver) and streams its records out in batches. CSV values are text. A JSON file holding an array gives "
    "one record per item (read item by item); any other JSON value is one record.",
    inputs=("in",), outputs=("out", "rejected"),
    config=(
        ConfigField("path", "path", PATH_HELP, required=True),
        ConfigField("format", "enum", "auto: from the extension (.csv, .tsv, .json, .jsonl, .ndjson).",
                    default="auto", choices=("auto", "csv", "json", "jsonl")),
        ConfigField("delimiter", "string", "CSV: the field separator (\\t for a tab; .tsv files use a tab when this "
                    "is left at ,).", default=","),
        ConfigField("encoding", "string", _ENCODING_HELP, default="utf-8-sig"),
        ConfigField("hasHeader", "boolean", "CSV: the first line names the columns.", default=True),
        ConfigField("columns", "list", "CSV: the column names in order; required without a header, and with one they "
                    "replace it.", default=[], item_kind="string"),
        ConfigField("skipBadLines", "boolean", "CSV and JSON Lines: send a malformed line (or a CSV line with the "
                    "wrong number of fields) to the rejected output with its line number and reason instead of "
                    "failing the run. A malformed JSON file always fails.", default=False),
        *source_fields(),
    ),
    impl=FileRead, category="Data",
))
register(BlockType(
    "file_write", "File Writer", "Writes the records arriving to a CSV, JSON (one array) or JSON Lines file as they "
    "come, and passes them on unchanged. In overwrite mode the data goes to a temporary file beside the target "
    "that replaces it when the block finishes, so a failed run leaves the old file as it was; append mode writes "
    "straight to the file, so a failed run leaves what it had appended.",
    inputs=("in",), outputs=("out",),
    config=(
        ConfigField("path", "path", PATH_HELP, required=True),
        ConfigField("format", "enum", "auto: from the extension (.csv, .tsv, .json, .jsonl, .ndjson).",
                    default="auto", choices=("auto", "csv", "json", "jsonl")),
        ConfigField("mode", "enum", "overwrite: replace the file when the run succeeds; append: add to its end "
                    "(CSV and JSON Lines).", default="overwrite", choices=("overwrite", "append")),
        ConfigField("delimiter", "string", "CSV: the field separator (\\t for a tab).", default=","),
        ConfigField("columns", "list", "CSV: the columns, in order; other fields are left out. Empty: the first "
                    "record's fields (when appending: the file's header), and a later record with another field "
                    "is an error.", default=[], item_kind="string"),
        ConfigField("header", "boolean", "CSV: write the column names as the first line (not when appending to a "
                    "file that has lines).", default=True),
        ConfigField("encoding", "string", _ENCODING_HELP, default="utf-8"),
    ),
    impl=FileWrite, category="Data",
))

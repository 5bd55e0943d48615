"""Connections and secrets: DEV/PROD values encrypted at rest with Fernet, resolved per run mode."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets as secrets_module
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import ArgumentError

from .db import write_transaction
from .errors import NotFoundError, ValidationError, ZiggyError
from .models import ConnectionRecord, SecretRecord

log = logging.getLogger("ziggy.vault")

KEY_FILE_NAME = "secret.key"
MODES = ("DEV", "PROD")
MAX_NAME_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 500
# Other processes' writes show here within this many seconds; our own writes at once.
DEFAULT_CACHE_SECONDS = 2.0
MASK = "********"

_NAME = re.compile(r"[A-Za-z0-9._-]{1,%d}" % MAX_NAME_LENGTH)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token (RFC 9110)
_secrets = SecretRecord.__table__
_connections = ConnectionRecord.__table__


@dataclass(frozen=True)
class ConnectionKind:
    """The fields one kind of connection holds; `secret` ones are never shown back."""

    fields: tuple[str, ...]
    secret: frozenset[str]
    required: tuple[str, ...]
    defaults: Mapping[str, str]


CONNECTION_KINDS: dict[str, ConnectionKind] = {
    "hubspot": ConnectionKind(("baseUrl", "token"), frozenset({"token"}), ("token",),
                              {"baseUrl": "https://api.hubapi.com"}),
    "sql": ConnectionKind(("url",), frozenset({"url"}), ("url",), {}),
    "rest": ConnectionKind(("baseUrl", "authType", "token", "username", "password", "headerName", "headerValue"),
                           frozenset({"token", "password", "headerValue"}), ("baseUrl",), {"authType": "none"}),
}
REST_AUTH_TYPES = ("none", "bearer", "basic", "header")
# Which secret fields each REST auth type needs (the CLI prompts for these).
REST_AUTH_FIELDS = {"none": (), "bearer": ("token",), "basic": ("username", "password"),
                    "header": ("headerName", "headerValue")}
# Kept as typed: a password may start or end with a space.
_UNSTRIPPED_FIELDS = frozenset({"password"})


class _Keep:
    """The type of KEEP."""

    def __repr__(self) -> str:
        return "KEEP"


# Pass KEEP for a value (a secret's dev/prod, a connection field) to keep the one stored: an editor
# that never shows stored credentials can still save a changed description or base URL.
KEEP: Any = _Keep()


@dataclass(frozen=True)
class SecretInfo:
    """What may be shown about a secret: never its values."""

    name: str
    description: str
    dev_set: bool
    prod_set: bool  # False: PROD runs use the DEV value
    created_at: float
    updated_at: float
    readable: bool = True  # False: the values cannot be decrypted with this key file (re-enter them)


@dataclass(frozen=True)
class ConnectionInfo:
    """What may be shown about a connection: for each mode, the fields it sets itself, secret ones masked.

    A field missing from `prod` takes the DEV value in PROD runs.
    """

    name: str
    kind: str
    description: str
    dev: dict[str, str]
    prod: dict[str, str]
    created_at: float
    updated_at: float
    readable: bool = True

    @property
    def target(self) -> str:
        """Where the DEV settings point (base URL, or the database URL with its password masked)."""
        default = CONNECTION_KINDS[self.kind].defaults.get("baseUrl", "") if self.kind in CONNECTION_KINDS else ""
        return self.dev.get("baseUrl") or self.dev.get("url") or default


def key_file_path(data_dir: Path) -> Path:
    """Where a data dir keeps its vault key."""
    return Path(data_dir) / KEY_FILE_NAME


def check_name(name: Any, what: str = "secret") -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValidationError(f"A {what} name is 1 to {MAX_NAME_LENGTH} letters, digits, '-', '_' or '.' "
                              f"(got {name!r}); choose another name.")
    return name


def check_mode(mode: Any) -> str:
    normalised = mode.strip().upper() if isinstance(mode, str) else ""
    if normalised not in MODES:
        raise ValidationError(f"The environment mode must be DEV or PROD (got {mode!r}).")
    return normalised


def connection_kind(kind: Any) -> ConnectionKind:
    if kind not in CONNECTION_KINDS:
        raise ValidationError(f"Unknown connection kind {kind!r}; use one of: {', '.join(CONNECTION_KINDS)}.")
    return CONNECTION_KINDS[kind]


def mask_sql_url(url: str) -> str:
    """The URL with its password (and any password-like query parameter) replaced by ***."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return MASK
    sensitive = ("pass", "secret", "token", "key")
    query = {k: ("***" if any(word in k.lower() for word in sensitive) else v) for k, v in parsed.query.items()}
    return parsed.set(query=query).render_as_string(hide_password=True)


def _check_description(description: Any) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise ValidationError("The description must be text.")
    description = description.strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise ValidationError(f"The description is at most {MAX_DESCRIPTION_LENGTH} characters.")
    return description


def _check_http_url(value: str, where: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(f"{where} must be an http:// or https:// URL (got {value!r}).")


def merged_settings(kind: str, dev: Mapping[str, str], prod: Mapping[str, str], mode: str) -> dict[str, str]:
    """Every field of the kind for `mode`: defaults, then DEV, then (for PROD) each non-empty PROD field."""
    spec = CONNECTION_KINDS[kind]
    result = {name: spec.defaults.get(name, "") for name in spec.fields}
    result.update({k: v for k, v in dev.items() if v})
    if mode == "PROD":
        result.update({k: v for k, v in prod.items() if v})
    return result


def _check_effective(name: str, kind: str, settings: Mapping[str, str], mode: str) -> None:
    """The settings a `mode` run would get are complete and well formed."""
    where = f"Connection {name!r} ({kind}, {mode})"
    spec = CONNECTION_KINDS[kind]
    for field_name in spec.required:
        if not settings[field_name]:
            raise ValidationError(f"{where}: {field_name} is required; give it for DEV (PROD falls back to DEV).")
    if "baseUrl" in settings:
        _check_http_url(settings["baseUrl"], f"{where}: baseUrl")
    if kind == "sql":
        try:
            make_url(settings["url"])
        except ArgumentError:
            # The URL itself may hold a password: never quote it.
            raise ValidationError(f"{where}: url is not a database URL; use e.g. "
                                  f"postgresql://user:password@host/dbname or sqlite:///path/to/file.db.") from None
    if kind == "rest":
        auth = settings["authType"]
        if auth not in REST_AUTH_TYPES:
            raise ValidationError(f"{where}: authType must be one of {', '.join(REST_AUTH_TYPES)} (got {auth!r}).")
        missing = [f for f in REST_AUTH_FIELDS[auth] if not settings[f] and f != "password"]
        if missing:
            raise ValidationError(f"{where}: authType {auth!r} needs {' and '.join(missing)}.")
        if auth == "header" and not _HEADER_NAME.fullmatch(settings["headerName"]):
            raise ValidationError(f"{where}: headerName {settings['headerName']!r} is not a valid HTTP header "
                                  f"name (letters, digits and -, no spaces or ':').")


def _clean_fields(name: str, kind: str, values: Mapping[str, Any] | None, mode: str,
                  stored: Mapping[str, str]) -> dict[str, str]:
    """The non-empty fields of one mode, checked against the kind; KEEP takes the stored value."""
    spec = CONNECTION_KINDS[kind]
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise ValidationError(f"Connection {name!r}: the {mode} settings must be an object of fields.")
    unknown = sorted(set(values) - set(spec.fields))
    if unknown:
        raise ValidationError(f"Connection {name!r}: unknown field(s) {', '.join(map(repr, unknown))} for a {kind} "
                              f"connection; the allowed fields are {', '.join(spec.fields)}.")
    result: dict[str, str] = {}
    for field_name, value in values.items():
        if value is KEEP:
            value = stored.get(field_name, "")
        if value is None:
            continue
        if not isinstance(value, str):
            raise ValidationError(f"Connection {name!r}: {mode} {field_name} must be text.")
        if field_name not in _UNSTRIPPED_FIELDS:
            value = value.strip()
        if field_name == "baseUrl":
            value = value.rstrip("/")  # blocks join paths onto it
        if value:
            result[field_name] = value
    return result


def _shown(kind: str, settings: Mapping[str, str]) -> dict[str, str]:
    """The set fields as they may be displayed."""
    spec = CONNECTION_KINDS[kind]
    shown = {}
    for field_name in spec.fields:
        value = settings.get(field_name)
        if not value:
            continue
        if field_name == "url":
            shown[field_name] = mask_sql_url(value)
        elif field_name in spec.secret:
            shown[field_name] = MASK
        else:
            shown[field_name] = value
    return shown


def _create_key_file(path: Path) -> None:
    """Write a new key so that no process ever sees a partial file, nor two keys win.

    The key is written whole to an owner-only temporary file (O_CREAT|O_EXCL, 0600) which is then
    hard-linked to its name: the link fails if another process got there first, and we use theirs.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    temporary = path.with_name(f".{path.name}.{secrets_module.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            if os.name != "nt":
                os.fchmod(handle.fileno(), 0o600)  # in case the umask was odd; never wider than 0600
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            if os.name == "nt":
                os.rename(temporary, path)  # fails if the key exists, like link elsewhere
            else:
                os.link(temporary, path)
        except FileExistsError:
            return
        except OSError:
            # A file system without hard links: create the name itself exclusively.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
            except FileExistsError:
                return
            with os.fdopen(fd, "wb") as handle:
                handle.write(key)
                handle.flush()
                os.fsync(handle.fileno())
        log.info("created the vault key file %s", path)
    finally:
        temporary.unlink(missing_ok=True)


@dataclass
class _Snapshot:
    secrets: dict[str, Any]  # name -> row (values still encrypted)
    connections: dict[str, Any]
    loaded_at: float


class Vault:
    """Secrets and connections of one database, encrypted with the key file at `key_path`.

    Thread-safe. Runs resolve through an in-memory snapshot of the (encrypted) tables that this
    Vault's writes refresh at once and that is re-read after `cache_seconds`, so other processes'
    changes show within that time while a resolve costs no database round trip.
    """

    def __init__(self, engine: Engine, key_path: Path, *, cache_seconds: float = DEFAULT_CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self._engine = engine
        self.key_path = Path(key_path)
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.RLock()
        self._fernet: Fernet | None = None
        self._snapshot: _Snapshot | None = None
        self._plain: dict[str, str] = {}  # Fernet token -> plain text (tokens change whenever a value does)

    # -- the key ----------------------------------------------------------------------------------------------

    def _load_key(self, create: bool) -> Fernet:
        with self._lock:
            if self._fernet is not None:
                return self._fernet
            if not self.key_path.exists():
                if not create:
                    raise self._missing_key_error()
                if self._has_rows():
                    log.warning("the vault key file %s is missing; a new one is made and values stored with the "
                                "old key must be re-entered", self.key_path)
                _create_key_file(self.key_path)
            try:
                raw = self.key_path.read_bytes().strip()
            except FileNotFoundError:
                raise self._missing_key_error() from None
            except OSError as exc:
                raise ZiggyError(f"Cannot read the key file {self.key_path} ({exc.strerror}); check that it is "
                                 f"readable by you.", code="VAULT_KEY_UNREADABLE") from None
            try:
                fernet = Fernet(raw)
            except ValueError:
                raise ZiggyError(
                    f"The key file {self.key_path} is damaged, so stored secrets and connection credentials "
                    f"cannot be decrypted. Restore it from a backup, or move it away (a new key is made on the "
                    f"next save) and re-enter the values.", code="VAULT_KEY_INVALID") from None
            self._tighten_permissions()
            self._fernet = fernet
            return fernet

    def _tighten_permissions(self) -> None:
        if os.name == "nt":
            return
        try:
            mode = stat.S_IMODE(self.key_path.stat().st_mode)
            if mode & 0o077:
                log.warning("the vault key file %s was readable by others (mode %o); set to 0600",
                            self.key_path, mode)
                os.chmod(self.key_path, 0o600)
        except OSError:
            log.warning("could not check the permissions of %s", self.key_path)

    def _missing_key_error(self) -> ZiggyError:
        return ZiggyError(
            f"The key file {self.key_path} is missing, so stored secrets and connection credentials cannot be "
            f"decrypted. Restore it from a backup, or re-enter the values in Secrets & Connections (or with "
            f"`ziggy-desktop secrets set` / `connections set`).", code="VAULT_KEY_MISSING")

    def _has_rows(self) -> bool:
        with self._engine.connect() as conn:
            return (conn.execute(select(_secrets.c.name).limit(1)).first() is not None
                    or conn.execute(select(_connections.c.name).limit(1)).first() is not None)

    def _encrypt(self, text: str) -> str:
        return self._load_key(create=True).encrypt(text.encode("utf-8")).decode("ascii")

    def _decrypt(self, token: str, what: str) -> str:
        plain = self._plain.get(token)
        if plain is not None:
            return plain
        fernet = self._load_key(create=False)
        try:
            plain = fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise ZiggyError(
                f"The {what} cannot be decrypted with the key file {self.key_path} (it was saved with another "
                f"key). Re-enter it in Secrets & Connections (or with `ziggy-desktop {what.split()[0]}s set`), "
                f"or restore the key file it was saved with.", code="VAULT_VALUE_UNREADABLE") from None
        with self._lock:
            self._plain[token] = plain
        return plain

    def _decrypt_settings(self, token: str, name: str) -> dict[str, str]:
        text = self._decrypt(token, f"connection {name!r}")
        try:
            settings = json.loads(text)
        except ValueError:
            settings = None
        if not isinstance(settings, dict):
            raise ZiggyError(f"The stored settings of connection {name!r} are damaged; set the connection again.",
                             code="VAULT_VALUE_UNREADABLE")
        return settings

    # -- the cached view ------------------------------------------------------------------------------------

    def _view(self, fresh: bool = False) -> _Snapshot:
        with self._lock:
            snapshot = self._snapshot
            now = self._clock()
            if fresh or snapshot is None or now - snapshot.loaded_at >= self._cache_seconds:
                with self._engine.connect() as conn:
                    secret_rows = {r.name: r for r in conn.execute(select(_secrets))}
                    connection_rows = {r.name: r for r in conn.execute(select(_connections))}
                snapshot = _Snapshot(secret_rows, connection_rows, now)
                self._snapshot = snapshot
                live = {r.dev_value for r in secret_rows.values()} | {r.prod_value for r in secret_rows.values()}
                live |= {r.dev_settings for r in connection_rows.values()}
                live |= {r.prod_settings for r in connection_rows.values()}
                self._plain = {token: plain for token, plain in self._plain.items() if token in live}
            return snapshot

    def _invalidate(self) -> None:
        with self._lock:
            self._snapshot = None

    # -- secrets --------------------------------------------------------------------------------------------

    def set_secret(self, name: str, dev: str, prod: str = "", description: str = "") -> SecretInfo:
        """Create or replace a secret; an empty PROD value means PROD runs use the DEV value."""
        name = check_name(name)
        description = _check_description(description)
        if dev is KEEP or prod is KEEP:
            stored = self._view(fresh=True).secrets.get(name)
            if dev is KEEP:
                dev = self._decrypt(stored.dev_value, f"secret {name!r}") if stored is not None else ""
            if prod is KEEP:
                prod = self._decrypt(stored.prod_value, f"secret {name!r}") if stored is not None else ""
        prod = "" if prod is None else prod
        if not isinstance(dev, str) or not isinstance(prod, str):
            raise ValidationError(f"Secret {name!r}: the values must be text.")
        if not dev:
            raise ValidationError(f"Secret {name!r} needs a DEV value (PROD falls back to it when empty).")
        values = {"description": description, "dev_value": self._encrypt(dev), "prod_value": self._encrypt(prod)}
        now = time.time()
        with write_transaction(self._engine) as conn:
            existing = conn.execute(select(_secrets.c.created_at).where(_secrets.c.name == name)).first()
            if existing is None:
                conn.execute(_secrets.insert().values(name=name, created_at=now, updated_at=now, **values))
                created_at = now
            else:
                conn.execute(_secrets.update().where(_secrets.c.name == name).values(updated_at=now, **values))
                created_at = existing.created_at
        self._invalidate()
        log.info("secret %r saved", name)
        return SecretInfo(name, description, True, bool(prod), created_at, now)

    def delete_secret(self, name: str) -> None:
        with write_transaction(self._engine) as conn:
            deleted = conn.execute(delete(_secrets).where(_secrets.c.name == name)).rowcount
        self._invalidate()
        if not deleted:
            raise NotFoundError(f"No secret named {name!r}; `ziggy-desktop secrets list` shows them.",
                                code="SECRET_NOT_FOUND")
        log.info("secret %r deleted", name)

    def list_secrets(self) -> list[SecretInfo]:
        """Every secret's name, description and which modes have their own value; never the values."""
        result = []
        for row in sorted(self._view(fresh=True).secrets.values(), key=lambda r: r.name.lower()):
            try:
                self._decrypt(row.dev_value, f"secret {row.name!r}")
                prod_set, readable = bool(self._decrypt(row.prod_value, f"secret {row.name!r}")), True
            except ZiggyError:
                prod_set, readable = False, False
            result.append(SecretInfo(row.name, row.description, True, prod_set, row.created_at, row.updated_at,
                                     readable))
        return result

    def resolve_secret(self, name: str, mode: str) -> str:
        """The secret's value for a run in `mode` (PROD falls back to DEV when its value is empty)."""
        mode = check_mode(mode)
        row = self._view().secrets.get(name)
        if row is None:
            raise NotFoundError(f"No secret named {name!r}; add it in Secrets & Connections or with "
                                f"`ziggy-desktop secrets set {name}`.", code="SECRET_NOT_FOUND")
        return self._secret_value(row, mode)

    def _secret_value(self, row: Any, mode: str) -> str:
        if mode == "PROD":
            prod = self._decrypt(row.prod_value, f"secret {row.name!r}")
            if prod:
                return prod
        return self._decrypt(row.dev_value, f"secret {row.name!r}")

    def secrets_for(self, mode: str) -> dict[str, str]:
        """Every secret's value for a run in `mode` (for script blocks)."""
        mode = check_mode(mode)
        return {name: self._secret_value(row, mode) for name, row in self._view().secrets.items()}

    # -- connections ----------------------------------------------------------------------------------------

    def set_connection(self, name: str, kind: str, dev: Mapping[str, Any], prod: Mapping[str, Any] | None = None,
                       description: str = "") -> ConnectionInfo:
        """Create or replace a connection; an empty PROD field takes the DEV field in PROD runs."""
        name = check_name(name, "connection")
        connection_kind(kind)
        description = _check_description(description)
        stored_dev: dict[str, str] = {}
        stored_prod: dict[str, str] = {}
        if any(v is KEEP for v in [*(dev or {}).values(), *(prod or {}).values()]):
            stored = self._view(fresh=True).connections.get(name)
            if stored is not None and stored.kind == kind:
                stored_dev = self._decrypt_settings(stored.dev_settings, name)
                stored_prod = self._decrypt_settings(stored.prod_settings, name)
        dev_fields = _clean_fields(name, kind, dev, "DEV", stored_dev)
        prod_fields = _clean_fields(name, kind, prod, "PROD", stored_prod)
        for mode in MODES:
            _check_effective(name, kind, merged_settings(kind, dev_fields, prod_fields, mode), mode)
        values = {"kind": kind, "description": description,
                  "dev_settings": self._encrypt(json.dumps(dev_fields)),
                  "prod_settings": self._encrypt(json.dumps(prod_fields))}
        now = time.time()
        with write_transaction(self._engine) as conn:
            existing = conn.execute(select(_connections.c.created_at).where(_connections.c.name == name)).first()
            if existing is None:
                conn.execute(_connections.insert().values(name=name, created_at=now, updated_at=now, **values))
                created_at = now
            else:
                conn.execute(_connections.update().where(_connections.c.name == name)
                             .values(updated_at=now, **values))
                created_at = existing.created_at
        self._invalidate()
        log.info("connection %r (%s) saved", name, kind)
        return ConnectionInfo(name, kind, description, _shown(kind, dev_fields), _shown(kind, prod_fields),
                              created_at, now)

    def delete_connection(self, name: str) -> None:
        with write_transaction(self._engine) as conn:
            deleted = conn.execute(delete(_connections).where(_connections.c.name == name)).rowcount
        self._invalidate()
        if not deleted:
            raise NotFoundError(f"No connection named {name!r}; `ziggy-desktop connections list` shows them.",
                                code="CONNECTION_NOT_FOUND")
        log.info("connection %r deleted", name)

    def _info(self, row: Any) -> ConnectionInfo:
        try:
            dev = _shown(row.kind, self._decrypt_settings(row.dev_settings, row.name))
            prod = _shown(row.kind, self._decrypt_settings(row.prod_settings, row.name))
        except ZiggyError:
            return ConnectionInfo(row.name, row.kind, row.description, {}, {}, row.created_at, row.updated_at, False)
        return ConnectionInfo(row.name, row.kind, row.description, dev, prod, row.created_at, row.updated_at)

    def get_connection_info(self, name: str) -> ConnectionInfo:
        row = self._view(fresh=True).connections.get(name)
        if row is None:
            raise self._no_connection(name)
        return self._info(row)

    def list_connections(self, kind: str | None = None) -> list[ConnectionInfo]:
        """Every connection (of `kind`, if given) as it may be shown: secret fields masked."""
        rows = self._view(fresh=True).connections.values()
        return [self._info(r) for r in sorted(rows, key=lambda r: r.name.lower()) if kind in (None, r.kind)]

    def resolve_connection(self, name: str, kind: str, mode: str) -> dict[str, str]:
        """Every field of the connection for a run in `mode`, decrypted; PROD falls back to DEV per field."""
        mode = check_mode(mode)
        row = self._view().connections.get(name)
        if row is None:
            raise self._no_connection(name)
        if row.kind != kind:
            raise ValidationError(f"Connection {name!r} is a {row.kind} connection, but this block needs a {kind} "
                                  f"connection; choose a {kind} connection.", code="CONNECTION_KIND_MISMATCH")
        if row.kind not in CONNECTION_KINDS:
            raise ZiggyError(f"Connection {name!r} has an unknown kind {row.kind!r}; set it again.")
        dev = self._decrypt_settings(row.dev_settings, name)
        prod = self._decrypt_settings(row.prod_settings, name) if mode == "PROD" else {}
        return merged_settings(row.kind, dev, prod, mode)

    @staticmethod
    def _no_connection(name: str) -> NotFoundError:
        return NotFoundError(f"No connection named {name!r}; add it in Secrets & Connections or with "
                             f"`ziggy-desktop connections set`.", code="CONNECTION_NOT_FOUND")

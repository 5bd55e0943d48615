"""Execution keys: create (shown once), list, rename, revoke, and check a presented key."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.engine import Connection, Engine

from .db import write_transaction
from .errors import AuthError, NotFoundError, ValidationError
from .models import ExecutionKey

KEY_PREFIX = "zgy_"
DISPLAY_PREFIX_LENGTH = 12  # "zgy_" and 8 characters: enough to tell keys apart, useless to an attacker
MAX_NAME_LENGTH = 100
_keys = ExecutionKey.__table__


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    prefix: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def hash_key(clear_key: str) -> str:
    return hashlib.sha256(clear_key.encode("utf-8")).hexdigest()


def generate_key() -> str:
    """`zgy_` and 43 URL-safe characters: 256 random bits."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError("Give the key a name, e.g. 'Postman' or 'CRM webhook'.")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"Key names are at most {MAX_NAME_LENGTH} characters.")
    return name


def _row_to_info(row) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.prefix, row.created_at, row.last_used_at, row.revoked_at)


# Built once: these run on every API call, and building a statement costs more than running it.
_KEY_BY_HASH = select(_keys).where(_keys.c.key_hash == bindparam("b_hash"))
_TOUCH_KEY = update(_keys).where(_keys.c.id == bindparam("b_id")).values(last_used_at=bindparam("b_now"))


def authenticate(conn: Connection, clear_key: str | None, *, touch: bool = True,
                 cache: dict | None = None) -> KeyInfo:
    """Return the key's info if it is known and not revoked; raise AuthError otherwise.

    `cache` (one write batch's) saves repeating the lookup and the last-used update for every
    launch of a burst that shares a transaction.
    """
    if not clear_key:
        raise missing_key_error()
    key_hash = hash_key(clear_key)
    cached = cache.get(("key", key_hash)) if cache is not None else None
    if cached is not None:
        return cached
    row = conn.execute(_KEY_BY_HASH, {"b_hash": key_hash}).first()
    if row is None:
        raise AuthError("The execution key is not valid. Check that it was copied whole, or create a new one.",
                        code="INVALID_EXECUTION_KEY")
    if row.revoked_at is not None:
        raise AuthError("This execution key has been revoked. Create a new key in Global Settings > Security.",
                        code="REVOKED_EXECUTION_KEY")
    if touch:
        touch_key(conn, row.id)
    info = _row_to_info(row)
    if cache is not None:
        cache[("key", key_hash)] = info
    return info


def missing_key_error() -> AuthError:
    return AuthError(
        "An execution key is required: send it in the 'execution-key' header (or query parameter) "
        "or as 'Authorization: Bearer <key>'. Create one in Global Settings > Security or with "
        "'ziggy-desktop keys create --name NAME'.",
        code="MISSING_EXECUTION_KEY",
    )


def touch_key(conn: Connection, key_id: int, now: float | None = None) -> None:
    conn.execute(_TOUCH_KEY, {"b_id": key_id, "b_now": time.time() if now is None else now})


class KeyService:
    """Key management for the settings page and the command line (not on the request hot path)."""

    def __init__(self, engine: Engine):
        self._engine = engine

    def create(self, name: str) -> tuple[KeyInfo, str]:
        """Return the new key's info and the clear key, which is never retrievable again."""
        name = _clean_name(name)
        clear_key = generate_key()
        now = time.time()
        with write_transaction(self._engine) as conn:
            key_id = conn.execute(
                _keys.insert().values(name=name, key_hash=hash_key(clear_key),
                                      prefix=clear_key[:DISPLAY_PREFIX_LENGTH], created_at=now)
            ).inserted_primary_key[0]
        return KeyInfo(key_id, name, clear_key[:DISPLAY_PREFIX_LENGTH], now, None, None), clear_key

    def list(self) -> list[KeyInfo]:
        with self._engine.connect() as conn:
            return [_row_to_info(r) for r in conn.execute(select(_keys).order_by(_keys.c.created_at, _keys.c.id))]

    def find(self, conn: Connection, ref: str) -> KeyInfo:
        """Find one key by id, exact name or display prefix (an id wins over a key named like it)."""
        ref = (ref or "").strip()
        if ref.isdigit():
            row = conn.execute(select(_keys).where(_keys.c.id == int(ref))).first()
            if row is not None:
                return _row_to_info(row)
        rows = conn.execute(select(_keys).where(or_(_keys.c.name == ref, _keys.c.prefix == ref))).all()
        if not rows:
            raise NotFoundError(f"No execution key matches {ref!r}; 'ziggy-desktop keys list' shows them.",
                                code="KEY_NOT_FOUND")
        if len(rows) > 1:
            raise ValidationError(f"{len(rows)} keys match {ref!r}; use the key's id instead.")
        return _row_to_info(rows[0])

    def rename(self, ref: str, new_name: str) -> KeyInfo:
        new_name = _clean_name(new_name)
        with write_transaction(self._engine) as conn:
            info = self.find(conn, ref)
            conn.execute(update(_keys).where(_keys.c.id == info.id).values(name=new_name))
        return KeyInfo(info.id, new_name, info.prefix, info.created_at, info.last_used_at, info.revoked_at)

    def revoke(self, ref: str) -> KeyInfo:
        """Revoke a key; it fails on the very next request (checks always read the database)."""
        with write_transaction(self._engine) as conn:
            info = self.find(conn, ref)
            revoked_at = info.revoked_at or time.time()
            conn.execute(update(_keys).where(_keys.c.id == info.id).values(revoked_at=revoked_at))
        return KeyInfo(info.id, info.name, info.prefix, info.created_at, info.last_used_at, revoked_at)

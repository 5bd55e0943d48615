"""Execution keys: format, hashing at rest, one-time display, rename, revoke."""

import re

import pytest
from sqlalchemy import text

from ziggy_desktop import keys
from ziggy_desktop.errors import AuthError, NotFoundError, ValidationError


def test_key_format_and_storage(services):
    info, clear_key = services.keys.create("Postman")
    assert re.fullmatch(r"zgy_[A-Za-z0-9_-]{43}", clear_key)
    assert info.prefix == clear_key[:12]
    with services.engine.connect() as conn:
        stored = conn.execute(text("select * from execution_key")).mappings().one()
    assert clear_key not in {str(v) for v in stored.values()}  # never stored in clear
    assert stored["key_hash"] == keys.hash_key(clear_key)


def test_keys_are_unique(services):
    assert services.keys.create("a")[1] != services.keys.create("b")[1]


def test_authenticate_updates_last_used_and_revoke_fails_next_time(services):
    info, clear_key = services.keys.create("CRM")
    assert info.last_used_at is None
    with services.engine.begin() as conn:
        assert keys.authenticate(conn, clear_key).name == "CRM"
    assert services.keys.list()[0].last_used_at is not None
    services.keys.revoke("CRM")
    with services.engine.begin() as conn, pytest.raises(AuthError) as caught:
        keys.authenticate(conn, clear_key)
    assert caught.value.code == "REVOKED_EXECUTION_KEY"


@pytest.mark.parametrize("presented", [None, "", "zgy_wrong"])
def test_missing_or_unknown_key(services, presented):
    with services.engine.begin() as conn, pytest.raises(AuthError):
        keys.authenticate(conn, presented)


def test_rename_and_find_by_id_or_prefix(services):
    info, _ = services.keys.create("old")
    assert services.keys.rename(str(info.id), "new").name == "new"
    assert services.keys.revoke(info.prefix).revoked
    with pytest.raises(NotFoundError):
        services.keys.revoke("nobody")
    with pytest.raises(ValidationError):
        services.keys.rename("new", "   ")


def test_an_id_wins_over_a_key_named_like_it(services):
    first, _ = services.keys.create("first")
    services.keys.create(str(first.id))  # a key *named* like the first one's id
    assert services.keys.revoke(str(first.id)).name == "first"

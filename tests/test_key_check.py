"""The key check is read by one function: a database without one (or without its table) means the same everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from oauth2store import SchemaVersionError, Store, generate_store_key, register_store_key
from oauth2store._encryption.key_check import read_key_check
from oauth2store._migrations import head_revision


def test_unmigrated_database_has_no_key_check_and_names_the_fix(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'new.db'}", key=generate_store_key()) as fresh:
        with fresh.engine.connect() as connection:
            assert read_key_check(connection) is None
        register_store_key(fresh.engine, generate_store_key())  # nothing to check against: accepted
        with pytest.raises(SchemaVersionError, match="oauth2store db upgrade") as caught:
            fresh.check_key()
        assert caught.value.current is None and caught.value.head == head_revision()
        with pytest.raises(SchemaVersionError):
            fresh.rekey(generate_store_key())


def test_every_reader_sees_the_stored_check(store: Store) -> None:
    with store.engine.connect() as connection:
        assert read_key_check(connection) is None  # upgrade does not store it: the first session does
    with store.session():
        pass
    with store.engine.begin() as connection:
        stored = read_key_check(connection)
        assert stored is not None and read_key_check(connection, lock=True) == stored

"""A store opened read-only (a `mode=ro` URI, or a database file this process cannot write) reads, never writes on
its own, and refuses writes with a clear error; URI-form SQLite URLs find the database's key file."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import new_client, new_server
from sqlalchemy import make_url

from oauth2store import Client, OAuth2StoreError, Store, generate_store_key
from oauth2store._encryption.key_check import read_key_check
from oauth2store._encryption.registry import KEY_VARIABLE
from oauth2store._errors import ReadOnlyStoreError
from oauth2store._sqlite import sqlite_file


@pytest.mark.parametrize(
    ("url", "path", "read_only"),
    [
        ("sqlite:////data/a.db", "/data/a.db", False),
        ("sqlite:///file:/data/a.db?mode=ro&uri=true", "/data/a.db", True),
        ("sqlite:///file:///data/a.db?uri=true", "/data/a.db", False),
        ("sqlite:///file://localhost/data/a%20b.db?uri=true&immutable=1", "/data/a b.db", True),
        ("sqlite:///file:/data/a.db?mode=ro", "file:/data/a.db", False),  # without uri=true: a literal file name
        ("sqlite:///file::memory:?uri=true", None, False),
        ("sqlite:///file:a.db?mode=memory&uri=true", None, False),
        ("sqlite://", None, False),
        ("postgresql+psycopg://u@h/db", None, False),
    ],
)
def test_the_database_file_of_a_url(url: str, path: str | None, read_only: bool) -> None:
    found = sqlite_file(make_url(url))
    if path is None:
        assert found is None
        return
    assert found is not None
    assert found.path == Path(os.path.abspath(path)) and found.read_only == read_only


def test_a_relative_uri_is_relative_to_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    found = sqlite_file(make_url("sqlite:///file:data/a.db?uri=true"))
    assert found is not None and found.path == tmp_path / "data" / "a.db"


@pytest.fixture
def written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A store written normally, keyed by its key file; the database's path."""
    monkeypatch.delenv(KEY_VARIABLE)
    database = tmp_path / "clients.db"
    with Store(f"sqlite:///{database}") as store:
        store.upgrade()
        with store.session() as db:
            server = new_server()
            db.add(server)
            db.add(new_client(server, client_secret="read-only-secret"))
    yield database


def read_secret(store: Store) -> str | None:
    with store.session() as db:
        client = Client.Open(db, "orders-service")
        assert client is not None
        return client.client_secret


def try_to_write(store: Store) -> None:
    with store.session() as db:
        client = Client.Open(db, "orders-service")
        assert client is not None
        client.description = "changed"


def test_a_read_only_uri_reads_with_the_key_file_beside_the_database(
    written: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    before = sorted(p.name for p in tmp_path.iterdir())
    with Store(f"sqlite:///file:{written}?mode=ro&uri=true") as store:
        assert store.key_file == tmp_path / "clients.db.key"
        assert read_secret(store) == "read-only-secret"
        with pytest.raises(ReadOnlyStoreError, match="read-only") as refused:
            try_to_write(store)
        assert isinstance(refused.value, OAuth2StoreError) and isinstance(refused.value, PermissionError)
        with pytest.raises(ReadOnlyStoreError):
            store.downgrade("0003")
    assert list(elsewhere.iterdir()) == []  # no "file:" directory, no stray key file
    sqlite_own = {"clients.db-wal", "clients.db-shm"}  # SQLite's shared-memory files, which a reader may leave
    assert sorted(p.name for p in tmp_path.iterdir() if p.name not in sqlite_own) == before


def test_a_read_only_store_does_not_store_the_key_check(tmp_path: Path) -> None:
    """A database migrated but never opened for a session: reading it read-only writes nothing, not even the check."""
    database = tmp_path / "migrated.db"
    key = generate_store_key()
    with Store(f"sqlite:///{database}", key=key) as store:
        store.upgrade()
    with Store(f"sqlite:///file:{database}?mode=ro&uri=true", key=key) as read_only:
        with read_only.session() as db:
            assert Client.List(db).all() == []
        with read_only.engine.connect() as connection:
            assert read_key_check(connection) is None


def test_a_read_only_store_does_not_create_a_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_VARIABLE)
    database = tmp_path / "migrated.db"
    with Store(f"sqlite:///{database}", key=generate_store_key()) as store:
        store.upgrade()
    with (
        Store(f"sqlite:///file:{database}?mode=ro&uri=true") as read_only,
        pytest.raises(OAuth2StoreError, match="read-only"),
        read_only.session(),
    ):
        pass
    assert not (tmp_path / "migrated.db.key").exists()


@pytest.fixture
def unwritable(written: Path) -> Iterator[Path]:
    """The written database file, made unwritable for this process (chmod, or chattr +i for root)."""
    if os.geteuid() != 0:
        written.chmod(0o444)
        yield written
        written.chmod(0o600)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(written)], capture_output=True).returncode != 0:
        pytest.skip("root writes any file; making one immutable needs chattr and CAP_LINUX_IMMUTABLE")
    try:
        yield written
    finally:
        subprocess.run([chattr, "-i", str(written)], check=True)


def test_a_database_file_this_process_cannot_write(unwritable: Path) -> None:
    with Store(f"sqlite:///{unwritable}") as store:
        assert read_secret(store) == "read-only-secret"
        with pytest.raises(ReadOnlyStoreError, match=f"{unwritable}.*read-only"):
            try_to_write(store)
        with pytest.raises(ReadOnlyStoreError), store.session(write=True) as db:
            client = Client.Open(db, "orders-service")
            assert client is not None
            client.RotateKeys()
        assert read_secret(store) == "read-only-secret"  # the store is still usable for reading

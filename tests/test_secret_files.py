"""Files that hold secrets: the key file must be the user's own and private (as ssh wants of private keys), and new
SQLite database files (with their -wal and -shm) are created readable by their owner only, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import new_client, new_server

from oauth2store import Client, Store, StoreKeyError, generate_store_key
from oauth2store._encryption.registry import KEY_VARIABLE


@pytest.fixture
def keyed_by_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A migrated SQLite store whose key is in its key file, with one client; (url, key file)."""
    monkeypatch.delenv(KEY_VARIABLE)
    url = f"sqlite:///{tmp_path / 'clients.db'}"
    with Store(url) as store:
        store.upgrade()
        with store.session() as db:
            server = new_server()
            db.add(server)
            db.add(new_client(server, client_secret="file-keyed-secret"))
    key_file = tmp_path / "clients.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    yield url, key_file


def open_client(url: str) -> str | None:
    with Store(url) as store, store.session() as db:
        client = Client.Open(db, "orders-service")
        assert client is not None
        return client.client_secret


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644], ids=oct)
def test_a_key_file_others_can_read_or_write_is_refused(keyed_by_file: tuple[str, Path], mode: int) -> None:
    url, key_file = keyed_by_file
    key = key_file.read_text().strip()
    key_file.chmod(mode)
    with pytest.raises(StoreKeyError, match=f"chmod 600 {key_file}") as refused:
        open_client(url)
    assert key not in str(refused.value)
    key_file.chmod(0o600)  # the fix the message names
    assert open_client(url) == "file-keyed-secret"


def test_a_key_file_that_is_a_symlink_is_refused(keyed_by_file: tuple[str, Path], tmp_path: Path) -> None:
    url, key_file = keyed_by_file
    elsewhere = tmp_path / "elsewhere.key"
    key_file.rename(elsewhere)
    key_file.symlink_to(elsewhere)
    with pytest.raises(StoreKeyError, match="symbolic link"):
        open_client(url)
    with pytest.raises(StoreKeyError, match="symbolic link"):  # a dangling one is no missing key file either
        elsewhere.unlink()
        open_client(url)


def test_a_key_file_owned_by_another_user_is_refused(
    keyed_by_file: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, key_file = keyed_by_file
    if os.geteuid() == 0:
        os.chown(key_file, 65534, -1)  # nobody
    else:
        real = os.geteuid()
        monkeypatch.setattr(os, "geteuid", lambda: real + 1)
    with pytest.raises(StoreKeyError, match="owned by"):
        open_client(url)


def test_a_staged_key_file_others_can_read_is_refused_not_deleted(
    keyed_by_file: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rekey that committed left its new key staged; if that file is not private it is refused, never deleted."""
    url, key_file = keyed_by_file
    staged = key_file.with_name("clients.db.key.new")
    with Store(url) as store:
        new_key = generate_store_key()

        def crash(path: Path, staged: Path) -> None:
            raise KeyboardInterrupt("killed between the commit and the rename")

        from oauth2store._encryption import key_files

        monkeypatch.setattr(key_files, "replace_key_file", crash)
        with pytest.raises(KeyboardInterrupt):
            store.rekey(new_key)
        monkeypatch.undo()
    monkeypatch.delenv(KEY_VARIABLE)
    staged.chmod(0o644)
    with pytest.raises(StoreKeyError, match=f"chmod 600 {staged}"):
        open_client(url)
    assert staged.read_text().strip() == new_key
    staged.chmod(0o600)
    assert open_client(url) == "file-keyed-secret"
    assert key_file.read_text().strip() == new_key


def test_new_database_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        with Store(f"sqlite:///{tmp_path / 'new.db'}", key=generate_store_key()) as store:
            store.upgrade()
            with store.session() as db:
                server = new_server()
                db.add(server)
                db.add(new_client(server))
            files = sorted(tmp_path.glob("new.db*"))
            assert [f.name for f in files] == ["new.db", "new.db-shm", "new.db-wal"]
            assert {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files} == dict.fromkeys(
                ["new.db", "new.db-shm", "new.db-wal"], "0o600"
            )
    finally:
        os.umask(previous)


def test_an_existing_database_file_keeps_its_mode(tmp_path: Path) -> None:
    """Only new files are made private: an existing database's mode is its owner's choice."""
    database = tmp_path / "shared.db"
    database.touch(mode=0o640)
    database.chmod(0o640)
    with Store(f"sqlite:///{database}", key=generate_store_key()) as store:
        store.upgrade()
    assert stat.S_IMODE(database.stat().st_mode) == 0o640

"""The Store: sessions commit or roll back, the schema version is checked, SQLite gets its settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import new_client, new_server

from oauth2store import Client, SchemaVersionError, ServerDefinition, Store, ValidationError
from oauth2store._migrations import head_revision


def test_session_commits_on_success_and_rolls_back_on_error(store: Store) -> None:
    with store.session() as db:
        db.add(new_server())
    with pytest.raises(RuntimeError), store.session() as db:
        server = ServerDefinition.OpenByIssuer(db, "https://as.example.com")
        assert server is not None
        db.add(new_client(server))
        db.flush()
        raise RuntimeError("boom")
    with store.session() as db:
        assert Client.List(db).all() == []


def test_objects_stay_readable_after_the_session(store: Store) -> None:
    with store.session() as db:
        server = new_server()
        db.add(server)
        db.add(new_client(server))
    with store.session() as db:
        client = Client.Open(db, "orders-service")
    assert client is not None
    assert client.client_metadata.token_endpoint_auth_method == "client_secret_basic"
    assert client.server_definition.issuer_endpoint == "https://as.example.com"


def test_unmigrated_database_names_the_fix(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'new.db'}") as fresh:
        with pytest.raises(SchemaVersionError, match="oauth2store db upgrade") as caught, fresh.session():
            pass
        assert caught.value.current is None
        assert caught.value.head == head_revision()


def test_sqlite_settings_and_default_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OAUTH2STORE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with Store() as default:
        assert default.url.database == str(tmp_path / "data" / "oauth2store" / "oauth2store.db")
        default.upgrade()
        with default.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_url_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTH2STORE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    with Store() as from_env:
        assert from_env.url.database == str(tmp_path / "env.db")


def test_repr_hides_the_password() -> None:
    store = Store("postgresql+psycopg://user:hunter2@127.0.0.1/db")
    assert "hunter2" not in repr(store)
    store.close()


def test_application_session_validates_too(store: Store) -> None:
    """The models work in an application's own session on a migrated database, with the same checks."""
    from sqlalchemy.orm import Session

    with Session(store.engine) as db:
        server = new_server()
        db.add(server)
        db.add(new_client(server, client_type="nonsense"))
        with pytest.raises(ValidationError, match="client_type"):
            db.flush()
        # Nothing was sent, so the session is still usable once the value is fixed.
        for obj in db.new:
            if isinstance(obj, Client):
                obj.client_type = "confidential"
        db.commit()
    with store.session() as db:
        assert [row.application_name for row in Client.List(db)] == ["orders-service"]

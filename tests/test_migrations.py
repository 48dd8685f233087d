"""The migrations and the models agree, and upgrade -> downgrade -> upgrade round-trips, on both backends."""

from __future__ import annotations

import json
import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from factories import read_back, store_every_secret
from sqlalchemy import inspect, text

from oauth2store import Base, Store, StoreKeyError, _migrations, _schema_version
from oauth2store._encryption.cipher import SEALED_PREFIX, SecretCipher
from oauth2store._encryption.key_check import KEY_CHECK_PLAINTEXT
from oauth2store._encryption.registry import KEY_VARIABLE
from oauth2store._migrations import VERSION_TABLE, head_revision


def test_models_and_migrations_agree(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "version_table": VERSION_TABLE})
        assert compare_metadata(context, Base.metadata) == []


def test_head_revision_constant_is_the_newest_migration() -> None:
    """The schema check reads the head from a constant (no alembic at start-up): it must be alembic's head."""
    assert head_revision() == _schema_version.HEAD_REVISION


def test_version_is_read_as_alembic_reads_it(store_url: str) -> None:
    """The plain SELECT of the schema check and alembic's own reading agree at every revision and with none."""
    with Store(store_url) as store:
        for step in ("none", "0001", "0002", "head", "base"):
            if step == "head":
                store.upgrade()
            elif step == "base":
                store.downgrade("base")
            elif step != "none":
                store.upgrade(step)
            with store.engine.connect() as connection:
                assert _schema_version.current_revision(connection) == _migrations.current_revision(connection)


def test_upgrade_downgrade_upgrade(store_url: str) -> None:
    with Store(store_url) as store:
        store.upgrade()
        assert store.current_revision() == head_revision()
        tables = set(inspect(store.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        store.downgrade("base")
        assert store.current_revision() is None
        assert not set(Base.metadata.tables) & set(inspect(store.engine).get_table_names())
        store.upgrade()
        assert store.current_revision() == head_revision()
        with store.session() as db:
            from oauth2store import SSLConfiguration

            assert db.get(SSLConfiguration, "default") is not None


def test_version_table_is_private(store: Store) -> None:
    """An application's own alembic history (table alembic_version) is left alone."""
    assert "alembic_version" not in inspect(store.engine).get_table_names()
    assert VERSION_TABLE in inspect(store.engine).get_table_names()


def test_migration_0004_binds_every_secret_and_downgrade_unbinds(store_url: str) -> None:
    """0004 re-encrypts the Fernet values of 0002/0003 as AES-GCM values bound to their row; downgrade reverses it."""
    with Store(store_url) as store:
        store.upgrade()
        store_every_secret(store)
        before = read_back(store)
        store.downgrade("0003")
        cipher = SecretCipher(os.environ[KEY_VARIABLE])
        with store.engine.connect() as connection:
            secret = connection.execute(text('SELECT "ClientSecret" FROM "OAuth2_Client"')).scalar_one()
            verifier = connection.execute(text('SELECT "Verifier" FROM "OAuth2_KeyCheck"')).scalar_one()
            private_jwks = connection.execute(text('SELECT "PrivateJWK" FROM "OAuth2_ClientKey"')).scalars().all()
        assert cipher.decrypt(secret) == before["client_secret"]  # a Fernet token again, as 0003 stores it
        assert cipher.decrypt(verifier) == KEY_CHECK_PLAINTEXT
        assert sorted(cipher.decrypt(value) for value in private_jwks) == sorted(json.loads(before["client_keys"]))
        store.upgrade()
        with store.engine.connect() as connection:
            secret = connection.execute(text('SELECT "ClientSecret" FROM "OAuth2_Client"')).scalar_one()
        assert secret.startswith(SEALED_PREFIX)
        # Below 0006 there is no sign-in state: the pending request's code verifier is dropped with its column.
        assert read_back(store) == {**before, "code_verifier": None}


def test_migration_0004_needs_the_key(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("a SQLite file store always has a key (its key file)")
    with Store(store_url) as store:
        store.upgrade("0003")
        with store.engine.begin() as connection:  # a key check, as 0003 stores it
            connection.execute(
                text('INSERT INTO "OAuth2_KeyCheck" ("ID", "Verifier") VALUES (1, :v)'),
                {"v": SecretCipher(os.environ[KEY_VARIABLE]).encrypt(KEY_CHECK_PLAINTEXT)},
            )
    monkeypatch.delenv(KEY_VARIABLE)
    with Store(store_url) as keyless:
        with pytest.raises(StoreKeyError, match="no oauth2store key"):
            keyless.upgrade()
        assert keyless.current_revision() == "0003"  # rolled back whole


def test_migration_0006_adds_and_drops_the_sign_in_columns_keeping_every_row(store_url: str) -> None:
    """0006 only adds (and its downgrade only drops) columns: no table is rebuilt, so no row is lost (on SQLite a
    rebuild of OAuth2_AccessToken or OAuth2_Server_Metadata would delete or cascade)."""
    sign_in_columns = {"Stage", "CodeVerifier", "RedirectURL", "StateHash", "LogoutState", "LogoutRedirectURL"}
    with Store(store_url) as store:
        store.upgrade()
        store_every_secret(store)
        before = read_back(store)
        with store.engine.connect() as connection:
            tokens = connection.execute(text('SELECT COUNT(*) FROM "OAuth2_AccessToken"')).scalar_one()
        assert tokens > 0
        store.downgrade("0005")
        columns = {column["name"] for column in inspect(store.engine).get_columns("OAuth2_AccessToken")}
        assert not sign_in_columns & columns
        with store.engine.connect() as connection:
            assert connection.execute(text('SELECT COUNT(*) FROM "OAuth2_AccessToken"')).scalar_one() == tokens
        store.upgrade()
        columns = {column["name"] for column in inspect(store.engine).get_columns("OAuth2_AccessToken")}
        assert sign_in_columns <= columns
        assert read_back(store) == {**before, "code_verifier": None}  # dropped with its column, nothing else

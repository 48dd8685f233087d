"""Secrets at rest: encrypted in the database files and dumps, rekey, wrong and missing keys, the key file."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest
from factories import new_client, new_server, read_back, store_every_secret
from sqlalchemy import create_engine, make_url, select, text
from sqlalchemy.orm import Session

from oauth2store import (
    Client,
    ClientMetadata,
    ServerDefinition,
    SSLConfiguration,
    Store,
    StoreKeyError,
    ValidationError,
    X509Credentials,
    generate_store_key,
    register_store_key,
)
from oauth2store._encryption import cipher as secrets_module
from oauth2store._encryption import key_files
from oauth2store._encryption.registry import KEY_VARIABLE

PG_DUMP = "/usr/bin/pg_dump"


def schema_of(url: str) -> str:
    options = unquote(str(make_url(url).query["options"]))
    return options.split("search_path=", 1)[1]


def database_text(store: Store, url: str) -> bytes:
    """Every byte the database holds: the SQLite file and its WAL, or a pg_dump of the test's schema."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = Path(str(parsed.database))
        files = [database, Path(f"{database}-wal")]
        assert files[1].exists(), "the WAL should still hold the recent writes"
        return b"".join(path.read_bytes() for path in files if path.exists())
    command = [PG_DUMP, "-h", str(parsed.host), "-U", str(parsed.username), "-d", str(parsed.database)]
    dumped = subprocess.run([*command, "-n", schema_of(url)], capture_output=True, check=True, timeout=60)
    assert b"OAuth2_Client" in dumped.stdout
    return dumped.stdout


def test_no_secret_is_stored_in_plaintext(store: Store, store_url: str) -> None:
    plaintexts = store_every_secret(store)
    stored = database_text(store, store_url)
    assert b"orders-service" in stored  # the grep does see the data
    leaked = [what for what, value in plaintexts.items() if value.encode() in stored]
    assert leaked == []
    values = read_back(store)
    assert values["client_secret"] == plaintexts["client_secret"]
    assert values["access_token"] == plaintexts["access_token"]


def test_rekey_round_trip(store: Store, store_url: str) -> None:
    store_every_secret(store)
    before = read_back(store)
    raw_before = database_text(store, store_url) if store_url.startswith("postgresql") else b""
    new_key = generate_store_key()
    store.rekey(new_key)
    assert read_back(store) == before  # this store uses the new key at once
    if raw_before:
        assert database_text(store, store_url) != raw_before
    with Store(store_url, key=new_key) as reopened:
        assert read_back(reopened) == before
    with Store(store_url, key=os.environ[KEY_VARIABLE]) as old, pytest.raises(StoreKeyError, match="wrong"):
        read_back(old)


def test_wrong_key_is_refused_and_changes_nothing(store: Store, store_url: str) -> None:
    store_every_secret(store)
    before = read_back(store)
    wrong = generate_store_key()
    with Store(store_url, key=wrong) as other:
        with pytest.raises(StoreKeyError) as refused, other.session():
            pass
        assert wrong not in str(refused.value)
        with pytest.raises(StoreKeyError):
            other.rekey(generate_store_key())
    assert read_back(store) == before


def test_reading_a_secret_with_the_wrong_key_raises_not_garbage(store: Store) -> None:
    """An application's own session on an engine given the wrong key: the read fails, nothing is returned."""
    store_every_secret(store)
    engine = create_engine(store.url)
    register_store_key(engine, generate_store_key(), check=False)
    try:
        with Session(engine) as db:
            with pytest.raises(StoreKeyError, match="another key"):
                db.get(Client, "orders-service")
            db.rollback()
            # Columns without secrets still read.
            assert db.scalar(select(Client.client_id)) == "orders"
    finally:
        engine.dispose()


def test_plaintext_left_in_a_secret_column_is_refused(store: Store) -> None:
    store_every_secret(store)
    with store.engine.begin() as connection:
        connection.execute(text('UPDATE "OAuth2_Client" SET "ClientSecret" = \'plain\''))
    with pytest.raises(StoreKeyError), store.session() as db:
        db.get(Client, "orders-service")


def test_register_key_checks_the_key_against_the_database(store: Store) -> None:
    store_every_secret(store)
    engine = create_engine(store.url)
    try:
        with pytest.raises(StoreKeyError, match="wrong"):
            register_store_key(engine, generate_store_key())
        register_store_key(engine, os.environ[KEY_VARIABLE])
        with Session(engine) as db:
            client = db.get(Client, "orders-service")
            assert client is not None and client.client_secret == "client-secret-value-0001"
    finally:
        engine.dispose()


def test_application_session_uses_the_environment_key(store: Store) -> None:
    store_every_secret(store)
    engine = create_engine(store.url)  # no register_store_key: $OAUTH2STORE_KEY (set for the tests) applies
    try:
        with Session(engine) as db:
            client = db.get(Client, "orders-service")
            assert client is not None and client.client_secret == "client-secret-value-0001"
    finally:
        engine.dispose()


def test_two_stores_with_different_keys_do_not_mix(tmp_path: Path) -> None:
    first_key, second_key = generate_store_key(), generate_store_key()
    with (
        Store(f"sqlite:///{tmp_path / 'a.db'}", key=first_key) as first,
        Store(f"sqlite:///{tmp_path / 'b.db'}", key=second_key) as second,
    ):
        for store, secret in ((first, "first-secret"), (second, "second-secret")):
            store.upgrade()
            with store.session() as db:
                server = new_server()
                db.add(server)
                db.add(new_client(server, client_secret=secret))
        for store, secret in ((first, "first-secret"), (second, "second-secret")):
            with store.session() as db:
                client = Client.Open(db, "orders-service")
                assert client is not None and client.client_secret == secret


def test_missing_key_on_postgresql(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("a SQLite file store makes its own key file")
    monkeypatch.delenv(KEY_VARIABLE)
    with Store(store_url) as keyless:
        keyless.upgrade()  # nothing secret to migrate
        with pytest.raises(StoreKeyError, match="no oauth2store key"), keyless.session():
            pass
        # An application's own session cannot write a secret without a key either; nothing is written.
        with Session(keyless.engine) as db:
            server = new_server()
            db.add(server)
            db.add(new_client(server))
            with pytest.raises(StoreKeyError, match="no oauth2store key"):
                db.flush()
            db.rollback()
            assert db.scalars(select(ServerDefinition)).all() == []


def test_key_file_is_created_beside_the_database_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_VARIABLE)
    url = f"sqlite:///{tmp_path / 'clients.db'}"
    with Store(url) as store:
        store.upgrade()
        key_file = tmp_path / "clients.db.key"
        assert store.key_file == key_file
        store_every_secret(store)
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        before = read_back(store)
    with Store(url) as reopened:
        assert read_back(reopened) == before
    key_file.unlink()  # a lost key file is never replaced by a new key: the secrets need the old one
    with Store(url) as lost, pytest.raises(StoreKeyError, match="is missing"):
        read_back(lost)
    assert not key_file.exists()


def test_rekey_rewrites_the_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_VARIABLE)
    url = f"sqlite:///{tmp_path / 'clients.db'}"
    with Store(url) as store:
        store.upgrade()
        store_every_secret(store)
        before = read_back(store)
        new_key = generate_store_key()
        store.rekey(new_key)
        assert store.key_file is not None
        assert store.key_file.read_text().strip() == new_key
        assert stat.S_IMODE(store.key_file.stat().st_mode) == 0o600
        assert not store.key_file.with_name("clients.db.key.new").exists()
    with Store(url) as reopened:
        assert read_back(reopened) == before


def test_rekey_interrupted_before_commit_keeps_the_old_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_VARIABLE)
    url = f"sqlite:///{tmp_path / 'clients.db'}"
    with Store(url) as store:
        store.upgrade()
        store_every_secret(store)
        before = read_back(store)
        old_key = (tmp_path / "clients.db.key").read_text()
    # A crash after staging the new key file, before the transaction committed.
    (tmp_path / "clients.db.key.new").write_text(generate_store_key())
    with Store(url) as reopened:
        assert read_back(reopened) == before
    assert (tmp_path / "clients.db.key").read_text() == old_key
    assert not (tmp_path / "clients.db.key.new").exists()


def test_rekey_interrupted_after_commit_finishes_on_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_VARIABLE)
    url = f"sqlite:///{tmp_path / 'clients.db'}"
    with Store(url) as store:
        store.upgrade()
        store_every_secret(store)
        before = read_back(store)

        def crash(path: Path, staged: Path) -> None:
            raise KeyboardInterrupt("killed between the commit and the rename")

        monkeypatch.setattr(key_files, "replace_key_file", crash)
        new_key = generate_store_key()
        with pytest.raises(KeyboardInterrupt):
            store.rekey(new_key)
        monkeypatch.undo()
    monkeypatch.delenv(KEY_VARIABLE)
    with Store(url) as reopened:
        assert read_back(reopened) == before
    assert (tmp_path / "clients.db.key").read_text().strip() == new_key


def test_rekey_with_a_malformed_key_changes_nothing(store: Store) -> None:
    store_every_secret(store)
    before = read_back(store)
    with pytest.raises(StoreKeyError, match="not a valid key") as refused:
        store.rekey("not-a-key-at-all")
    assert "not-a-key-at-all" not in str(refused.value)
    assert read_back(store) == before


def test_maxlen_applies_to_the_plaintext_and_messages_hide_secrets(store: Store) -> None:
    with store.session() as db:
        server = new_server()
        db.add(server)
        db.add(new_client(server, client_password="p" * 128))  # longer than 128 once encrypted: the column is TEXT
    too_long = "q" * 129
    with pytest.raises(ValidationError) as refused, store.session() as db:
        server = ServerDefinition.OpenByIssuer(db, "https://as.example.com")
        assert server is not None
        db.add(new_client(server, application_name="other", client_password=too_long))
    assert refused.value.fields == ("client_password",)
    assert too_long not in str(refused.value)
    with pytest.raises(ValidationError) as refused:
        ClientMetadata.validate_property("registration_access_token", ["secret-in-a-list"])
    assert "secret-in-a-list" not in str(refused.value)
    with pytest.raises(ValidationError) as refused:
        Client.validate_property("client_password", "s" * 200)
    assert "s" * 200 not in str(refused.value)


def test_reprs_show_no_secret(store: Store) -> None:
    plaintexts = store_every_secret(store)
    with store.session() as db:
        client = Client.Open(db, "orders-service")
        assert client is not None
        owned = [client.client_metadata, client.server_definition, *client.keys, *client.access_tokens]
        stored = [db.get(SSLConfiguration, "mtls"), db.get(X509Credentials, "signer")]
        shown = " ".join(repr(obj) for obj in [client, *owned, *stored, store])
    assert [what for what, value in plaintexts.items() if value in shown] == []
    assert os.environ[KEY_VARIABLE] not in repr(store)
    assert repr(secrets_module.SecretCipher(generate_store_key())) == "<SecretCipher>"


# Rows as revision 0001 stored them: secrets in plaintext.
PLAINTEXT_ROWS = [
    'INSERT INTO "OAuth2_ServerDefinition" ("ID", "IssuerEndpoint", "SSLConfiguration", "IsDiscovery", '
    "\"InitialAccessToken\") VALUES (1, 'https://as.example.com', 'default', false, 'iat-plain')",
    'INSERT INTO "OAuth2_Client" ("ApplicationName", "ClientType", "ClientId", "ClientSecret", '
    '"ClientPassword", "Enabled", "AcceptNonStandardImplicitIdToken", "JWTInterval", "SSLConfiguration", '
    "\"ServerDefinition\") VALUES ('app', 'confidential', 'app', 'secret-plain', 'password-plain', "
    "true, false, 60, 'default', 1)",
    'INSERT INTO "OAuth2_Client_Metadata" ("ApplicationName", "registration_access_token") '
    "VALUES ('app', 'rat-plain')",
]


def insert_plaintext_rows(store: Store) -> None:
    """Rows as revision 0001 stored them: secrets in plaintext."""
    with store.engine.begin() as connection:
        for statement in PLAINTEXT_ROWS:
            connection.execute(text(statement))


def test_migration_0002_encrypts_stored_secrets_and_downgrade_decrypts(store_url: str) -> None:
    with Store(store_url) as store:
        store.upgrade("0001")
        insert_plaintext_rows(store)
        store.upgrade()
        stored = database_text(store, store_url) if store_url.startswith("postgresql") else b""
        with store.engine.connect() as connection:
            raw = connection.execute(text('SELECT "ClientSecret", "ClientPassword" FROM "OAuth2_Client"')).one()
        assert "secret-plain" not in raw and "password-plain" not in raw
        assert b"secret-plain" not in stored
        with store.session() as db:
            client = Client.Open(db, "app")
            assert client is not None
            assert (client.client_secret, client.client_password) == ("secret-plain", "password-plain")
            assert client.client_metadata.registration_access_token == "rat-plain"
            assert client.server_definition.initial_access_token == "iat-plain"
            client.client_metadata.grant_types = ["client_credentials"]
            client.RotateKeys()
        store.downgrade("0001")
        with store.engine.connect() as connection:
            raw = connection.execute(text('SELECT "ClientSecret", "ClientPassword" FROM "OAuth2_Client"')).one()
            assert tuple(raw) == ("secret-plain", "password-plain")
            count = connection.execute(text('SELECT count(*) FROM "OAuth2_Client_Metadata"')).scalar()
            assert count == 1  # SQLite's table rebuild did not cascade
        store.upgrade()


def test_migration_0002_needs_the_key_only_when_secrets_are_stored(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("a SQLite file store always has a key (its key file)")
    monkeypatch.delenv(KEY_VARIABLE)
    with Store(store_url) as keyless:
        keyless.upgrade("0001")
        insert_plaintext_rows(keyless)
        with pytest.raises(StoreKeyError, match="no oauth2store key"):
            keyless.upgrade()
        assert keyless.current_revision() == "0001"  # rolled back whole

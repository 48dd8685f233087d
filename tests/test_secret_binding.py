"""Each stored secret is bound to its table, column and row: a ciphertext moved anywhere else does not decrypt.

The attack: someone who can write the database (not read the key) copies the ciphertext of one secret over another,
e.g. a client's secret into the column of a client they control, hoping oauth2store decrypts it for them.
"""

from __future__ import annotations

import os

import pytest
from factories import new_client, new_server, read_back, self_signed, store_every_secret
from sqlalchemy import text, update

from oauth2store import (
    AccessToken,
    Client,
    ClientKey,
    Store,
    StoreKeyError,
    ValidationError,
    X509Credentials,
    generate_store_key,
)
from oauth2store._encryption.cipher import SecretCipher
from oauth2store._encryption.registry import KEY_VARIABLE
from oauth2store._token_cache import StoreReader


def copy_value(store: Store, table: str, source: tuple[str, str, object], target: tuple[str, str, object]) -> None:
    """UPDATE table SET target column = (source column of source row) WHERE target row: a raw database write."""
    (source_column, key_column, source_key), (target_column, target_key_column, target_key) = source, target
    with store.engine.begin() as connection:
        value = connection.execute(
            text(f'SELECT "{source_column}" FROM "{table}" WHERE "{key_column}" = :key'), {"key": source_key}
        ).scalar_one()
        assert value is not None
        connection.execute(
            text(f'UPDATE "{table}" SET "{target_column}" = :value WHERE "{target_key_column}" = :key'),
            {"value": value, "key": target_key},
        )


def two_clients(store: Store) -> None:
    with store.session() as db:
        server = new_server()
        db.add(server)
        db.add(new_client(server, application_name="victim", client_secret="victim-secret", client_password="pw-1"))
        db.add(new_client(server, application_name="attacker", client_id="attacker", client_secret="own-secret"))


def test_a_secret_copied_to_another_row_is_refused(store: Store) -> None:
    two_clients(store)
    copy_value(
        store,
        "OAuth2_Client",
        ("ClientSecret", "ApplicationName", "victim"),
        ("ClientSecret", "ApplicationName", "attacker"),
    )
    with pytest.raises(StoreKeyError, match=r"OAuth2_Client\.ClientSecret") as refused, store.session() as db:
        Client.Open(db, "attacker")
    assert "victim-secret" not in str(refused.value)
    with store.session() as db:
        victim = Client.Open(db, "victim")
        assert victim is not None and victim.client_secret == "victim-secret"


def test_a_secret_copied_to_another_column_is_refused(store: Store) -> None:
    two_clients(store)
    copy_value(
        store,
        "OAuth2_Client",
        ("ClientSecret", "ApplicationName", "victim"),
        ("ClientPassword", "ApplicationName", "victim"),
    )
    with pytest.raises(StoreKeyError, match=r"OAuth2_Client\.ClientPassword"), store.session() as db:
        Client.Open(db, "victim")


def test_a_secret_copied_to_another_table_is_refused(store: Store) -> None:
    """Same column name and same key value in two tables: the table name is bound too."""
    certificate, key = self_signed("password-123", key_type="rsa")
    with store.session() as db:
        db.add(
            X509Credentials(alias="same", certificate=certificate, private_key=key, private_key_password="password-123")
        )
        server = new_server()
        db.add(server)
        db.add(new_client(server, application_name="same", client_password="client-password"))
    with store.engine.begin() as connection:
        connection.execute(
            text(
                'UPDATE "OAuth2_Client" SET "ClientPassword" = (SELECT "PrivateKeyPassword" FROM '
                '"OAuth2_X509Credentials" WHERE "Alias" = \'same\') WHERE "ApplicationName" = \'same\''
            )
        )
    with pytest.raises(StoreKeyError), store.session() as db:
        Client.Open(db, "same")


def test_database_generated_keys_are_bound_too(store: Store, store_url: str) -> None:
    """Rows whose primary key the database assigns (tokens, client keys) are bound to it once it is known."""
    with store.session() as db:
        server = new_server()
        db.add(server)
        client = new_client(server)
        client.client_metadata.id_token_encrypted_response_alg = "RSA-OAEP"  # two keys: one signs, one decrypts
        db.add(client)
        db.flush()
        client.RotateKeys()
        version = client.definition_version
        for name in ("one", "two"):
            client.access_tokens.append(
                AccessToken(session_id=name, access_token=f"token-{name}", definition_version=version)
            )
    reader = StoreReader(store.engine)
    stored = reader.read("orders-service", "two")
    assert stored is not None and stored.token is None  # no expiry: not a usable token, but it decrypted
    with store.session() as db:
        tokens = {t.session_id: t.id for t in db.query(AccessToken)}
        key_ids = sorted(k.id for k in db.query(ClientKey))
        assert len(key_ids) == 2
    copy_value(store, "OAuth2_AccessToken", ("AccessToken", "ID", tokens["one"]), ("AccessToken", "ID", tokens["two"]))
    copy_value(store, "OAuth2_ClientKey", ("PrivateJWK", "ID", key_ids[0]), ("PrivateJWK", "ID", key_ids[1]))
    with pytest.raises(StoreKeyError, match=r"OAuth2_AccessToken\.AccessToken"), store.session() as db:
        db.get(AccessToken, tokens["two"])
    with pytest.raises(StoreKeyError, match=r"OAuth2_ClientKey\.PrivateJWK"), store.session() as db:
        db.get(ClientKey, key_ids[1])
    with pytest.raises(StoreKeyError):  # the token cache's raw reader checks the binding as well
        reader.read("orders-service", "two")
    with store.session() as db:
        one = db.get(AccessToken, tokens["one"])
        assert one is not None and one.access_token == "token-one"


def test_swaps_stay_refused_after_rekey(store: Store) -> None:
    two_clients(store)
    store.rekey(generate_store_key())
    copy_value(
        store,
        "OAuth2_Client",
        ("ClientSecret", "ApplicationName", "victim"),
        ("ClientSecret", "ApplicationName", "attacker"),
    )
    with pytest.raises(StoreKeyError), store.session() as db:
        Client.Open(db, "attacker")


def test_a_failed_read_leaves_no_ciphertext_behind(store: Store) -> None:
    """The object whose load failed is not handed out later with its ciphertext as the secret."""
    two_clients(store)
    copy_value(
        store,
        "OAuth2_Client",
        ("ClientSecret", "ApplicationName", "victim"),
        ("ClientSecret", "ApplicationName", "attacker"),
    )
    with store.session() as db:
        with pytest.raises(StoreKeyError):
            db.get(Client, "attacker")
        with pytest.raises(StoreKeyError):
            attacker = db.get(Client, "attacker")
            assert attacker is not None
            attacker.client_secret  # noqa: B018


def test_a_saved_row_keeps_its_key_and_its_secrets(store: Store) -> None:
    """A primary key never changes once saved (IRIS IdKey), so a secret stays bound to the row it was sealed for."""
    certificate, key = self_signed("password-1234", key_type="rsa")
    with store.session() as db:
        db.add(
            X509Credentials(alias="old", certificate=certificate, private_key=key, private_key_password="password-1234")
        )
    with pytest.raises(ValidationError, match="alias: cannot change"), store.session() as db:
        credentials = db.get(X509Credentials, "old")
        assert credentials is not None
        credentials.alias = "new"
    with store.session() as db:
        kept = db.get(X509Credentials, "old")
        assert kept is not None and kept.private_key_password == "password-1234"
        assert kept.private_key == key
        assert db.get(X509Credentials, "new") is None


def test_every_secret_round_trips_and_updates(store: Store) -> None:
    plaintexts = store_every_secret(store)
    values = read_back(store)
    assert values["client_secret"] == plaintexts["client_secret"]
    with store.session() as db:
        client = Client.Open(db, "orders-service")
        assert client is not None
        client.client_secret = "changed-secret"
        client.access_tokens[0].refresh_token = "changed-refresh"
        db.flush()
        assert client.client_secret == "changed-secret"  # the object keeps the plaintext after the flush
    changed = read_back(store)
    assert (changed["client_secret"], changed["refresh_token"]) == ("changed-secret", "changed-refresh")
    assert {k: v for k, v in changed.items() if k not in ("client_secret", "refresh_token")} == {
        k: v for k, v in values.items() if k not in ("client_secret", "refresh_token")
    }


def test_a_plaintext_written_around_the_orm_is_refused(store: Store) -> None:
    """A bulk or Core UPDATE cannot bind a value to its rows: it is refused before anything is written."""
    two_clients(store)
    with pytest.raises(StoreKeyError, match="flush"), store.session() as db:
        db.execute(update(Client).where(Client.application_name == "victim").values(client_secret="plain"))
    with store.session() as db:
        victim = Client.Open(db, "victim")
        assert victim is not None and victim.client_secret == "victim-secret"


def test_a_value_from_before_binding_names_the_upgrade(store: Store) -> None:
    two_clients(store)
    unbound = SecretCipher(os.environ[KEY_VARIABLE]).encrypt("victim-secret")  # the format of revisions 0002-0003
    with store.engine.begin() as connection:
        connection.execute(
            text('UPDATE "OAuth2_Client" SET "ClientSecret" = :value WHERE "ApplicationName" = \'victim\''),
            {"value": unbound},
        )
    with pytest.raises(StoreKeyError, match="upgrade"), store.session() as db:
        Client.Open(db, "victim")

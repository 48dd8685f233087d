"""Every change to a client's definition gives it a new version, which its surviving tokens carry.

A process compares one small column to know the definition it holds is out of date, and a stored token is handed
out only while it carries its client's current version (see oauth2store.models._definition_version).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from factories import new_client, new_server
from sqlalchemy import select

from oauth2store import AccessToken, Client, ServerDefinition, SSLConfiguration, Store
from oauth2store._token_cache import StoreReader

SOON = datetime.now(UTC) + timedelta(hours=1)


def _versions(store: Store) -> dict[str, str]:
    with store.session() as session:
        return {
            name: version
            for name, version in session.execute(select(Client.application_name, Client.definition_version))
        }


def _tokens(store: Store) -> dict[str, str | None]:
    with store.session() as session:
        rows = session.execute(select(AccessToken.session_id, AccessToken.definition_version))
        return {session_id: version for session_id, version in rows}


def _setup(store: Store) -> None:
    with store.session() as session:
        session.add(SSLConfiguration(name="tls"))
        first, second = (
            new_server(issuer_endpoint="https://one.example"),
            new_server(issuer_endpoint="https://two.example"),
        )
        session.add_all([first, second])
        for name, server, tls in (("a", first, "default"), ("b", first, "tls"), ("c", second, "default")):
            client = new_client(server, application_name=name, client_id=name, ssl_configuration=tls)
            session.add(client)
            session.flush()
            for session_id, grant in ((f"{name}-agent", "client_credentials"), (f"{name}-user", "authorization_code")):
                client.access_tokens.append(
                    AccessToken(
                        session_id=session_id,
                        access_token=f"token-{session_id}",
                        expires=SOON,
                        grant_type=grant,
                        definition_version=client.definition_version,
                    )
                )


def test_new_clients_get_distinct_versions(store: Store) -> None:
    _setup(store)
    versions = _versions(store)
    assert len(set(versions.values())) == 3 and all(len(v) == 32 for v in versions.values())


def test_an_edit_keeps_the_tokens_under_the_new_version(store: Store) -> None:
    _setup(store)
    before = _versions(store)
    with store.session() as session:
        client = Client.Open(session, "a")
        assert client is not None
        client.description = "edited"
    after = _versions(store)
    assert after["a"] != before["a"] and after["b"] == before["b"] and after["c"] == before["c"]
    assert _tokens(store)["a-agent"] == after["a"] and _tokens(store)["a-user"] == after["a"]


def test_new_credentials_drop_the_clients_own_tokens(store: Store) -> None:
    _setup(store)
    with store.session() as session:
        client = Client.Open(session, "a")
        assert client is not None
        client.client_secret = "rotated"
    tokens = _tokens(store)
    assert "a-agent" not in tokens and tokens["a-user"] == _versions(store)["a"]


def test_a_server_change_reaches_its_clients_only(store: Store) -> None:
    _setup(store)
    before = _versions(store)
    with store.session() as session:
        server = session.scalars(
            select(ServerDefinition).where(ServerDefinition.issuer_endpoint == "https://one.example")
        ).one()
        server.server_metadata.token_endpoint = "https://one.example/v2/token"
    after = _versions(store)
    assert after["a"] != before["a"] and after["b"] != before["b"] and after["c"] == before["c"]
    assert _tokens(store)["b-agent"] == after["b"]


def test_a_tls_configuration_change_reaches_the_clients_using_it(store: Store) -> None:
    _setup(store)
    before = _versions(store)
    with store.session() as session:
        tls = session.get(SSLConfiguration, "tls")
        assert tls is not None
        tls.verify_peer = False
    after = _versions(store)
    assert after["b"] != before["b"] and after["a"] == before["a"] and after["c"] == before["c"]


def test_the_jwks_cache_is_not_part_of_the_definition(store: Store) -> None:
    _setup(store)
    before = _versions(store)
    with store.session() as session:
        server = session.scalars(select(ServerDefinition)).first()
        assert server is not None
        server.public_jwks = {"keys": []}
        server.public_jwks_expires = 0
    assert _versions(store) == before


def test_a_token_of_another_version_is_never_read(store: Store) -> None:
    _setup(store)
    reader = StoreReader(store.engine)
    stored = reader.read("a", "a-agent")
    assert stored is not None and stored.token is not None and stored.token.access_token == "token-a-agent"
    with store.session() as session:
        row = AccessToken.OpenForSession(session, "a", "a-agent")
        assert row is not None
        row.definition_version = "0" * 32  # obtained under another definition
    stored = reader.read("a", "a-agent")
    assert stored is not None and stored.token is None and stored.enabled


def test_a_client_edited_in_a_session_shows_its_new_version_after_it(store: Store) -> None:
    """The new version is set on the loaded client, which is often used after its session ended."""
    _setup(store)
    before = _versions(store)["a"]
    with store.session() as session:
        client = Client.Open(session, "a")
        assert client is not None
        client.description = "edited"
    assert client.definition_version == _versions(store)["a"] != before

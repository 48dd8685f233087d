"""Client: cross-field rules, the IRIS methods and queries, deprecated properties, on SQLite and PostgreSQL."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
from factories import new_client, new_server
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from oauth2store import (
    AccessToken,
    Client,
    ClientMetadata,
    DuplicateError,
    Endpoint,
    InUseError,
    NotFoundError,
    ServerDefinition,
    Store,
    ValidationError,
)

MakeClient = Callable[..., Client]


def fields_of(error: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return set(error.value.fields)


def test_initial_values_as_iris_sets_them(server: ServerDefinition) -> None:
    client = Client(application_name="a", client_type="public")
    assert client.enabled is True
    assert client.accept_non_standard_implicit_id_token is False
    assert client.jwt_interval == 60
    assert client.ssl_configuration == "default"
    metadata = client.client_metadata
    assert metadata.token_endpoint_auth_method == "client_secret_basic"
    signing = [
        "id_token_signed_response_alg",
        "userinfo_signed_response_alg",
        "access_token_signed_response_alg",
        "request_object_signing_alg",
        "token_endpoint_auth_signing_alg",
    ]
    assert {getattr(metadata, name) for name in signing} == {"RS256"}
    encryption = [name for name in ClientMetadata.property_rules() if "encrypt" in name]
    assert len(signing) + len(encryption) == 13
    assert {getattr(metadata, name) for name in encryption} == {"none"}


def test_saved_client_round_trips(session: Session, make_client: MakeClient) -> None:
    make_client(description="Order service", default_scope="orders:read orders:write")
    session.expunge_all()
    client = Client.Open(session, "orders-service")
    assert client is not None
    assert (client.client_type, client.client_id, client.description) == ("confidential", "orders", "Order service")
    assert client.redirection_endpoint == Endpoint("app.example.com", None, "oauth2/callback")
    assert client.server_definition.issuer_endpoint == "https://as.example.com"


def test_open_unknown_returns_none(session: Session) -> None:
    assert Client.Open(session, "nobody") is None


def stored_client_row(store: Store, name: str = "orders-service") -> tuple[Any, ...]:
    """The client's row as the database holds it (secrets as ciphertext), read in a connection of its own."""
    with store.engine.connect() as connection:
        query = text('SELECT * FROM "OAuth2_Client" WHERE "ApplicationName" = :name')
        return tuple(connection.execute(query, {"name": name}).one())


def test_flush_refuses_invalid_client_and_keeps_stored_data(store: Store) -> None:
    with store.session() as db:
        server = new_server()
        db.add(server)
        db.add(new_client(server, description="Order service", jwt_interval=30))
    before = stored_client_row(store)
    with store.session() as db:
        client = Client.Open(db, "orders-service")
        assert client is not None
        client.description = "d" * 257
        client.jwt_interval = -5
        with pytest.raises(ValidationError) as caught:
            db.flush()
        assert fields_of(caught) == {"description", "jwt_interval"}
        db.expire(client)  # drop the refused values; the session stays usable and commits when the block ends
    assert stored_client_row(store) == before
    with store.session() as db:
        stored = Client.Open(db, "orders-service")
        assert stored is not None
        assert (stored.description, stored.jwt_interval) == ("Order service", 30)


def test_duplicate_application_name(session: Session, make_client: MakeClient, server: ServerDefinition) -> None:
    make_client()
    session.add(new_client(server))
    with pytest.raises(DuplicateError, match="'orders-service' already exists") as caught:
        session.flush()
    assert caught.value.field == "application_name"


def test_duplicate_within_one_flush(session: Session, server: ServerDefinition) -> None:
    session.add_all([new_client(server), new_client(server)])
    with pytest.raises(DuplicateError):
        session.flush()


def test_application_name_cannot_change(session: Session, make_client: MakeClient) -> None:
    client = make_client()
    client.application_name = "renamed"
    with pytest.raises(ValidationError, match="application_name: cannot change"):
        session.flush()


class TestCrossFieldRules:
    def test_client_id_required_for_every_type(self, session: Session, server: ServerDefinition) -> None:
        for client_type in ("public", "confidential", "resource"):
            client = new_client(server, application_name=client_type, client_type=client_type, client_id=None)
            with pytest.raises(ValidationError) as caught:
                client.validate()
            assert "client_id" in fields_of(caught)

    def test_client_id_may_wait_for_registration(self, session: Session, server: ServerDefinition) -> None:
        server.server_metadata.registration_endpoint = "https://as.example.com/register"
        client = new_client(server, client_id=None, client_secret=None)
        client.validate()
        assert client.is_awaiting_registration

    @pytest.mark.parametrize(
        ("client_type", "needs_secret"), [("public", False), ("confidential", True), ("resource", True)]
    )
    def test_client_secret_for_confidential_and_resource(
        self, server: ServerDefinition, client_type: str, needs_secret: bool
    ) -> None:
        client = new_client(server, client_type=client_type, client_secret=None)
        if needs_secret:
            with pytest.raises(ValidationError) as caught:
                client.validate()
            assert fields_of(caught) == {"client_secret"}
        else:
            client.validate()

    @pytest.mark.parametrize("method", ["private_key_jwt", "none"])
    def test_no_secret_for_methods_without_one(self, server: ServerDefinition, method: str) -> None:
        client = new_client(server, client_secret=None)
        client.client_metadata.token_endpoint_auth_method = method
        client.validate()

    @pytest.mark.parametrize(
        ("client_type", "needs_redirect"), [("public", True), ("confidential", True), ("resource", False)]
    )
    def test_redirection_endpoint_for_public_and_confidential(
        self, server: ServerDefinition, client_type: str, needs_redirect: bool
    ) -> None:
        client = new_client(server, client_type=client_type, redirection_endpoint=None)
        if needs_redirect:
            with pytest.raises(ValidationError) as caught:
                client.validate()
            assert fields_of(caught) == {"redirection_endpoint"}
        else:
            client.validate()

    def test_no_redirect_for_client_credentials_only(self, server: ServerDefinition) -> None:
        client = new_client(server, redirection_endpoint=None)
        client.client_metadata.grant_types = ["client_credentials"]
        client.validate()
        client.client_metadata.grant_types = ["client_credentials", "authorization_code"]
        with pytest.raises(ValidationError, match="redirection_endpoint"):
            client.validate()

    def test_server_definition_required(self) -> None:
        client = new_client(None)  # type: ignore[arg-type]
        with pytest.raises(ValidationError) as caught:
            client.validate()
        assert fields_of(caught) == {"server_definition"}

    def test_bad_redirection_endpoint(self, server: ServerDefinition) -> None:
        client = new_client(server, redirection_endpoint=Endpoint("bad host", 70000, "a b"))
        with pytest.raises(ValidationError) as caught:
            client.validate()
        assert fields_of(caught) == {f"redirection_endpoint.{part}" for part in ("host", "port", "prefix")}
        assert all(p.code == 8850 for p in caught.value.problems)

    def test_metadata_problems_are_named_by_path(self, server: ServerDefinition) -> None:
        client = new_client(server)
        client.client_metadata.jwks_uri = "not a url"
        with pytest.raises(ValidationError, match=r"client_metadata\.jwks_uri: must be an absolute"):
            client.validate()

    def test_metadata_change_alone_is_validated_on_flush(self, session: Session, make_client: MakeClient) -> None:
        client = make_client()
        client.client_metadata.token_endpoint_auth_method = "client_secret_jwtx"
        with pytest.raises(ValidationError, match=r"client_metadata\.token_endpoint_auth_method"):
            session.flush()

    def test_references_must_exist(self, session: Session, server: ServerDefinition) -> None:
        session.add(new_client(server, ssl_configuration="nope", client_credentials="missing"))
        with pytest.raises(ValidationError) as caught:
            session.flush()
        assert fields_of(caught) == {"ssl_configuration", "client_credentials"}
        assert "no SSLConfiguration named 'nope' is stored" in str(caught.value)


def test_jwt_audience_defaults_to_the_issuer(make_client: MakeClient) -> None:
    client = make_client()
    assert client.jwt_audience == "https://as.example.com"
    client.jwt_audience = "https://as.example.com/token"
    assert client.jwt_audience == "https://as.example.com/token"


def test_deprecated_properties_read_and_write_through(session: Session, make_client: MakeClient) -> None:
    client = make_client()
    pairs = [
        ("none", "none"),
        ("basic", "client_secret_basic"),
        ("body", "client_secret_post"),
        ("client_secret_jwt", "client_secret_jwt"),
        ("private_key_jwt", "private_key_jwt"),
    ]
    for deprecated, method in pairs:
        with pytest.warns(DeprecationWarning, match="token_endpoint_auth_method"):
            client.authentication_type = deprecated
        assert client.client_metadata.token_endpoint_auth_method == method
        client.client_metadata.token_endpoint_auth_method = method
        with pytest.warns(DeprecationWarning):
            assert client.authentication_type == deprecated
    with pytest.warns(DeprecationWarning):
        client.signing_algorithm = "RS384"
        client.key_algorithm = "RSA-OAEP"
        client.encryption_algorithm = "A256CBC-HS512"
    metadata = client.client_metadata
    assert metadata.token_endpoint_auth_signing_alg == "RS384"
    assert metadata.id_token_encrypted_response_alg == "RSA-OAEP"
    assert metadata.userinfo_encrypted_response_enc == "A256CBC-HS512"
    # The metadata wins, and the IRIS column follows it on save.
    metadata.token_endpoint_auth_method = "client_secret_post"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        session.flush()
    assert session.scalar(select(Client._authentication_type)) == "body"


def test_deprecated_property_refuses_a_non_member(make_client: MakeClient) -> None:
    client = make_client()
    with pytest.warns(DeprecationWarning), pytest.raises(ValidationError, match="authentication_type: must be one"):
        client.authentication_type = "digest"
    assert client.client_metadata.token_endpoint_auth_method == "client_secret_basic"


def test_delete_id_removes_client_metadata_and_tokens(session: Session, make_client: MakeClient) -> None:
    client = make_client()
    client.access_tokens.append(AccessToken(session_id="agent", access_token="t"))
    session.flush()
    Client.DeleteId(session, "orders-service")
    assert Client.Open(session, "orders-service") is None
    assert session.scalar(select(func.count()).select_from(ClientMetadata)) == 0
    assert session.scalar(select(func.count()).select_from(AccessToken)) == 0


def test_delete_id_unknown(session: Session) -> None:
    with pytest.raises(NotFoundError, match="Client 'ghost' not found"):
        Client.DeleteId(session, "ghost")


def test_list_and_list_for_server(session: Session, make_client: MakeClient, server: ServerDefinition) -> None:
    other = new_server(issuer_endpoint="https://other.example.com")
    session.add(other)
    for name in ("zeta", "alpha", "mid"):
        make_client(application_name=name, default_scope=f"{name}:read")
    session.add(new_client(other, application_name="beta", client_type="resource", redirection_endpoint=None))
    session.flush()
    rows = Client.List(session).all()
    assert [tuple(r) for r in rows] == [
        ("alpha", "confidential", "alpha:read"),
        ("beta", "resource", None),
        ("mid", "confidential", "mid:read"),
        ("zeta", "confidential", "zeta:read"),
    ]
    assert [r.application_name for r in Client.ListForServer(session, server.id)] == ["alpha", "mid", "zeta"]
    assert [r.application_name for r in Client.ListForServer(session, other.id)] == ["beta"]
    assert Client.ListForServer(session, 999_999).all() == []


def test_list_pages_and_composes(session: Session, make_client: MakeClient) -> None:
    for i in range(7):
        make_client(application_name=f"app-{i:02d}", client_type="resource" if i % 2 else "confidential")
    query = Client.List(session)
    first = query.page(size=3)
    second = query.page(after=first[-1].application_name, size=3)
    third = query.page(after=second[-1].application_name, size=3)
    assert [r.application_name for r in first + second + third] == [f"app-{i:02d}" for i in range(7)]
    resources = session.execute(query.statement.where(Client.client_type == "resource").limit(2)).all()
    assert [r.application_name for r in resources] == ["app-01", "app-03"]
    with pytest.raises(ValueError, match="size"):
        query.page(size=0)


def test_server_definition_delete_refused_while_used(
    session: Session, make_client: MakeClient, server: ServerDefinition
) -> None:
    make_client()
    with pytest.raises(InUseError, match="still used by 'Client orders-service'"):
        ServerDefinition.DeleteId(session, server.id)
    Client.DeleteId(session, "orders-service")
    ServerDefinition.DeleteId(session, server.id)
    assert ServerDefinition.Open(session, server.id) is None


def test_repr_shows_only_the_key(make_client: MakeClient) -> None:
    client = make_client(client_secret="s3cr3t-value", client_password="pw-value")
    assert repr(client) == "<Client 'orders-service'>"
    assert "s3cr3t" not in repr(client.client_metadata)


def test_the_schema_refuses_what_validation_refuses(session: Session, make_client: MakeClient) -> None:
    """Writes that bypass the ORM still meet the VALUELIST CHECK constraints."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    make_client()
    with pytest.raises(IntegrityError):
        session.execute(text('UPDATE "OAuth2_Client" SET "ClientType" = \'agent\''))

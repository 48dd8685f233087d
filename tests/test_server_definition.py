"""ServerDefinition: exact issuer identity, required metadata, the IRIS methods and the List query."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from factories import new_client, new_server
from sqlalchemy.orm import Session

from oauth2store import (
    Client,
    DuplicateError,
    NotFoundError,
    ServerDefinition,
    ServerMetadata,
    ValidationError,
)


def test_open_and_open_by_issuer_exact(session: Session, server: ServerDefinition) -> None:
    assert ServerDefinition.Open(session, server.id) is server
    assert ServerDefinition.Open(session, server.id + 1000) is None
    assert ServerDefinition.OpenByIssuer(session, "https://as.example.com") is server
    for near_miss in ("https://as.example.com/", "https://AS.example.com", "https://as.example.co"):
        assert ServerDefinition.OpenByIssuer(session, near_miss) is None


def test_duplicate_issuer(session: Session, server: ServerDefinition) -> None:
    session.add(new_server())
    with pytest.raises(DuplicateError, match="issuer_endpoint must be unique"):
        session.flush()


def test_renaming_to_a_taken_issuer(session: Session, server: ServerDefinition) -> None:
    other = new_server(issuer_endpoint="https://other.example.com")
    session.add(other)
    session.flush()
    other.issuer_endpoint = server.issuer_endpoint
    other.server_metadata.issuer = None
    with pytest.raises(DuplicateError):
        session.flush()


def test_token_endpoint_required(session: Session) -> None:
    server = new_server()
    server.server_metadata.token_endpoint = None
    session.add(server)
    with pytest.raises(ValidationError, match=r"server_metadata\.token_endpoint: is required"):
        session.flush()


def test_authorization_endpoint_required_unless_no_redirect_grants() -> None:
    server = new_server()
    server.server_metadata.authorization_endpoint = None
    with pytest.raises(ValidationError, match=r"server_metadata\.authorization_endpoint"):
        server.validate()
    server.server_metadata.grant_types_supported = ["client_credentials"]
    server.validate()


def test_issuer_rules() -> None:
    server = new_server(issuer_endpoint="https://as.example.com?tenant=1")
    server.server_metadata.issuer = "https://evil.example.com"
    with pytest.raises(ValidationError) as caught:
        server.validate()
    assert set(caught.value.fields) == {"issuer_endpoint", "server_metadata.issuer"}


def test_metadata_alone_is_validated_on_flush(session: Session, server: ServerDefinition) -> None:
    server.server_metadata.jwks_uri = "jwks"
    with pytest.raises(ValidationError, match=r"server_metadata\.jwks_uri"):
        session.flush()


def test_metadata_round_trip(session: Session, server: ServerDefinition) -> None:
    server.server_metadata.grant_types_supported = ["client_credentials", "authorization_code"]
    server.server_metadata.claims_parameter_supported = True
    session.flush()
    session.expunge_all()
    loaded = ServerDefinition.OpenByIssuer(session, "https://as.example.com")
    assert loaded is not None
    assert loaded.server_metadata.to_dict() == {
        "issuer": "https://as.example.com",
        "authorization_endpoint": "https://as.example.com/authorize",
        "token_endpoint": "https://as.example.com/token",
        "grant_types_supported": ["client_credentials", "authorization_code"],
        "claims_parameter_supported": True,
    }


def test_server_metadata_has_the_44_iris_members_and_three_for_signing_in() -> None:
    beyond_iris = {
        "pushed_authorization_request_endpoint",
        "require_pushed_authorization_requests",
        "authorization_response_iss_parameter_supported",
    }
    members = set(ServerMetadata.property_rules())
    assert beyond_iris <= members
    assert len(members - beyond_iris) == 44


def test_list_counts_clients(session: Session, server: ServerDefinition, make_client: Callable[..., Client]) -> None:
    empty = new_server(issuer_endpoint="https://empty.example.com")
    session.add(empty)
    make_client(application_name="a")
    make_client(application_name="b")
    session.flush()
    assert [tuple(r) for r in ServerDefinition.List(session)] == [
        (server.id, "https://as.example.com", 2),
        (empty.id, "https://empty.example.com", 0),
    ]
    assert [r.id for r in ServerDefinition.List(session).page(after=server.id)] == [empty.id]


def test_delete_id(session: Session, server: ServerDefinition) -> None:
    ServerDefinition.DeleteId(session, server.id)
    assert ServerDefinition.Open(session, server.id) is None
    assert session.get(ServerMetadata, server.id) is None
    with pytest.raises(NotFoundError):
        ServerDefinition.DeleteId(session, server.id)


def test_moving_a_client_to_another_server(session: Session, server: ServerDefinition) -> None:
    client = new_client(server)
    other = new_server(issuer_endpoint="https://other.example.com")
    session.add_all([client, other])
    session.flush()
    client.server_definition = other
    session.flush()
    assert [r.application_name for r in Client.ListForServer(session, other.id)] == ["orders-service"]
    ServerDefinition.DeleteId(session, server.id)

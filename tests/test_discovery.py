"""Discovery: URL construction, refusal of bad documents (nothing stored), tolerant import, real oidc-provider."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from local_servers import Reply, Seen, serve
from oidc_provider import OidcProvider
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oauth2store import DiscoveryError, InsecureEndpointError, ServerDefinition, ServerMetadata, Store
from oauth2store._discovery import discovery_urls, parse_metadata

MEMBERS = ServerMetadata.member_kinds()


def document(issuer: str, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/auth",
        "token_endpoint": f"{issuer}/token",
        "grant_types_supported": ["client_credentials", "authorization_code"],
        "claims_parameter_supported": False,
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def test_discovery_urls_for_issuers_with_and_without_path() -> None:
    assert discovery_urls("https://as.example.com") == (
        "https://as.example.com/.well-known/openid-configuration",
        "https://as.example.com/.well-known/oauth-authorization-server",
    )
    assert discovery_urls("https://as.example.com/tenant/1") == (
        "https://as.example.com/tenant/1/.well-known/openid-configuration",
        "https://as.example.com/.well-known/oauth-authorization-server/tenant/1",
    )
    assert discovery_urls("https://as.example.com/tenant/")[0].endswith("/tenant/.well-known/openid-configuration")


def test_wrong_issuer_is_refused() -> None:
    with pytest.raises(DiscoveryError, match=r"RFC 8414 §3.3") as caught:
        parse_metadata("https://a.example", document("https://a.example/"), "u", MEMBERS)
    assert caught.value.issuer == "https://a.example"


def test_missing_token_endpoint_is_refused() -> None:
    with pytest.raises(DiscoveryError, match="token_endpoint"):
        parse_metadata("https://a.example", document("https://a.example", token_endpoint=None), "u", MEMBERS)


def test_unknown_members_ignored_ill_shaped_ones_warned(caplog: pytest.LogCaptureFixture) -> None:
    ill_shaped = {"scopes_supported": "openid", "request_parameter_supported": "yes", "service_documentation": 42}
    doc = document("https://a.example", x_vendor={"a": 1}, **ill_shaped)
    with caplog.at_level(logging.WARNING, logger="oauth2store._discovery"):
        metadata = parse_metadata("https://a.example", doc, "u", MEMBERS)
    assert "x_vendor" not in metadata.values
    assert set(metadata.ignored) == {"scopes_supported", "request_parameter_supported", "service_documentation"}
    assert metadata.values["token_endpoint"] == "https://a.example/token"
    assert metadata.values["claims_parameter_supported"] is False
    assert "scopes_supported" in caplog.text


def count_servers(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ServerDefinition)) or 0


def test_discover_stores_then_updates_the_same_row(store: Store, oidc: OidcProvider) -> None:
    with store.session() as session:
        server = ServerDefinition.discover(session, oidc.issuer)
        first_id = server.id
    with store.session() as session:
        server = ServerDefinition.OpenByIssuer(session, oidc.issuer)
        assert server is not None and server.is_discovery
        metadata = server.server_metadata
        assert metadata.issuer == oidc.issuer
        assert metadata.token_endpoint == oidc.token_endpoint
        assert metadata.introspection_endpoint and metadata.revocation_endpoint
        assert "client_credentials" in (metadata.grant_types_supported or [])
        metadata.token_endpoint = f"{oidc.issuer}/stale"
        metadata.op_policy_uri = "https://stale.example/policy"
    with store.session() as session:
        again = ServerDefinition.discover(session, oidc.issuer)
        assert again.id == first_id
        assert again.server_metadata.token_endpoint == oidc.token_endpoint
        assert again.server_metadata.op_policy_uri is None  # members absent from the document are cleared
        assert count_servers(session) == 1


def test_falls_back_to_rfc8414_document_for_an_issuer_with_a_path(store: Store) -> None:
    def handler(request: Seen) -> Reply:
        if request.path == "/.well-known/oauth-authorization-server/tenant":
            return Reply(200, document(issuer))
        return Reply(404, "not here")

    with serve(handler) as server:
        issuer = server.url + "/tenant"
        with store.session() as session:
            stored = ServerDefinition.discover(session, issuer)
            assert stored.server_metadata.token_endpoint == f"{issuer}/token"
    assert [s.path for s in server.seen] == [
        "/tenant/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/tenant",
    ]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(200, "{not json"), "not JSON"),
        (Reply(200, ["a list"]), "not a JSON object"),
        (Reply(200, {"issuer": "https://evil.example", "token_endpoint": "https://evil.example/t"}), "issuer"),
        (Reply(404, "missing"), "expected HTTP 200"),
    ],
)
def test_bad_documents_store_nothing(store: Store, reply: Reply, message: str) -> None:
    with serve(lambda _: reply) as server, store.session() as session:
        with pytest.raises(DiscoveryError, match=message):
            ServerDefinition.discover(session, server.url)
        assert count_servers(session) == 0


def test_failed_rediscovery_keeps_the_stored_metadata(store: Store) -> None:
    replies = [Reply(200, {}), Reply(200, {})]

    def handler(_: Seen) -> Reply:
        return replies.pop(0)

    with serve(handler) as server:
        replies[0] = Reply(200, document(server.url))
        with store.session() as session:
            ServerDefinition.discover(session, server.url)
        replies[:] = [Reply(200, document(server.url, token_endpoint=None))] * 2
        with store.session() as session, pytest.raises(DiscoveryError):
            ServerDefinition.discover(session, server.url)
        with store.session() as session:
            kept = ServerDefinition.OpenByIssuer(session, server.url)
            assert kept is not None and kept.server_metadata.token_endpoint == f"{server.url}/token"
            assert session.scalar(select(func.count()).select_from(ServerMetadata)) == 1


def test_plain_http_issuer_is_refused_unless_allowed(store: Store) -> None:
    with store.session() as session, pytest.raises(InsecureEndpointError):
        ServerDefinition.discover(session, "http://as.example.com")

"""RFC 9728 discovery: the well-known URL and challenge rules, against a loopback resource server whose authorization
server is the real oidc-provider, and against local fault servers (another resource, missing metadata, not JSON,
redirects to another host, no authorization server, a remote resource naming private addresses)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from factories import TestCA
from local_servers import LocalServer, Reply, RoutedServer
from oidc_provider import OidcProvider
from resource_server import ResourceServer

from oauth2store import (
    DiscoveryError,
    InsecureEndpointError,
    ProtocolError,
    ServerDefinition,
    SSLConfiguration,
    Store,
    discover_resource,
)
from oauth2store._resource_metadata import parse_resource_metadata, resource_metadata_url, resource_metadata_url_from

WELL_KNOWN = "/.well-known/oauth-protected-resource"


# -- the rules, on plain values ----------------------------------------------------------------------------------


def test_the_well_known_url_goes_between_the_host_and_the_path() -> None:
    assert resource_metadata_url("https://r.example") == f"https://r.example{WELL_KNOWN}"
    assert resource_metadata_url("https://r.example/") == f"https://r.example{WELL_KNOWN}"
    assert resource_metadata_url("https://r.example:8443/api/v1/") == f"https://r.example:8443{WELL_KNOWN}/api/v1"
    assert resource_metadata_url("https://r.example/api?tenant=7") == f"https://r.example{WELL_KNOWN}/api?tenant=7"


def test_the_metadata_url_of_a_challenge_is_the_bearer_ones() -> None:
    url = "https://r.example/.well-known/oauth-protected-resource/api"
    assert resource_metadata_url_from([f'Bearer error="invalid_token", resource_metadata="{url}"']) == url
    assert resource_metadata_url_from([f'DPoP resource_metadata="{url}"']) == url
    assert (
        resource_metadata_url_from(
            ['DPoP resource_metadata="https://x.example/m"', f'Bearer resource_metadata="{url}"']
        )
        == url
    )
    assert resource_metadata_url_from(['Bearer realm="r"', 'Basic realm="b"']) is None


def test_the_document_must_be_about_exactly_that_resource() -> None:
    url = f"https://r.example{WELL_KNOWN}/api"
    with pytest.raises(DiscoveryError, match=r"about resource 'https://r.example/api/'"):
        parse_resource_metadata("https://r.example/api", {"resource": "https://r.example/api/"}, url)
    with pytest.raises(DiscoveryError, match="about resource None"):
        parse_resource_metadata("https://r.example/api", {}, url)


def test_authorization_servers_must_be_issuer_identifiers(caplog: pytest.LogCaptureFixture) -> None:
    resource, url = "https://r.example/api", f"https://r.example{WELL_KNOWN}/api"
    for servers, reason in (
        ("https://as.example", "not a list"),
        (["https://as.example?tenant=1"], "query or fragment"),
        ([7], "'int' is not a string"),
        (["as.example"], "absolute"),
    ):
        with pytest.raises(DiscoveryError, match=reason):
            parse_resource_metadata(resource, {"resource": resource, "authorization_servers": servers}, url)
    with caplog.at_level(logging.WARNING):
        parsed = parse_resource_metadata(
            resource,
            {"resource": resource, "authorization_servers": ["https://as.example"], "scopes_supported": "a b"},
            url,
        )
    assert parsed.authorization_servers == ("https://as.example",) and "scopes_supported" not in parsed.values
    assert "ignoring ill-shaped member 'scopes_supported'" in caplog.text


# -- against the real provider as the authorization server -------------------------------------------------------


@pytest.fixture
def api(oidc: OidcProvider) -> Iterator[ResourceServer]:
    with ResourceServer(oidc) as server:
        yield server


def test_a_resource_leads_to_its_stored_authorization_server(
    store: Store, api: ResourceServer, oidc: OidcProvider
) -> None:
    with store.session() as session:
        found = discover_resource(session, api.resource)
        assert found.server.issuer_endpoint == oidc.issuer and found.server.id is not None
        assert found.server.server_metadata.token_endpoint == oidc.token_endpoint
        assert found.metadata.resource == api.resource and found.metadata.url == api.metadata_url
        assert found.metadata.values["scopes_supported"] == ["openid"]
        assert found.metadata.values["resource_name"] == "the tests' resource"
    with store.session() as session:
        stored = ServerDefinition.OpenByIssuer(session, oidc.issuer)
        assert stored is not None and stored.is_discovery and stored.public_jwks


def test_a_401_challenge_leads_to_the_same_server(store: Store, api: ResourceServer, oidc: OidcProvider) -> None:
    refused = requests.get(f"{api.resource}/orders", timeout=10)
    assert refused.status_code == 401
    with store.session() as session:
        found = discover_resource(session, api.resource, www_authenticate=refused.headers["WWW-Authenticate"])
        assert found.server.issuer_endpoint == oidc.issuer
        assert found.metadata.url == api.metadata_url


# -- against fault servers ---------------------------------------------------------------------------------------


@pytest.fixture
def routes() -> Iterator[RoutedServer]:
    with RoutedServer() as server:
        yield server


def publish(routes: RoutedServer | RemoteResource, resource: str, path: str = "/api", **members: Any) -> None:
    routes.reply(f"{WELL_KNOWN}{path}", Reply(200, {"resource": resource, **members}))


def authorization_server(routes: RoutedServer, issuer: str, well_known: str) -> None:
    document = {"issuer": issuer, "token_endpoint": f"{issuer}/token", "grant_types_supported": ["client_credentials"]}
    routes.reply(well_known, Reply(200, document))


def stored_issuers(store: Store) -> list[str]:
    with store.session() as session:
        return [issuer for _, issuer, _ in ServerDefinition.List(session)]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (lambda resource: Reply(404, {}), r"HTTP 404.*expected HTTP 200"),
        (lambda resource: Reply(200, "<html>not json</html>"), "not JSON"),
        (lambda resource: Reply(200, ["a", "list"]), "not a JSON object"),
        (lambda resource: Reply(200, {"resource": "https://elsewhere.example/api"}), "about resource 'https://else"),
        (lambda resource: Reply(200, {"resource": resource}), "names no authorization server"),
    ],
)
def test_refused_metadata_stores_nothing(
    store: Store, routes: RoutedServer, answer: Callable[[str], Reply], reason: str
) -> None:
    resource = f"{routes.url}/api"
    routes.reply(f"{WELL_KNOWN}/api", answer(resource))
    with store.session() as session, pytest.raises(DiscoveryError, match=reason):
        discover_resource(session, resource)
    assert stored_issuers(store) == []


def test_a_redirect_to_another_host_is_not_followed(store: Store, routes: RoutedServer) -> None:
    with RoutedServer() as elsewhere:
        target = elsewhere.reply(f"{WELL_KNOWN}/api", Reply(200, {"resource": f"{routes.url}/api"}))
        routes.reply(
            f"{WELL_KNOWN}/api", Reply(302, b"", headers={"Location": target.replace("127.0.0.1", "localhost")})
        )
        with store.session() as session, pytest.raises(ProtocolError, match="redirect refused"):
            discover_resource(session, f"{routes.url}/api")
        assert elsewhere.seen == []


def test_rfc_8414_with_path_insertion_first_then_openid_and_the_server_is_discovered_once(
    store: Store, routes: RoutedServer
) -> None:
    resource, issuer = f"{routes.url}/api", f"{routes.url}/tenant"
    publish(routes, resource, authorization_servers=[issuer])
    authorization_server(routes, issuer, "/.well-known/oauth-authorization-server/tenant")
    with store.session() as session:
        assert discover_resource(session, resource).server.issuer_endpoint == issuer
    assert [seen.path for seen in routes.seen] == [
        f"{WELL_KNOWN}/api",
        "/.well-known/oauth-authorization-server/tenant",
    ]

    routes.seen.clear()
    with store.session() as session:  # stored: only the resource's own document is read
        assert discover_resource(session, resource).server.issuer_endpoint == issuer
    assert [seen.path for seen in routes.seen] == [f"{WELL_KNOWN}/api"]

    routes.seen.clear()
    routes.replies.pop("/.well-known/oauth-authorization-server/tenant")
    authorization_server(routes, issuer, "/tenant/.well-known/openid-configuration")
    with store.session() as session:  # refresh: discovered again, through the OpenID fallback this time
        discover_resource(session, resource, refresh=True)
    assert [seen.path for seen in routes.seen] == [
        f"{WELL_KNOWN}/api",
        "/.well-known/oauth-authorization-server/tenant",
        "/tenant/.well-known/openid-configuration",
    ]


def test_an_authorization_server_already_stored_is_preferred(store: Store, routes: RoutedServer) -> None:
    resource, first, second = f"{routes.url}/api", f"{routes.url}/one", f"{routes.url}/two"
    publish(routes, resource, authorization_servers=[first, second])
    authorization_server(routes, second, "/.well-known/oauth-authorization-server/two")
    with store.session() as session:
        ServerDefinition.discover(session, second, rfc8414_first=True)
    with store.session() as session:
        assert discover_resource(session, resource).server.issuer_endpoint == second
    assert all("/one" not in seen.path for seen in routes.seen)


def test_an_authorization_server_whose_metadata_names_another_issuer_is_refused(
    store: Store, routes: RoutedServer
) -> None:
    resource, issuer = f"{routes.url}/api", f"{routes.url}/tenant"
    publish(routes, resource, authorization_servers=[issuer])
    authorization_server(routes, f"{routes.url}/other", "/.well-known/oauth-authorization-server/tenant")
    with store.session() as session, pytest.raises(DiscoveryError, match="names issuer"):
        discover_resource(session, resource)
    assert issuer not in stored_issuers(store)


# -- a remote resource may not point the discovery at private addresses --------------------------------------------

REMOTE = "rs.remote.test"
INTERNAL = "as.internal.test"


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    names: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.lower().rstrip(".") in names:
            host = names[host.lower().rstrip(".")]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


class RemoteResource:
    """A remote resource: https on 127.0.0.2 under the name rs.remote.test, answering by path."""

    def __init__(self, ca: TestCA) -> None:
        self.replies: dict[str, Reply] = {}
        handler = lambda request: self.replies.get(request.path.split("?")[0], Reply(404, {}))  # noqa: E731
        self.server = LocalServer(handler, ca.server_context(hosts=(REMOTE,)), host="127.0.0.2")

    @property
    def url(self) -> str:
        return f"https://{REMOTE}:{self.server.httpd.server_address[1]}"

    def reply(self, path: str, reply: Reply) -> str:
        self.replies[path] = reply
        return self.url + path


@pytest.fixture
def remote(fake_dns: dict[str, str], ca: TestCA, store: Store) -> Iterator[RemoteResource]:
    """A remote resource, and the TLS configuration "test-ca" that trusts its certificate."""
    fake_dns[REMOTE] = "127.0.0.2"
    with store.session() as session:
        session.add(SSLConfiguration(name="test-ca", certificate_authorities=ca.pem))
    served = RemoteResource(ca)
    with served.server:
        yield served


@pytest.fixture
def internal(fake_dns: dict[str, str], ca: TestCA) -> Iterator[LocalServer]:
    """An internal https server on 127.0.0.1, also named as.internal.test, that answers anything."""
    fake_dns[INTERNAL] = "127.0.0.1"
    with LocalServer(lambda _: Reply(200, {}), ca.server_context(hosts=("127.0.0.1", INTERNAL))) as server:
        yield server


def test_a_remote_resource_cannot_name_a_private_authorization_server(
    store: Store, remote: RemoteResource, internal: LocalServer
) -> None:
    port = internal.httpd.server_address[1]
    resource = f"{remote.url}/api"
    for issuer, reason in ((f"https://127.0.0.1:{port}", "private"), (f"https://{INTERNAL}:{port}", "resolves to 127")):
        publish(remote, resource, authorization_servers=[issuer])
        with store.session() as session, pytest.raises(InsecureEndpointError, match=reason):
            discover_resource(session, resource, ssl_configuration="test-ca")
    assert internal.seen == []


def test_a_remote_resource_cannot_send_the_discovery_to_a_private_address(
    store: Store, remote: RemoteResource, internal: LocalServer
) -> None:
    port = internal.httpd.server_address[1]
    challenge = f'Bearer resource_metadata="https://127.0.0.1:{port}{WELL_KNOWN}/api"'
    with store.session() as session, pytest.raises(InsecureEndpointError, match="private"):
        discover_resource(session, f"{remote.url}/api", www_authenticate=challenge, ssl_configuration="test-ca")
    assert internal.seen == []

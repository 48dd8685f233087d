"""Hostile authorization servers on loopback: what a malicious or broken server must not get from the library.

- ambiguous URLs (#2): a URL two parsers read differently never decides where a request goes;
- SSRF through metadata (#3): a remote issuer cannot point the library at loopback or private addresses;
- out-of-range numbers and unstorable strings in token and registration answers (#9);
- Retry-After values that are not a sane delay (#10).

A "remote" issuer is a made-up host name mapped to 127.0.0.2 for the test (socket.getaddrinfo answers for that one
name), served over https with a test CA: the library sees a remote host, the bytes stay on loopback.
"""

from __future__ import annotations

import json
import math
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from factories import TestCA
from local_servers import LocalServer, Reply, Seen, serve
from sqlalchemy import select

from oauth2store import (
    AccessToken,
    AgentClient,
    Client,
    DiscoveryError,
    Endpoint,
    InsecureEndpointError,
    ProtocolError,
    RetryPolicy,
    ServerDefinition,
    ServerMetadata,
    SSLConfiguration,
    Store,
    TlsSettings,
    ValidationError,
)
from oauth2store._http.connections import SessionPool
from oauth2store._http.transport import Transport
from oauth2store._http.values import HttpResponse
from oauth2store._registration import process_registration_response
from oauth2store._tokens import process_token_response
from oauth2store.models._registration import registration_rules


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Host names the test maps to addresses of its choosing (everything else resolves as usual)."""
    names: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.lower().rstrip(".") in names:
            host = names[host.lower().rstrip(".")]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def port_of(server: Any) -> int:
    return int(server.httpd.server_address[1])


def discovery_handler(issuer: Callable[[], str], **members: Any) -> Callable[[Seen], Reply]:
    """Answers discovery for `issuer()` with the given members, and 404 elsewhere."""

    def handle(request: Seen) -> Reply:
        if request.path.endswith("/.well-known/openid-configuration"):
            return Reply(200, {"issuer": issuer(), "grant_types_supported": ["client_credentials"], **members})
        return Reply(404, {})

    return handle


# -- #2: ambiguous URLs ---------------------------------------------------------------------------------


@pytest.fixture
def evil(fake_dns: dict[str, str]) -> Iterator[Any]:
    """A server that must never be reached, at the host name evil.example."""
    fake_dns["evil.example"] = "127.0.0.1"
    with serve(lambda _: Reply(200, {"access_token": "stolen", "token_type": "Bearer"})) as server:
        yield server


def test_discovery_refuses_a_token_endpoint_that_parsers_read_differently(store: Store, evil: Any) -> None:
    issuer_url: list[str] = []
    hostile: list[str] = []
    with serve(discovery_handler(lambda: issuer_url[0], token_endpoint=None)) as issuer:
        issuer_url.append(issuer.url)
        hostile.append(f"http://evil.example:{port_of(evil)}\\@127.0.0.1:{port_of(issuer)}/token")
        issuer.handler = discovery_handler(lambda: issuer_url[0], token_endpoint=hostile[0])
        with store.session() as session, pytest.raises(DiscoveryError, match="token_endpoint"):
            ServerDefinition.discover(session, issuer.url)
        with pytest.raises(InsecureEndpointError):  # and at call time, whatever a store holds
            Transport().post_form(
                hostile[0],
                {"grant_type": "client_credentials"},
                headers={"Authorization": "Basic b3JkZXJzOnMzY3JldA=="},
            )
    assert evil.seen == []
    with store.session() as session:
        assert ServerDefinition.OpenByIssuer(session, issuer_url[0]) is None


def test_models_refuse_to_store_ambiguous_endpoints(evil: Any) -> None:
    hostile = f"http://evil.example:{port_of(evil)}\\@127.0.0.1:1/token"
    with pytest.raises(ValidationError, match="token_endpoint"):
        ServerMetadata.validate_property("token_endpoint", hostile)
    with pytest.raises(ValidationError, match="url"):
        Endpoint.parse("https://user:pw@app.example.com/cb")
    assert evil.seen == []


# -- #3: SSRF through a remote issuer's metadata ----------------------------------------------------------

REMOTE = "as.remote.test"
INTERNAL = "internal.remote.test"
SECRET = "orders-secret-never-leaves"


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


class Remote:
    """The remote issuer: https on 127.0.0.2 under the name as.remote.test, answering by path."""

    def __init__(self, ca: TestCA) -> None:
        self.routes: dict[str, Reply] = {}
        self.server = LocalServer(self._answer, ca.server_context(hosts=(REMOTE,)), host="127.0.0.2")

    def _answer(self, request: Seen) -> Reply:
        return self.routes.get(request.path.split("?")[0], Reply(404, {}))

    @property
    def issuer(self) -> str:
        return f"https://{REMOTE}:{port_of(self.server)}"

    @property
    def seen(self) -> list[Seen]:
        return self.server.seen

    def publish(self, **members: Any) -> None:
        """Serve a discovery document for this issuer with `members` (the token endpoint defaults to its own)."""
        document = {
            "issuer": self.issuer,
            "token_endpoint": f"{self.issuer}/token",
            "grant_types_supported": ["client_credentials"],
            **members,
        }
        self.routes["/.well-known/openid-configuration"] = Reply(200, document)


@pytest.fixture
def remote(fake_dns: dict[str, str], ca: TestCA) -> Iterator[Remote]:
    fake_dns[REMOTE] = "127.0.0.2"
    served = Remote(ca)
    with served.server:
        yield served


@pytest.fixture
def victim() -> Iterator[LocalServer]:
    """An internal plain-http service on 127.0.0.1 that a remote issuer would like us to call."""
    with serve(lambda _: Reply(200, {"keys": [], "access_token": "t", "token_type": "Bearer"})) as server:
        yield server


@pytest.fixture
def internal(fake_dns: dict[str, str], ca: TestCA) -> Iterator[LocalServer]:
    """An internal https service on 127.0.0.1, reachable by the host name internal.remote.test (and by IP)."""
    fake_dns[INTERNAL] = "127.0.0.1"
    answer = Reply(200, {"keys": [], "access_token": "internal-token", "token_type": "Bearer", "expires_in": 60})
    with serve(lambda _: answer, tls=ca.server_context(hosts=("127.0.0.1", INTERNAL))) as server:
        server.httpd.RequestHandlerClass.protocol_version = "HTTP/1.1"  # type: ignore[attr-defined]  # keep-alive
        yield server


@pytest.fixture
def tls_store(store: Store, ca: TestCA) -> Store:
    with store.session() as session:
        session.add(SSLConfiguration(name="test-ca", certificate_authorities=ca.pem))
    return store


def stored_remote(store: Store, remote: Remote, **endpoints: str) -> None:
    """A server definition for the remote issuer with the given endpoints, and a confidential client "app"."""
    with store.session() as session:
        server = ServerDefinition(issuer_endpoint=remote.issuer, ssl_configuration="test-ca")
        server.server_metadata.issuer = remote.issuer
        server.server_metadata.token_endpoint = f"{remote.issuer}/token"
        server.server_metadata.grant_types_supported = ["client_credentials"]
        for name, value in endpoints.items():
            setattr(server.server_metadata, name, value)
        client = Client(
            application_name="app",
            client_type="confidential",
            client_id="app",
            client_secret=SECRET,
            server_definition=server,
            ssl_configuration="test-ca",
        )
        client.client_metadata.grant_types = ["client_credentials"]
        session.add(client)


def nothing_discovered(store: Store, issuer: str) -> bool:
    with store.session() as session:
        return ServerDefinition.OpenByIssuer(session, issuer) is None


def test_remote_jwks_uri_on_loopback_http_is_never_fetched(tls_store: Store, remote: Remote, victim: Any) -> None:
    remote.publish(jwks_uri=f"{victim.url}/jwks")
    for options in ({}, {"allow_insecure_http": True}):
        with tls_store.session() as session, pytest.raises(InsecureEndpointError):
            ServerDefinition.discover(session, remote.issuer, ssl_configuration="test-ca", **options)
    assert victim.seen == [] and nothing_discovered(tls_store, remote.issuer)
    assert [seen.path for seen in remote.seen] == ["/.well-known/openid-configuration"] * 2


def test_a_name_that_resolves_to_loopback_is_refused_on_the_address_connected(
    tls_store: Store, remote: Remote, internal: Any
) -> None:
    remote.publish(jwks_uri=f"https://{INTERNAL}:{port_of(internal)}/jwks")
    with tls_store.session() as session, pytest.raises(InsecureEndpointError, match=r"reached 127\.0\.0\.1"):
        ServerDefinition.discover(session, remote.issuer, ssl_configuration="test-ca")
    assert internal.seen == [] and nothing_discovered(tls_store, remote.issuer)
    with tls_store.session() as session:  # a process that knows its issuer's keys live on the internal network
        ServerDefinition.discover(session, remote.issuer, ssl_configuration="test-ca", allow_private_network=True)
    assert [seen.path for seen in internal.seen] == ["/jwks"]


def test_remote_token_endpoint_on_loopback_gets_no_client_secret(
    tls_store: Store, remote: Remote, internal: Any, victim: Any
) -> None:
    stored_remote(tls_store, remote, token_endpoint=f"https://127.0.0.1:{port_of(internal)}/token")
    with pytest.raises(InsecureEndpointError, match="private"):
        AgentClient(tls_store, "app").get_access_token()
    assert internal.seen == []
    assert AgentClient(tls_store, "app", allow_private_network=True).get_access_token() == "internal-token"
    assert len(internal.seen) == 1

    with tls_store.session() as session:  # plain http on loopback: allow_private_network does not allow http
        server = ServerDefinition.OpenByIssuer(session, remote.issuer)
        assert server is not None
        server.server_metadata.token_endpoint = f"{victim.url}/token"
    with pytest.raises(InsecureEndpointError, match="https"):
        AgentClient(tls_store, "app", allow_private_network=True).get_access_token("another-scope")
    assert victim.seen == []


def test_a_pooled_connection_is_checked_again_for_a_stricter_request(remote: Remote, internal: Any, ca: TestCA) -> None:
    pool = SessionPool()
    tls = TlsSettings("test-ca", certificate_authorities=ca.pem)
    url = f"https://{INTERNAL}:{port_of(internal)}/keys"
    allowed = Transport(tls, pool=pool, issuer=remote.issuer, allow_private_network=True)
    assert allowed.get(url).status_code == 200
    assert allowed.get(url).status_code == 200  # the same kept-alive connection
    with pytest.raises(InsecureEndpointError, match=r"reached 127\.0\.0\.1"):
        Transport(tls, pool=pool, issuer=remote.issuer).get(url)
    assert len(internal.seen) == 2


def test_an_injected_session_is_checked_on_the_resolved_addresses(remote: Remote, internal: Any) -> None:
    with requests.Session() as http:
        transport = Transport(session=http, issuer=remote.issuer)
        with pytest.raises(InsecureEndpointError, match="private"):
            transport.get(f"https://{INTERNAL}:{port_of(internal)}/keys")
    assert internal.seen == []


def test_registration_client_uri_must_stay_on_the_registration_server(
    tls_store: Store, remote: Remote, internal: Any
) -> None:
    elsewhere = f"https://127.0.0.1:{port_of(internal)}/reg/issued"
    remote.routes["/reg"] = Reply(
        201,
        {
            "client_id": "issued",
            "client_secret": "issued-secret",
            "registration_access_token": "rat",
            "registration_client_uri": elsewhere,
        },
    )
    stored_remote(tls_store, remote, registration_endpoint=f"{remote.issuer}/reg")
    with tls_store.session() as session:
        client = Client.Open(session, "app")
        assert client is not None
        client.client_id = None
        client.client_secret = None
    with pytest.raises(ProtocolError, match="registration_client_uri"), tls_store.session() as session:
        client = Client.Open(session, "app")
        assert client is not None
        client.register()
    assert internal.seen == []  # neither the registration access token nor a best-effort delete went there
    with pytest.raises(ValidationError, match="registration_client_uri"), tls_store.session() as session:
        client = Client.Open(session, "app")
        assert client is not None
        client.client_metadata.registration_client_uri = elsewhere
        session.flush()


# -- #9: numbers and strings a token or registration answer cannot carry ---------------------------------------

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def answer(body: bytes | dict[str, Any], status: int = 200, url: str = "https://as.example.com/token") -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(url, status, {}, raw)


@pytest.mark.parametrize(
    "body",
    [
        b'{"access_token": "t", "token_type": "Bearer", "expires_in": 1e300}',
        b'{"access_token": "t", "token_type": "Bearer", "expires_in": 1e400}',
        b'{"access_token": "t", "token_type": "Bearer", "expires_in": Infinity}',
        b'{"access_token": "t", "token_type": "Bearer", "expires_in": NaN}',
        b'{"access_token": "t", "token_type": "Bearer", "expires_in": -Infinity}',
        b'{"access_token": "t", "token_type": "Bearer", "expires_in": 99999999999999999999999}',
        b'{"access_token": "\\ud800", "token_type": "Bearer"}',
        b'{"access_token": "a\\u0000b", "token_type": "Bearer"}',
        b'{"access_token": "a\\nb", "token_type": "Bearer"}',
        b'{"access_token": "t", "token_type": "Bearer\\ud800"}',
        b'{"access_token": "t", "token_type": "Bearer", "scope": "a\\u0000"}',
    ],
)
def test_token_answers_out_of_range_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError) as caught:
        process_token_response(answer(body), now=NOW, requested_scope=None)
    assert "\x00" not in str(caught.value) and "\ud800" not in str(caught.value)


def test_an_agent_refuses_and_caches_nothing_for_a_hostile_token_answer(store: Store) -> None:
    bodies = [
        b'{"access_token": "t1", "token_type": "Bearer", "expires_in": 1e300}',
        b'{"access_token": "\\ud800", "token_type": "Bearer"}',
        b'{"access_token": "t3", "token_type": "Bearer", "expires_in": Infinity}',
    ]
    replies = iter(bodies)
    with serve(discovery_handler(lambda: issuer.url)) as issuer:
        issuer.handler = lambda request: (
            discovery_handler(lambda: issuer.url, token_endpoint=f"{issuer.url}/token")(request)
            if request.method == "GET"
            else Reply(200, next(replies), {"Content-Type": "application/json"})
        )
        with store.session() as session:
            server = ServerDefinition.discover(session, issuer.url)
            client = Client(
                application_name="app",
                client_type="confidential",
                client_id="app",
                client_secret=SECRET,
                server_definition=server,
            )
            client.client_metadata.grant_types = ["client_credentials"]
            session.add(client)
        agent = AgentClient(store, "app")
        for _ in bodies:
            with pytest.raises(ProtocolError):
                agent.get_access_token()
    with store.session() as session:
        assert session.scalars(select(AccessToken)).all() == []


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("client_id_issued_at", 10**30),
        ("client_secret_expires_at", 2**64),
        ("client_secret_expires_at", 2**31),
        ("client_id", "\ud800"),
        ("client_id", "a\x00"),
        ("client_secret", "\udfff"),
        ("registration_access_token", "has space"),
        ("registration_access_token", "\ud800"),
        ("default_max_age", 2**63),
        ("jwks", {"keys": [], "x": float("inf")}),
    ],
)
def test_registration_answers_that_cannot_be_stored_are_protocol_errors(member: str, value: Any) -> None:
    body = {
        "client_id": "c1",
        "client_secret": "s3cr3t-value",
        "registration_access_token": "rat-value",
        "registration_client_uri": "https://as.example.com/reg/c1",
        member: value,
    }
    raw = json.dumps(body, allow_nan=True).encode()
    with pytest.raises(ProtocolError, match=member) as caught:
        process_registration_response(answer(raw, 201, "https://as.example.com/reg"), registration_rules(Client))
    assert "s3cr3t-value" not in str(caught.value) and "rat-value" not in str(caught.value)


def test_an_unstorable_registration_is_deleted_at_the_server(store: Store) -> None:
    def handler(request: Seen) -> Reply:
        if request.method == "DELETE":
            return Reply(204)
        if request.path == "/reg":
            return Reply(
                201,
                {
                    "client_id": "issued",
                    "client_secret": "issued-secret",
                    "client_id_issued_at": 10**30,
                    "registration_access_token": "rat",
                    "registration_client_uri": f"{server.url}/reg/x",
                },
            )
        return Reply(404, {})

    with serve(handler) as server:
        with store.session() as session:
            definition = ServerDefinition(issuer_endpoint=server.url)
            definition.server_metadata.issuer = server.url
            definition.server_metadata.token_endpoint = f"{server.url}/token"
            definition.server_metadata.registration_endpoint = f"{server.url}/reg"
            definition.server_metadata.grant_types_supported = ["client_credentials"]
            client = Client(application_name="app", client_type="confidential", server_definition=definition)
            client.client_metadata.grant_types = ["client_credentials"]
            session.add(client)
        with pytest.raises(ProtocolError, match="client_id_issued_at"), store.session() as session:
            found = Client.Open(session, "app")
            assert found is not None
            found.register()
        assert [(seen.method, seen.path) for seen in server.seen] == [("POST", "/reg"), ("DELETE", "/reg/x")]
        assert server.seen[1].headers["Authorization"] == "Bearer rat"
    with store.session() as session:
        found = Client.Open(session, "app")
        assert found is not None and found.client_id is None and found.client_secret is None


# -- #10: Retry-After from a hostile server ----------------------------------------------------------------------


def test_hostile_retry_after_never_reaches_sleep_as_it_is(store: Store) -> None:
    hostile = iter(["nan", "inf", "-1", "1e999", "Thu, 01 Jan 1970 00:00:00 GMT", "9" * 5000, "soon"])
    sleeps: list[float] = []

    def handler(request: Seen) -> Reply:
        try:
            return Reply(503, {}, {"Retry-After": next(hostile)})
        except StopIteration:
            return Reply(200, {"ok": True})

    with serve(handler) as server:
        transport = Transport(retry=RetryPolicy(attempts=8, max_retry_after=30.0), sleep=sleeps.append, deadline=300.0)
        assert transport.get(server.url).status_code == 200
    assert len(sleeps) == 7 and all(math.isfinite(s) and 0.0 <= s <= 30.0 for s in sleeps)

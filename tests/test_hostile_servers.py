"""Hostile authorization servers on loopback: what a malicious or broken server must not get from the library.

- ambiguous URLs (#2): a URL two parsers read differently never decides where a request goes;
- SSRF through metadata (#3): a remote issuer cannot point the library at loopback or private addresses;
- out-of-range numbers and unstorable strings in token and registration answers (#9);
- Retry-After values that are not a sane delay (#10).

A "remote" issuer is a made-up host name mapped to 127.0.0.2 for the test (socket.getaddrinfo answers for that one
name), served over https with a test CA: the library sees a remote host, the bytes stay on loopback.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from local_servers import Reply, Seen, serve

from oauth2store import (
    DiscoveryError,
    Endpoint,
    InsecureEndpointError,
    ServerDefinition,
    ServerMetadata,
    Store,
    Transport,
    ValidationError,
)


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
            Transport().post_form(hostile[0], {"grant_type": "client_credentials"},
                                  headers={"Authorization": "Basic b3JkZXJzOnMzY3JldA=="})  # fmt: skip
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

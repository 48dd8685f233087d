"""AgentClient against the real oidc-provider: every auth method, JWT tokens, caching, expiry, introspection,
revocation, refusals; and against local servers for what the provider will not do."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from factories import TestCA
from local_servers import Reply, Seen, serve
from oidc_provider import OidcProvider
from oracles import jws_parts, rsa_public_jwk, rsa_public_key, rsa_thumbprint, verify_jws
from sqlalchemy import select

from oauth2store import (
    AccessToken,
    AgentClient,
    Client,
    ClientNotUsableError,
    OAuthServerError,
    RetryPolicy,
    ServerDefinition,
    Skew,
    Store,
    TransportError,
    X509Credentials,
)
from oauth2store._token_cache import process_cache

RESOURCE = "urn:test:api"
SECRET = "a-client-secret-long-enough-for-hs256-0123456789"
CA = TestCA()
CERT = CA.issue("agent-pkjwt", server=False)
METHODS = ["client_secret_basic", "client_secret_post", "client_secret_jwt", "none", "private_key_jwt"]


def published_jwk(key: rsa.RSAPrivateKey) -> dict[str, str]:
    """The public JWK of the certificate's key, as the private_key_jwt client's application publishes it."""
    public = key.public_key()
    return {**rsa_public_jwk(public), "use": "sig", "alg": "RS256", "kid": rsa_thumbprint(public)}


@pytest.fixture
def registered(oidc: OidcProvider) -> dict[str, dict[str, Any]]:
    """This test's own clients at the provider, one per auth method: the registration answers, by method.

    The clients with a secret share one (proposed to the provider), so a definition may switch between them.
    """
    answers = {}
    for method in METHODS:
        metadata: dict[str, Any] = {"token_endpoint_auth_method": method}
        if "secret" in method:
            metadata["client_secret"] = SECRET
        if method == "private_key_jwt":
            metadata["jwks"] = {"keys": [published_jwk(CERT.key)]}
        answers[method] = oidc.register(**metadata)
    return answers


@pytest.fixture
def client_ids(registered: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {method: answer["client_id"] for method, answer in registered.items()}


def add_client(
    session: Any, server: ServerDefinition, method: str, registered: Mapping[str, Any], **overrides: Any
) -> Client:
    """A client using `method` with the credentials of `registered` (what the provider answered)."""
    values: dict[str, Any] = {
        "application_name": method,
        "client_type": "public" if method == "none" else "confidential",
        "client_id": registered["client_id"],
        "client_secret": registered["client_secret"] if "secret" in method else None,
        "server_definition": server,
    }
    values.update(overrides)
    client = Client(**values)
    client.client_metadata.token_endpoint_auth_method = method
    client.client_metadata.grant_types = ["client_credentials"]
    if method == "private_key_jwt":
        client.client_credentials = "agent-cert"
    session.add(client)
    return client


@pytest.fixture
def agents(store: Store, oidc: OidcProvider, registered: dict[str, dict[str, Any]]) -> Store:
    """A store whose server definition was discovered from the provider, with one client per auth method."""
    assert oidc.ttl["ClientCredentials"] == 300  # what the expiry checks below count on
    credentials = {"certificate": CERT.certificate, "private_key": CERT.key_pem("cert-pw")}
    with store.session() as session:
        session.add(X509Credentials(alias="agent-cert", private_key_password="cert-pw", **credentials))
        session.flush()
        server = ServerDefinition.discover(session, oidc.issuer)
        for method in METHODS:
            add_client(session, server, method, registered[method])
    return store


def requests_by(op: OidcProvider, client_id: str) -> int:
    return op.token_requests().get(client_id, 0)


@pytest.mark.parametrize("method", METHODS)
def test_every_auth_method_gets_a_token(
    agents: Store, oidc: OidcProvider, client_ids: dict[str, str], method: str
) -> None:
    agent = AgentClient(agents, method)
    token = agent.get_token()
    assert token.token_type == "Bearer" and token.access_token
    assert timedelta(seconds=295) < token.expires_at - datetime.now(UTC) <= timedelta(seconds=300)
    assert agent.introspect(token.access_token)["client_id"] == client_ids[method]
    assert requests_by(oidc, client_ids[method]) == 1


def test_jwt_access_token_for_a_resource_is_signed_by_the_provider(
    agents: Store, oidc: OidcProvider, client_ids: dict[str, str]
) -> None:
    token = AgentClient(agents, "client_secret_basic").get_access_token(resource=RESOURCE)
    header, claims, _, _ = jws_parts(token)
    assert header["alg"] == "RS256"
    assert claims["aud"] == RESOURCE and claims["iss"] == oidc.issuer
    assert claims["client_id"] == client_ids["client_secret_basic"]
    (jwk,) = [k for k in oidc.jwks["keys"] if k["kid"] == header["kid"]]
    verify_jws(token, rsa_public_key(jwk))  # RS256, by the header checked above


def test_tokens_are_cached_in_process_and_in_the_store(
    agents: Store, oidc: OidcProvider, client_ids: dict[str, str]
) -> None:
    agent = AgentClient(agents, "client_secret_basic")
    first = agent.get_access_token()
    assert agent.get_access_token() == first
    assert AgentClient(agents, "client_secret_basic").get_access_token() == first  # same process layer
    process_cache(agents.engine).clear()
    assert AgentClient(agents, "client_secret_basic").get_access_token() == first  # read back from the store
    with agents.session() as session:
        (row,) = session.scalars(select(AccessToken).where(AccessToken.application_name == "client_secret_basic"))
        assert row.session_id.startswith("agent:") and row.grant_type == "client_credentials"
        assert row.access_token == first and row.hash and row.expires is not None
    other = agent.get_access_token(resource=RESOURCE)  # another key: another token
    assert other != first
    assert requests_by(oidc, client_ids["client_secret_basic"]) == 2


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_expiry_renews_and_the_properties_follow(agents: Store, oidc: OidcProvider, client_ids: dict[str, str]) -> None:
    import time

    clock = FakeClock(time.time())
    agent = AgentClient(agents, "client_secret_post", clock=clock, skew=Skew(fixed=30))
    assert not agent.has_signed_in and not agent.has_expired and not agent.is_authorized
    first = agent.get_access_token()
    assert agent.has_signed_in and agent.is_authorized
    clock.now += 269
    assert agent.get_access_token() == first and agent.is_authorized
    clock.now += 2  # within 30 s of the 300 s expiry
    assert agent.has_expired and not agent.is_authorized and agent.has_signed_in
    second = agent.get_access_token()
    assert second != first and agent.is_authorized
    assert requests_by(oidc, client_ids["client_secret_post"]) == 2


def test_revoke_removes_the_token_everywhere(agents: Store, oidc: OidcProvider, client_ids: dict[str, str]) -> None:
    agent = AgentClient(agents, "client_secret_jwt")
    token = agent.get_access_token()
    assert agent.introspect(token)["active"] is True
    agent.revoke(token)
    assert agent.introspect(token) == {"active": False}
    assert not agent.has_signed_in
    with agents.session() as session:
        assert (
            session.scalars(select(AccessToken).where(AccessToken.application_name == "client_secret_jwt")).all() == []
        )
    assert agent.get_access_token() != token
    assert requests_by(oidc, client_ids["client_secret_jwt"]) == 2


def test_client_introspect_and_revoke_methods(agents: Store) -> None:
    agent = AgentClient(agents, "private_key_jwt")
    token = agent.get_access_token()
    with agents.session() as session:
        client = Client.Open(session, "private_key_jwt")
        assert client is not None
        assert client.introspect(token)["active"] is True
        client.revoke(token)
        assert client.introspect(token)["active"] is False
    assert not agent.has_signed_in


def test_invalid_client_is_not_retried_and_nothing_is_cached(
    agents: Store, oidc: OidcProvider, client_ids: dict[str, str]
) -> None:
    with agents.session() as session:
        client = Client.Open(session, "client_secret_basic")
        assert client is not None
        client.client_secret = "wrong-secret"
    agent = AgentClient(agents, "client_secret_basic", sleep=lambda s: pytest.fail("must not retry"))
    with pytest.raises(OAuthServerError) as caught:
        agent.get_access_token()
    assert caught.value.error == "invalid_client" and caught.value.status_code == 401
    assert "wrong-secret" not in str(caught.value)
    assert requests_by(oidc, client_ids["client_secret_basic"]) == 1
    assert not agent.has_signed_in
    with agents.session() as session:
        assert session.scalars(select(AccessToken)).all() == []


def test_disabled_client_refuses(agents: Store) -> None:
    with agents.session() as session:
        client = Client.Open(session, "client_secret_post")
        assert client is not None
        client.enabled = False
    with pytest.raises(ClientNotUsableError, match="disabled"):
        AgentClient(agents, "client_secret_post")


def test_client_awaiting_registration_refuses(agents: Store) -> None:
    with agents.session() as session:
        server = ServerDefinition.OpenByIssuer(session, session.scalars(select(ServerDefinition.issuer_endpoint)).one())
        assert server is not None and server.server_metadata.registration_endpoint
        unregistered = {"client_id": None, "client_secret": None}
        add_client(session, server, "client_secret_basic", unregistered, application_name="pending")
    with pytest.raises(ClientNotUsableError, match="awaiting registration") as caught:
        AgentClient(agents, "pending").get_access_token()  # the definition is loaded at the first request
    assert caught.value.application_name == "pending"


# -- local servers: what the provider will not do ------------------------------------------------


@pytest.fixture
def local_token_server(store: Store) -> Iterator[tuple[Store, list[Reply], list[Seen]]]:
    replies: list[Reply] = []

    def handler(request: Seen) -> Reply:
        if request.path == "/.well-known/openid-configuration":
            endpoints = {"issuer": server.url, "token_endpoint": f"{server.url}/token"}
            return Reply(200, {**endpoints, "grant_types_supported": ["client_credentials"]})
        return replies.pop(0)

    with serve(handler) as server:
        with store.session() as session:
            definition = ServerDefinition.discover(session, server.url)
            local = {"client_id": "local", "client_secret": SECRET}
            add_client(session, definition, "client_secret_basic", local, application_name="local")
        yield store, replies, server.seen


def test_5xx_and_429_are_retried_then_the_token_is_used(
    local_token_server: tuple[Store, list[Reply], list[Seen]],
) -> None:
    store, replies, seen = local_token_server
    token = {"access_token": "t1", "token_type": "Bearer", "expires_in": 100}
    replies += [Reply(500), Reply(429, headers={"Retry-After": "3"}), Reply(200, token)]
    sleeps: list[float] = []
    agent = AgentClient(store, "local", sleep=sleeps.append, retry=RetryPolicy(attempts=3, base_delay=0.5))
    assert agent.get_access_token() == "t1"
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.5 and sleeps[1] == 3.0
    token_posts = [s for s in seen if s.path == "/token"]
    assert len(token_posts) == 3 and b"grant_type=client_credentials" in token_posts[0].body


def test_retries_exhausted_raise_transport_error_and_cache_nothing(
    local_token_server: tuple[Store, list[Reply], list[Seen]],
) -> None:
    store, replies, _ = local_token_server
    replies += [Reply(503)] * 3
    agent = AgentClient(store, "local", sleep=lambda s: None)
    with pytest.raises(TransportError, match="503"):
        agent.get_access_token()
    with store.session() as session:
        assert session.scalars(select(AccessToken)).all() == []


def test_missing_expires_in_gets_the_default_lifetime_and_scope_is_sent(
    local_token_server: tuple[Store, list[Reply], list[Seen]],
) -> None:
    store, replies, seen = local_token_server
    unscoped = {"access_token": "t2", "token_type": "Bearer"}
    scoped = {"access_token": "t3", "token_type": "Bearer", "scope": "b a"}
    replies += [Reply(200, unscoped), Reply(200, scoped)]
    agent = AgentClient(store, "local", default_lifetime=timedelta(minutes=7))
    token = agent.get_token()
    assert token.lifetime == timedelta(minutes=7)
    scoped = agent.get_token("b a")
    assert scoped.access_token == "t3" and scoped.scope == "a b"
    assert agent.get_token(["a", "b"]) is scoped  # the same scope, in another order and shape
    assert b"scope=a+b" in seen[-1].body


def test_malformed_token_response_is_a_protocol_error(
    local_token_server: tuple[Store, list[Reply], list[Seen]],
) -> None:
    from oauth2store import ProtocolError

    store, replies, seen = local_token_server
    replies += [Reply(200, "{oops"), Reply(200, {"token_type": "Bearer"}), Reply(400, "<html>")]
    import time

    clock = FakeClock(time.time())
    agent = AgentClient(store, "local", clock=clock)
    for expected in ("not a JSON object", "no access_token", "without an RFC 6749 error"):
        with pytest.raises(ProtocolError, match=expected):
            agent.get_access_token()
        with pytest.raises(ProtocolError, match=expected) as recorded:  # within the backoff: no request
            agent.get_access_token()
        assert "no request is sent to the server before" in "".join(recorded.value.__notes__)
        clock.now += 120
    assert [request.path for request in seen].count("/token") == 3


def test_a_client_disabled_later_gets_no_new_token(agents: Store) -> None:
    import time

    clock = FakeClock(time.time())
    agent = AgentClient(agents, "client_secret_basic", clock=clock)
    agent.get_access_token()
    with agents.session() as session:
        client = Client.Open(session, "client_secret_basic")
        assert client is not None
        client.enabled = False
    clock.now += 400  # the token expired: renewal reloads the definition and refuses
    with pytest.raises(ClientNotUsableError, match="disabled"):
        agent.get_access_token()


def test_discover_endpoints_updates_the_definition_and_the_agent(agents: Store, oidc: OidcProvider) -> None:
    with agents.session() as session:
        server = session.scalars(select(ServerDefinition)).one()
        server.server_metadata.revocation_endpoint = None
        server.is_discovery = False
    agent = AgentClient(agents, "client_secret_basic")
    assert agent.config.endpoints.revocation_endpoint is None
    endpoints = agent.discover_endpoints()
    assert endpoints.token_endpoint == oidc.token_endpoint and endpoints.revocation_endpoint
    assert agent.config.endpoints == endpoints
    with agents.session() as session:
        stored = session.scalars(select(ServerDefinition)).one()
        assert stored.is_discovery and stored.server_metadata.revocation_endpoint == endpoints.revocation_endpoint


def test_token_repr_hides_the_token(agents: Store) -> None:
    token = AgentClient(agents, "client_secret_basic").get_token()
    assert token.access_token not in repr(token) and "Bearer" in repr(token)


@pytest.mark.parametrize("method", ["client_secret_jwt", "private_key_jwt"])
def test_assertion_audience_may_be_the_token_endpoint(agents: Store, oidc: OidcProvider, method: str) -> None:
    with agents.session() as session:
        client = Client.Open(session, method)
        assert client is not None and client.jwt_audience == oidc.issuer  # IRIS JWTAudienceGet: the issuer by default
        client.jwt_audience = oidc.token_endpoint
    agent = AgentClient(agents, method)
    assert agent.config.identity.audience == oidc.token_endpoint
    assert agent.get_access_token()


def test_a_disabled_ssl_configuration_is_refused(agents: Store) -> None:
    from oauth2store import SSLConfiguration, ValidationError

    with agents.session() as session:
        session.add(SSLConfiguration(name="off", enabled=False))
        session.flush()
        client = Client.Open(session, "client_secret_basic")
        assert client is not None
        client.ssl_configuration = "off"
    with pytest.raises(ValidationError, match="disabled"):
        AgentClient(agents, "client_secret_basic").get_access_token()


def test_a_deleted_client_recreated_with_other_credentials_never_gets_the_old_token(
    agents: Store, registered: dict[str, dict[str, Any]]
) -> None:
    old = AgentClient(agents, "client_secret_basic").get_access_token()
    with agents.session() as session:
        Client.DeleteId(session, "client_secret_basic")
    with agents.session() as session:
        server = session.scalars(select(ServerDefinition)).one()
        post = registered["client_secret_post"]
        add_client(session, server, "client_secret_post", post, application_name="client_secret_basic")
    agent = AgentClient(agents, "client_secret_basic")
    token = agent.get_access_token()
    assert token != old
    assert agent.introspect(token)["client_id"] == post["client_id"]


@pytest.mark.parametrize(
    "change",
    [
        {"client_id": "client_secret_post"},  # the client_id of the client_secret_post client
        {"token_endpoint_auth_method": "client_secret_post"},
        {"enabled": False},
    ],
)
def test_a_changed_definition_drops_its_cached_token_in_this_process(
    agents: Store, client_ids: dict[str, str], change: dict[str, Any]
) -> None:
    agent = AgentClient(agents, "client_secret_basic")
    old = agent.get_access_token()
    with agents.session() as session:
        client = Client.Open(session, "client_secret_basic")
        assert client is not None
        for name, value in change.items():
            if name == "client_id":
                value = client_ids[value]
            target = client.client_metadata if name == "token_endpoint_auth_method" else client
            setattr(target, name, value)
    with agents.session() as session:
        assert (
            session.scalars(select(AccessToken).where(AccessToken.application_name == "client_secret_basic")).all()
            == []
        )
    if change.get("enabled") is False:
        with pytest.raises(ClientNotUsableError, match="disabled"):
            agent.get_access_token()
        return
    assert agent.get_access_token() != old

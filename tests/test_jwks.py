"""RefreshJWKS and validate_jwt: against the real oidc-provider, and local servers for caching and faults."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from factories import generate_rsa_jwk, new_server, public_jwk
from jose import jwk, jws
from local_servers import Reply, Seen, serve
from oidc_provider import OidcProvider
from oracles import b64url_decode, b64url_json, sign_compact
from sqlalchemy import text

from oauth2store import (
    AgentClient,
    Client,
    JWTValidationError,
    OAuth2StoreError,
    ServerDefinition,
    Store,
)
from oauth2store._server_jwks import clear_parsed_key_sets

RESOURCE = "urn:test:api"


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    clear_parsed_key_sets()
    yield
    clear_parsed_key_sets()


def add_client(
    session: Any, server: ServerDefinition, client_id: str = "api", client_secret: str = "api-secret"
) -> Client:
    """The client `api`: its client_id and secret are those the provider registered, if the server is one."""
    credentials = {"client_id": client_id, "client_secret": client_secret}
    client = Client(application_name="api", client_type="confidential", server_definition=server, **credentials)
    client.client_metadata.grant_types = ["client_credentials"]
    session.add(client)
    session.flush()
    return client


# --- against the real provider ---------------------------------------------------------------------------------


@pytest.fixture
def registered(oidc: OidcProvider) -> dict[str, Any]:
    """This test's client at the provider."""
    return oidc.register()


@pytest.fixture
def api(store: Store, oidc: OidcProvider, registered: dict[str, Any]) -> Store:
    with store.session() as session:
        server = ServerDefinition.discover(session, oidc.issuer)
        add_client(session, server, registered["client_id"], registered["client_secret"])
    return store


def provider_token(store: Store) -> str:
    return AgentClient(store, "api").get_access_token(resource=RESOURCE)


def test_discovery_stores_the_provider_jwks(api: Store, oidc: OidcProvider) -> None:
    with api.session() as session:
        server = ServerDefinition.OpenByIssuer(session, oidc.issuer)
        assert server is not None and server.public_jwks is not None
        assert {k["kid"] for k in server.public_jwks["keys"]} == {k["kid"] for k in oidc.jwks["keys"]}
        assert server.public_jwks_expires is not None and server.public_jwks_expires > time.time()
        client = Client.Open(session, "api")
        assert client is not None
        assert client.RefreshJWKS() is False  # still fresh
        assert client.RefreshJWKS(force=True) is False  # fetched again, unchanged


def test_provider_tokens_validate(api: Store, oidc: OidcProvider, registered: dict[str, Any]) -> None:
    token = provider_token(api)
    with api.session() as session:
        client = Client.Open(session, "api")
        assert client is not None
        claims = client.validate_jwt(token, audience=RESOURCE)
    assert claims["iss"] == oidc.issuer and claims["aud"] == RESOURCE
    assert claims["client_id"] == registered["client_id"]


def check_refused(store: Store, token: str, check: str, **options: Any) -> None:
    with store.session() as session:
        client = Client.Open(session, "api")
        assert client is not None
        with pytest.raises(JWTValidationError) as caught:
            client.validate_jwt(token, **options)
    assert caught.value.check == check
    assert token not in str(caught.value)


def test_forged_and_unfit_tokens_are_refused(api: Store, oidc: OidcProvider) -> None:
    token = provider_token(api)
    header, payload, signature = token.split(".")
    claims = json.loads(b64url_decode(payload))
    widened = b64url_json({**claims, "scope": "admin"})
    check_refused(api, f"{header}.{widened}.{signature}", "signature", audience=RESOURCE)
    check_refused(api, token, "exp", audience=RESOURCE, now=claims["exp"] + 61)
    check_refused(api, token, "aud", audience="urn:another:api")
    check_refused(api, token, "aud")  # the default audience is the client's own client_id
    kid = json.loads(b64url_decode(header))["kid"]
    check_refused(api, f"{b64url_json({'alg': 'none', 'kid': kid})}.{payload}.", "alg", audience=RESOURCE)
    # The alg-confusion forgery: HS256 keyed with the server's public key, signed by the oracle (python-jose won't).
    signing_input = f"{b64url_json({'alg': 'HS256', 'kid': kid})}.{payload}"
    confused = sign_compact(signing_input, "HS256", jws_public_pem(oidc).encode())
    check_refused(api, confused, "alg", audience=RESOURCE, algorithms=["RS256", "HS256"])
    check_refused(api, confused, "alg", audience=RESOURCE)


def jws_public_pem(op: OidcProvider) -> str:
    return jwk.construct(public_jwk(op.jwks["keys"][0]), "RS256").to_pem().decode()


def test_provider_key_rotation(store: Store) -> None:
    # A provider of its own, which the test restarts with other keys: a static client, which survives restarts.
    with OidcProvider(clients=[{"client_id": "api", "client_secret": "api-secret"}]) as provider:
        with store.session() as session:
            add_client(session, ServerDefinition.discover(session, provider.issuer))
        provider.restart(jwks={"keys": [generate_rsa_jwk()]})
        rotated = provider_token(store)
        with store.session() as session:
            client = Client.Open(session, "api")
            assert client is not None
            # An unknown kid refreshes once, at once, without waiting for the cached copy to expire.
            assert client.validate_jwt(rotated, audience=RESOURCE)["iss"] == provider.issuer
        with store.session() as session:
            server = ServerDefinition.OpenByIssuer(session, provider.issuer)
            assert server is not None and server.public_jwks == {"keys": [public_jwk(provider.jwks["keys"][0])]}
            provider.restart(jwks={"keys": [generate_rsa_jwk()]})
            client = Client.Open(session, "api")
            assert client is not None
            assert client.RefreshJWKS() is False  # not expired yet
            assert client.RefreshJWKS(now=time.time() + 2 * 86_400) is True
            assert server.public_jwks == {"keys": [public_jwk(provider.jwks["keys"][0])]}


# --- against local servers ---------------------------------------------------------------------------------------


class JWKSServer:
    """A local issuer whose JWKS answers can be changed, counting JWKS requests."""

    def __init__(self) -> None:
        self.key = generate_rsa_jwk("k1")
        self.reply = self.jwks_reply([self.key])

    @staticmethod
    def jwks_reply(keys: list[dict[str, Any]], **headers: str) -> Reply:
        return Reply(200, {"keys": [public_jwk(k) for k in keys]}, {"Content-Type": "application/json", **headers})

    def handler(self, request: Seen) -> Reply:
        return self.reply

    def requests(self, server: Any) -> int:
        return sum(1 for seen in server.seen if seen.path == "/jwks")

    def token(self, issuer: str, key: dict[str, Any] | None = None, **claims: Any) -> str:
        key = key or self.key
        now = int(time.time())
        values = {"iss": issuer, "aud": "api", "sub": "svc", "iat": now, "exp": now + 3 * 86_400, **claims}
        pem = jwk.construct(key, "RS256").to_pem().decode()
        return jws.sign(values, pem, algorithm="RS256", headers={"kid": key["kid"]})


@pytest.fixture
def local(store: Store) -> Iterator[tuple[Store, Any, JWKSServer]]:
    jwks_server = JWKSServer()
    with serve(jwks_server.handler) as server:
        with store.session() as session:
            definition = ServerDefinition(issuer_endpoint=server.url)
            definition.server_metadata.token_endpoint = f"{server.url}/token"
            definition.server_metadata.jwks_uri = f"{server.url}/jwks"
            definition.server_metadata.grant_types_supported = ["client_credentials"]
            session.add(definition)
            add_client(session, definition)
        yield store, server, jwks_server


def open_client(session: Any) -> Client:
    client = Client.Open(session, "api")
    assert client is not None
    return client


def test_cache_control_and_conditional_requests(local: tuple[Store, Any, JWKSServer]) -> None:
    store, server, jwks_server = local
    jwks_server.reply = jwks_server.jwks_reply([jwks_server.key], ETag='"v1"', **{"Cache-Control": "max-age=600"})
    now = time.time()
    with store.session() as session:
        client = open_client(session)
        assert client.RefreshJWKS(now=now) is True
        assert client.server_definition.public_jwks_expires == int(now) + 600
        assert client.RefreshJWKS(now=now + 599) is False
        assert jwks_server.requests(server) == 1
        jwks_server.reply = Reply(304, b"", {"ETag": '"v1"', "Cache-Control": "max-age=900"})
        assert client.RefreshJWKS(now=now + 601) is False
        assert server.seen[-1].headers.get("If-None-Match") == '"v1"'
        assert client.server_definition.public_jwks_expires == int(now + 601) + 900
        assert client.server_definition.public_jwks is not None
    with store.session() as session:  # saved
        assert open_client(session).server_definition.public_jwks_etag == '"v1"'


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(404, "gone"), "HTTP 404"),
        (Reply(200, "<html>", {"Content-Type": "text/html"}), "content type 'text/html'"),
        (Reply(200, "{not json", {"Content-Type": "application/json"}), "not JSON"),
        (Reply(200, {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, {"Content-Type": "application/json"}), "kty"),
        (Reply(200, {"keys": [generate_rsa_jwk("private")]}, {"Content-Type": "application/json"}), "private"),
        (Reply(200, "x" * (1024 * 1024 + 1), {"Content-Type": "application/json"}), "larger than"),
        (Reply(302, "", {"Location": "https://evil.example.com/jwks"}), "redirect refused"),
        (Reply(200, {"keys": []}, {"Content-Type": "application/json"}, delay=1.5), "timed out"),
    ],
)
def test_every_failure_leaves_the_cached_jwks(
    local: tuple[Store, Any, JWKSServer], reply: Reply, error: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _server, jwks_server = local
    monkeypatch.setattr("oauth2store._http.transport.DEFAULT_TIMEOUT", (1.0, 0.5))
    with store.session() as session:
        open_client(session).RefreshJWKS()
        good = open_client(session).server_definition.public_jwks
    jwks_server.reply = reply
    with store.session() as session:
        client = open_client(session)
        with pytest.raises(OAuth2StoreError, match=error):
            client.RefreshJWKS(force=True)
        assert client.server_definition.public_jwks == good
    with store.session() as session:
        assert open_client(session).server_definition.public_jwks == good


def test_unknown_kid_refreshes_once_per_cooldown(local: tuple[Store, Any, JWKSServer]) -> None:
    store, server, jwks_server = local
    stranger = generate_rsa_jwk("k2")
    with store.session() as session:
        client = open_client(session)
        assert client.validate_jwt(jwks_server.token(server.url))["sub"] == "svc"
        assert jwks_server.requests(server) == 1
        for _ in range(3):
            with pytest.raises(JWTValidationError) as caught:
                client.validate_jwt(jwks_server.token(server.url, stranger))
            assert caught.value.check == "kid"
        assert jwks_server.requests(server) == 2  # one forced refresh, then the cooldown holds


def test_concurrent_callers_share_one_forced_refresh(local: tuple[Store, Any, JWKSServer]) -> None:
    store, server, jwks_server = local
    with store.session() as session:
        open_client(session).RefreshJWKS()
    rotated = generate_rsa_jwk("k2")
    jwks_server.reply = jwks_server.jwks_reply([jwks_server.key, rotated])
    jwks_server.reply.delay = 0.3  # every caller arrives while the refresh is in flight
    token = jwks_server.token(server.url, rotated)
    results: list[str] = []

    def validate() -> None:
        with store.session() as session:
            results.append(open_client(session).validate_jwt(token)["sub"])

    threads = [threading.Thread(target=validate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == ["svc"] * 8
    assert jwks_server.requests(server) == 2


def test_stale_jwks_serves_while_the_server_is_down_until_the_hard_limit(
    local: tuple[Store, Any, JWKSServer],
) -> None:
    store, server, jwks_server = local
    token = jwks_server.token(server.url)
    jwks_server.reply = jwks_server.jwks_reply([jwks_server.key], **{"Cache-Control": "max-age=60"})
    with store.session() as session:
        open_client(session).RefreshJWKS()
    jwks_server.reply = Reply(503, "down", {"Retry-After": "0"})
    with store.session() as session:
        client = open_client(session)
        assert client.validate_jwt(token, now=time.time() + 3600)["sub"] == "svc"
        with pytest.raises(JWTValidationError) as caught:
            client.validate_jwt(token, now=time.time() + 25 * 3600)
        assert caught.value.check == "jwks"


def test_save_false_leaves_flushing_to_the_caller(local: tuple[Store, Any, JWKSServer]) -> None:
    store, _server, _jwks_server = local
    with store.session() as session:
        client = open_client(session)
        assert client.RefreshJWKS(save=False) is True
        assert client.server_definition in session.dirty
        session.rollback()
    with store.session() as session:
        assert open_client(session).server_definition.public_jwks is None


def test_no_jwks_uri(store: Store) -> None:
    with store.session() as session:
        server = new_server()
        session.add(server)
        client = add_client(session, server)
        assert client.RefreshJWKS(force=True) is False
        with pytest.raises(JWTValidationError, match="no JWKS") as caught:
            client.validate_jwt("a.b.c")
        assert caught.value.check == "jwks"


def test_a_stored_jwks_that_is_not_json_is_refused(local: tuple[Store, Any, JWKSServer]) -> None:
    store, server, jwks_server = local
    with store.session() as session:
        open_client(session).RefreshJWKS()
        session.execute(text('UPDATE "OAuth2_ServerDefinition" SET "PublicJWKS" = :v'), {"v": json.dumps({"k": 1})})
    with store.session() as session, pytest.raises(JWTValidationError) as caught:
        open_client(session).validate_jwt(jwks_server.token(server.url))
    assert caught.value.check == "jwks"

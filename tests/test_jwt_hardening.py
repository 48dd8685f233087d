"""validate_jwt on hostile input: every malformed token is a JWTValidationError, never anything else.

Also: validating never flushes the caller's session, and the unknown-`kid` refresh state belongs to one store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import key_pem, new_client, new_server, rsa_key
from jose import jwk as jose_jwk
from jose import jws as jose_jws
from local_servers import Reply, Seen, serve
from oracles import b64url_encode, compact_jws
from sqlalchemy.orm import Session

from oauth2store import Client, JWTValidationError, ServerDefinition, Store, generate_store_key

KEY = rsa_key()
PEM = key_pem(KEY)
PUBLIC_JWK = {**jose_jwk.construct(PEM, "RS256").public_key().to_dict(), "kid": "k1", "alg": "RS256", "use": "sig"}
JWKS = {"keys": [PUBLIC_JWK]}
ISSUER = "https://as.example.com"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": "orders", "sub": "svc", "iat": now, "exp": now + 300, **overrides}


def token(payload: dict[str, Any] | str | None = None, **header: Any) -> str:
    """A token signed with KEY; `header` members are added to (or replace) kid k1."""
    body = claims() if payload is None else payload.encode() if isinstance(payload, str) else payload
    return jose_jws.sign(body, PEM, algorithm="RS256", headers={"kid": "k1", **header})


def with_header(header: Any, payload: dict[str, Any] | None = None) -> str:
    """A token whose header is exactly `header`, signed over that header (so only the header can be wrong)."""
    return compact_jws(header, payload or claims(), KEY, alg="RS256")


@pytest.fixture
def client() -> Client:
    """A detached client whose server definition holds the JWKS and has no jwks_uri (no refresh, no network)."""
    return new_client(new_server(issuer_endpoint=ISSUER, public_jwks=JWKS), client_id="orders")


def refused(client: Client, value: Any, **options: Any) -> JWTValidationError:
    with pytest.raises(JWTValidationError) as caught:
        client.validate_jwt(value, **options)
    return caught.value


def test_a_good_token_validates(client: Client) -> None:
    assert client.validate_jwt(token())["sub"] == "svc"


@pytest.mark.parametrize("alg", [["RS256"], {"RS256": True}, 256, None, True])
def test_an_alg_that_is_not_a_string_is_refused(client: Client, alg: Any) -> None:
    assert refused(client, with_header({"alg": alg, "kid": "k1"})).check == "alg"


@pytest.mark.parametrize("value", [None, b"a.b.c", 42, ["a", "b", "c"], token().encode()])
def test_a_token_that_is_not_a_string_is_refused(client: Client, value: Any) -> None:
    assert refused(client, value).check == "format"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        token() + ".x",
        "!!!." + token().split(".", 1)[1],
        token()[:-2] + "*=",  # a character outside base64url in the signature
        "e30." + token().split(".", 1)[1],  # {} : a header without alg
        b64url_encode(b"[1,2]") + "." + token().split(".", 1)[1],
        b64url_encode(b"\xff\xfe") + "." + token().split(".", 1)[1],
        b64url_encode(b"[" * 100_000) + "." + token().split(".", 1)[1],
    ],
)
def test_malformed_compact_tokens_are_refused(client: Client, value: str) -> None:
    assert refused(client, value).check in ("format", "alg")


def test_malformed_payloads_are_refused(client: Client) -> None:
    assert refused(client, token("[1, 2]")).check == "format"
    assert refused(client, token("not json")).check == "format"
    assert refused(client, token("[" * 100_000)).check == "format"


@pytest.mark.parametrize("crit", [["exp"], ["b64"], [], "b64", ["urn:example:unknown"]])
def test_a_crit_header_is_refused(client: Client, crit: Any) -> None:
    """RFC 7515 §4.1.11: a recipient that does not understand every listed extension must refuse the JWS."""
    assert refused(client, token(crit=crit)).check == "crit"


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400])
def test_numeric_dates_must_be_finite(client: Client, claim: str, number: str) -> None:
    values = {k: v for k, v in claims().items() if k != claim}
    payload = json.dumps(values)[:-1] + f', "{claim}": {number}}}'
    assert refused(client, token(payload)).check == claim


# --- with a store: refreshes, flushes and the per-store refresh state -------------------------------------------


class Issuer:
    """A loopback issuer answering its JWKS (or an error), counting the requests."""

    def __init__(self) -> None:
        self.reply = Reply(200, JWKS, {"Content-Type": "application/json"})
        self.requests = 0

    def handler(self, request: Seen) -> Reply:
        self.requests += 1
        return self.reply


@pytest.fixture
def issuer() -> Iterator[tuple[Issuer, str]]:
    answering = Issuer()
    with serve(answering.handler) as server:
        yield answering, server.url


def define(store: Store, url: str) -> None:
    with store.session() as session:
        server = ServerDefinition(issuer_endpoint=url)
        server.server_metadata.token_endpoint = f"{url}/token"
        server.server_metadata.jwks_uri = f"{url}/jwks"
        server.server_metadata.grant_types_supported = ["client_credentials"]
        values = {"client_type": "resource", "client_id": "orders", "client_secret": "s"}
        session.add(Client(application_name="api", server_definition=server, **values))


def open_client(session: Session) -> Client:
    client = Client.Open(session, "api")
    assert client is not None
    return client


def test_unknown_kid_while_the_jwks_endpoint_is_down(store: Store, issuer: tuple[Issuer, str]) -> None:
    answering, url = issuer
    define(store, url)
    with store.session() as session:
        assert open_client(session).validate_jwt(token(claims(iss=url)))["sub"] == "svc"
    answering.reply = Reply(503, "down", {"Retry-After": "0"})
    with store.session() as session:
        caught = refused(open_client(session), token(claims(iss=url), kid="rotated"))
    assert caught.check == "jwks"


def test_validation_never_flushes_the_callers_session(store: Store, issuer: tuple[Issuer, str]) -> None:
    answering, url = issuer
    define(store, url)
    with pytest.raises(RuntimeError, match="the caller rolls back"), store.session() as session:
        client = open_client(session)
        assert client.server_definition.public_jwks is None  # the first validation must fetch the JWKS
        invalid = ServerDefinition(issuer_endpoint="not a url")  # pending, and invalid: a flush would refuse it
        session.add(invalid)
        session.expire_all()  # every column read below is a query, each of which could autoflush
        assert client.validate_jwt(token(claims(iss=url)))["sub"] == "svc"
        assert invalid in session.new and invalid.id is None  # untouched: never flushed
        assert client.server_definition.public_jwks == JWKS  # shown on the definition, as committed
        assert not session.dirty  # nothing for the caller's commit to write
        raise RuntimeError("the caller rolls back")
    # Kept although the caller rolled back (stored apart from its session, or, on SQLite, where the caller's pending
    # changes would make a commit of another connection fail its own, in the process): no second fetch.
    with store.session() as session:
        assert open_client(session).validate_jwt(token(claims(iss=url)))["sub"] == "svc"
    assert answering.requests == 1


def test_two_stores_do_not_share_the_unknown_kid_cooldown(tmp_path: Path, issuer: tuple[Issuer, str]) -> None:
    answering, url = issuer
    stores = [Store(f"sqlite:///{tmp_path / f'{name}.db'}", key=generate_store_key()) for name in ("a", "b")]
    try:
        for store in stores:
            store.upgrade()
            define(store, url)
        stranger = token(claims(iss=url), kid="unknown")
        for count, store in enumerate(stores, start=1):
            with store.session() as session:
                assert refused(open_client(session), stranger).check == "kid"
            assert answering.requests == 2 * count  # the first fetch, then this store's own forced refresh
    finally:
        for store in stores:
            store.close()

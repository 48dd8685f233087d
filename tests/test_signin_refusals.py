"""Every refused sign-in input: a clear error, and the stored rows exactly as they were (compared raw).

The callback's own checks run against the real provider; the ID token and userinfo checks against a local server
that answers the token and userinfo requests with what each test forges (signed with a key its JWKS publishes, or
not), since a real provider never sends a wrong nonce or at_hash.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from browserless_login import Browser
from factories import generate_rsa_jwk, public_jwk
from hypothesis import given
from hypothesis import strategies as st
from jose import jwt
from local_servers import Reply, RoutedServer
from oidc_provider import OidcProvider
from signin_setup import REDIRECT_URI, SECRET, define_web_client, register_web_client
from sqlalchemy import text

from oauth2store import (
    AccessToken,
    CallbackError,
    Client,
    Endpoint,
    JWTValidationError,
    OAuthServerError,
    ProtocolError,
    ServerDefinition,
    SignIn,
    Store,
)
from oauth2store._authorization import parse_callback


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with OidcProvider(sign_in=True) as started:
        yield started


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a sign-in touches, raw (secrets as stored)."""
    with store.engine.connect() as connection:
        return {
            table: [tuple(row) for row in connection.execute(text(f'SELECT * FROM "{table}" ORDER BY 1, 2'))]
            for table in ("OAuth2_AccessToken", "OAuth2_TokenRenewal", "OAuth2_Client")
        }


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


# -- the callback against the real provider ----------------------------------------------------------------------


def test_unknown_replayed_and_expired_states(store: Store, provider: OidcProvider) -> None:
    define_web_client(store, provider, register_web_client(provider))
    signin = SignIn(store, "web")
    url = signin.authorization_url("s1", scope="openid").url
    answer = Browser().sign_in(url, REDIRECT_URI)
    before = snapshot(store)
    for parameters, reason in [
        ({}, "no state"),
        ({"state": "not-a-state", "code": "x"}, "unknown or already used state"),
        ({"state": [answer["state"], "other"], "code": "x"}, "given once"),
    ]:
        with pytest.raises(CallbackError, match=reason):
            signin.handle_callback(parameters)
    late = SignIn(store, "web", clock=lambda: time.time() + 601)
    with pytest.raises(CallbackError, match="expired"):
        late.handle_callback(answer)
    assert snapshot(store) == before
    signin.handle_callback(answer)
    after = snapshot(store)
    with pytest.raises(CallbackError, match="unknown or already used state"):
        signin.handle_callback(answer)  # replayed
    assert snapshot(store) == after


def test_a_callback_for_another_application(store: Store, provider: OidcProvider) -> None:
    define_web_client(store, provider, register_web_client(provider), name="one")
    define_web_client(store, provider, register_web_client(provider), name="two")
    url = SignIn(store, "one").authorization_url("s1", scope="openid").url
    answer = Browser().sign_in(url, REDIRECT_URI)
    before = snapshot(store)
    with pytest.raises(CallbackError, match="another application"):
        SignIn(store, "two").handle_callback(answer)
    assert snapshot(store) == before


def test_iss_mismatch_and_missing_iss(store: Store, provider: OidcProvider) -> None:
    define_web_client(store, provider, register_web_client(provider))
    signin = SignIn(store, "web")
    answer = Browser().sign_in(signin.authorization_url("s1", scope="openid").url, REDIRECT_URI)
    before = snapshot(store)
    with pytest.raises(CallbackError, match="comes from issuer"):
        signin.handle_callback({**answer, "iss": "https://attacker.example"})
    without = {name: value for name, value in answer.items() if name != "iss"}
    with pytest.raises(CallbackError, match="RFC 9207"):  # the provider advertises that it always sends iss
        signin.handle_callback(without)
    assert snapshot(store) == before
    signin.handle_callback(answer)  # the real answer still works


def test_a_code_already_used(store: Store, provider: OidcProvider) -> None:
    define_web_client(store, provider, register_web_client(provider))
    signin = SignIn(store, "web")
    browser = Browser()
    first = browser.sign_in(signin.authorization_url("s1", scope="openid").url, REDIRECT_URI)
    signin.handle_callback(first)
    again = signin.authorization_url("s1", scope="openid").url
    before = snapshot(store)
    with pytest.raises(OAuthServerError) as refused:
        signin.handle_callback({**first, "state": state_of(again)})
    assert refused.value.error == "invalid_grant"
    assert snapshot(store) == before
    assert SECRET not in str(refused.value) and first["code"] not in str(refused.value)


def test_a_logout_callback_with_a_wrong_state(store: Store, provider: OidcProvider) -> None:
    define_web_client(store, provider, register_web_client(provider))
    signin = SignIn(store, "web")
    browser = Browser()
    signin.handle_callback(browser.sign_in(signin.authorization_url("s1", scope="openid").url, REDIRECT_URI))
    assert signin.logout_url("s1", "/bye") is not None
    before = snapshot(store)
    for parameters in ({}, {"state": "wrong"}):
        with pytest.raises(CallbackError):
            signin.handle_logout_callback(parameters)
    assert snapshot(store) == before
    assert signin.is_authorized("s1").is_authorized


@given(st.dictionaries(st.text(max_size=12), st.one_of(st.none(), st.text(max_size=40), st.integers())))
def test_any_callback_parameters_parse_or_are_refused(parameters: dict[str, Any]) -> None:
    try:
        parsed = parse_callback(parameters)
    except CallbackError:
        return
    assert parsed.state == parameters["state"] and parsed.state
    assert "state=" not in repr(parsed) and "code=" not in repr(parsed)  # secrets stay out of reprs


# -- the ID token and userinfo against a forging server ----------------------------------------------------------


class Forger:
    """A local authorization server whose token and userinfo answers the test writes."""

    def __init__(self, server: RoutedServer) -> None:
        self.server = server
        self.issuer = server.url
        self.key = generate_rsa_jwk("good")
        self.stranger = generate_rsa_jwk("good")  # same kid, another key
        server.reply("/jwks", Reply(body={"keys": [public_jwk(self.key)]}))
        server.reply(
            "/.well-known/openid-configuration",
            Reply(
                body={
                    "issuer": self.issuer,
                    "authorization_endpoint": f"{self.issuer}/auth",
                    "token_endpoint": f"{self.issuer}/token",
                    "userinfo_endpoint": f"{self.issuer}/me",
                    "jwks_uri": f"{self.issuer}/jwks",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                }
            ),
        )

    def id_token(self, claims: dict[str, Any], key: dict[str, str] | None = None, alg: str = "RS256") -> str:
        signing = key or self.key
        return jwt.encode(claims, signing, algorithm=alg, headers={"kid": signing.get("kid", "good")})

    def answer(self, access_token: str = "AT-forged", **members: Any) -> None:
        self.server.reply("/token", Reply(body={"access_token": access_token, "token_type": "Bearer", **members}))


@pytest.fixture
def forger() -> Iterator[Forger]:
    with RoutedServer() as server:
        yield Forger(server)


def define_forged_client(store: Store, forger: Forger) -> SignIn:
    with store.session() as session:
        server = ServerDefinition.discover(session, forger.issuer)
        client = Client(
            application_name="forged",
            client_type="confidential",
            client_id="forged-client",
            client_secret=SECRET,
            server_definition=server,
            redirection_endpoint=Endpoint.parse(REDIRECT_URI),
        )
        client.client_metadata.grant_types = ["authorization_code", "refresh_token"]
        session.add(client)
    return SignIn(store, "forged")


def half_hash(value: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def good_claims(forger: Forger, nonce: str, access_token: str = "AT-forged") -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    return {
        "iss": forger.issuer,
        "sub": "alice",
        "aud": "forged-client",
        "exp": now + 600,
        "iat": now,
        "nonce": nonce,
        "at_hash": half_hash(access_token),
    }


def unsigned(claims: dict[str, Any]) -> str:
    def segment(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{segment({'alg': 'none'})}.{segment(claims)}."


CASES: dict[str, tuple[str, Any]] = {
    "wrong nonce": ("nonce", lambda f, c: f.id_token({**c, "nonce": "another"})),
    "no nonce": ("nonce", lambda f, c: f.id_token({k: v for k, v in c.items() if k != "nonce"})),
    "wrong aud": ("aud", lambda f, c: f.id_token({**c, "aud": "someone-else"})),
    "wrong azp": ("azp", lambda f, c: f.id_token({**c, "aud": ["forged-client", "other"], "azp": "other"})),
    "no azp with two audiences": ("azp", lambda f, c: f.id_token({**c, "aud": ["forged-client", "other"]})),
    "wrong at_hash": ("at_hash", lambda f, c: f.id_token({**c, "at_hash": half_hash("another token")})),
    "wrong iss": ("iss", lambda f, c: f.id_token({**c, "iss": "https://attacker.example"})),
    "expired": ("exp", lambda f, c: f.id_token({**c, "exp": c["iat"] - 3600})),
    "alg none": ("alg", lambda f, c: unsigned(c)),
    "HMAC with the client secret": ("alg", lambda f, c: jwt.encode(c, SECRET, algorithm="HS256")),
    "unknown key": ("signature", lambda f, c: f.id_token(c, f.stranger)),
    "unknown kid": ("kid", lambda f, c: f.id_token(c, {**f.stranger, "kid": "nobody"})),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_id_token_is_refused_and_nothing_stored(store: Store, forger: Forger, case: str) -> None:
    check, forge = CASES[case]
    signin = define_forged_client(store, forger)
    url = signin.authorization_url("s1", scope="openid").url
    query = parse_qs(urlsplit(url).query)
    forger.answer(id_token=forge(forger, good_claims(forger, query["nonce"][0])))
    before = snapshot(store)
    with pytest.raises(JWTValidationError) as refused:
        signin.handle_callback({"state": query["state"][0], "code": "a-code"})
    assert refused.value.check == check
    assert snapshot(store) == before
    assert "AT-forged" not in str(refused.value)


def test_no_id_token_although_openid_was_asked(store: Store, forger: Forger) -> None:
    signin = define_forged_client(store, forger)
    url = signin.authorization_url("s1", scope="openid").url
    forger.answer()
    before = snapshot(store)
    with pytest.raises(ProtocolError, match="no id_token"):
        signin.handle_callback({"state": state_of(url), "code": "a-code"})
    assert snapshot(store) == before


def test_a_good_forged_id_token_is_accepted_and_a_userinfo_sub_mismatch_refused(store: Store, forger: Forger) -> None:
    """The forging server's good answer signs in (so the refusals above are the checks', not the set-up's)."""
    signin = define_forged_client(store, forger)
    url = signin.authorization_url("s1", scope="openid").url
    query = parse_qs(urlsplit(url).query)
    forger.answer(id_token=forger.id_token(good_claims(forger, query["nonce"][0])))
    signin.handle_callback({"state": query["state"][0], "code": "a-code"})
    assert signin.is_authorized("s1").is_authorized
    forger.server.reply("/me", Reply(body={"sub": "alice", "name": "Alice"}))
    assert signin.get_userinfo("s1")["name"] == "Alice"
    forger.server.reply("/me", Reply(body={"sub": "mallory", "name": "Mallory"}))
    before = snapshot(store)
    with pytest.raises(JWTValidationError) as refused:
        signin.get_userinfo("s1")
    assert refused.value.check == "sub"
    assert snapshot(store) == before
    with store.session() as session:
        row = AccessToken.OpenForSession(session, "forged", "s1")
        assert row is not None and row.access_token == "AT-forged"

"""SignIn against the real oidc-provider: the authorization code flow with PKCE (query and form_post, PAR, every
client authentication method), IsAuthorized with refresh, userinfo (JSON and signed), logout, revocation, cleanup."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from browserless_login import Browser
from oidc_provider import OidcProvider
from signin_setup import POST_LOGOUT_URI, REDIRECT_URI, define_web_client, register_web_client
from sqlalchemy import text

from oauth2store import AccessToken, AuthorizationError, SignIn, Store, ValidationError
from oauth2store._encryption.cipher import SEALED_PREFIX


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    """A provider with the code flow, refresh-token rotation, signed userinfo; access tokens live 300 s."""
    with OidcProvider(sign_in=True, ttl={"AccessToken": 300, "ClientCredentials": 300}) as started:
        yield started


def signed_in(signin: SignIn, session_id: str, browser: Browser | None = None, **request: Any) -> Browser:
    """Sign `session_id` in through the provider's pages; the browser (its cookies hold the provider's session)."""
    browser = browser or Browser()
    url = signin.authorization_url(session_id, **request).url
    answer = browser.sign_in(url, REDIRECT_URI)
    signin.handle_callback(answer)
    return browser


def rows(store: Store) -> list[tuple[Any, ...]]:
    with store.engine.connect() as connection:
        return list(connection.execute(text('SELECT * FROM "OAuth2_AccessToken" ORDER BY "ID"')))


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "none"])
def test_sign_in_stores_the_session_tokens(store: Store, provider: OidcProvider, method: str) -> None:
    define_web_client(store, provider, register_web_client(provider, method))
    signin = SignIn(store, "web")
    request = signin.authorization_url("s1", scope="openid profile", redirect_url="/profile")
    assert not request.is_authorized
    query = parse_qs(urlsplit(request.url).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["state"][0]) >= 43 and query["nonce"]
    answer = Browser().sign_in(request.url, REDIRECT_URI)
    assert answer["iss"] == provider.issuer
    done = signin.handle_callback(answer)
    assert (done.session_id, done.redirect_url) == ("s1", "/profile")
    tokens = signin.is_authorized("s1", "openid")
    assert tokens.is_authorized and tokens.access_token and tokens.id_token
    assert "access_token" not in repr(tokens) and tokens.access_token not in repr(tokens)
    assert signin.validate_id_token(tokens.id_token)["sub"] == "alice"
    assert not signin.is_authorized("s1", "openid email").is_authorized  # a scope not granted
    assert signin.authorization_url("s1", scope="openid").is_authorized
    with store.session() as session:
        row = AccessToken.OpenForSession(session, "web", "s1")
        assert row is not None
        assert row.stage == "new"  # asked again just above
        assert row.refresh_token and row.grant_type == "authorization_code"


def test_the_state_is_stored_as_a_digest_and_the_verifier_encrypted(store: Store, provider: OidcProvider) -> None:
    define_web_client(store, provider, register_web_client(provider))
    request = SignIn(store, "web").authorization_url("s1", scope="openid")
    state = parse_qs(urlsplit(request.url).query)["state"][0]
    with store.engine.connect() as connection:
        stored = connection.execute(
            text('SELECT "State", "StateHash", "CodeVerifier", "Stage" FROM "OAuth2_AccessToken"')
        ).one()
    assert stored.State is None and state not in stored.StateHash and stored.Stage == "new"
    assert stored.CodeVerifier.startswith(SEALED_PREFIX)
    with store.session() as session:
        row = AccessToken.OpenForSession(session, "web", "s1")
        assert row is not None and row.code_verifier is not None
        assert row.code_verifier not in stored.CodeVerifier


def test_form_post_and_extra_parameters(store: Store, provider: OidcProvider) -> None:
    define_web_client(store, provider, register_web_client(provider))
    signin = SignIn(store, "web")
    request = signin.authorization_url(
        "s1",
        scope="openid",
        response_mode="form_post",
        properties={"max_age": 600, "login_hint": "bob", "claims": {"id_token": {"email": None}}, "prompt": "login"},
    )
    query = parse_qs(urlsplit(request.url).query)
    assert query["response_mode"] == ["form_post"] and query["max_age"] == ["600"]
    assert query["claims"] == ['{"id_token":{"email":null}}']
    answer = Browser(login="bob").sign_in(request.url, REDIRECT_URI)
    assert "code" in answer and answer["state"] == query["state"][0]
    signin.handle_callback(answer)
    claims = signin.validate_id_token(signin.is_authorized("s1").id_token or "")
    assert claims["sub"] == "bob" and "auth_time" in claims


def test_pushed_authorization_request_sends_only_client_id_and_request_uri(
    store: Store, provider: OidcProvider
) -> None:
    define_web_client(store, provider, register_web_client(provider, "client_secret_post"))
    signin = SignIn(store, "web")
    request = signin.authorization_url("s1", scope="openid", pushed=True)
    assert request.pushed
    query = parse_qs(urlsplit(request.url).query)
    assert set(query) == {"client_id", "request_uri"}
    signin.handle_callback(Browser().sign_in(request.url, REDIRECT_URI))
    assert signin.is_authorized("s1").is_authorized


def test_a_server_requiring_par_gets_it() -> None:
    with OidcProvider(sign_in=True, require_pushed_authorization_requests=True) as provider:
        from tempfile import TemporaryDirectory

        with TemporaryDirectory() as directory, Store(f"sqlite:///{directory}/s.db") as store:
            store.upgrade()
            define_web_client(store, provider, register_web_client(provider))
            signin = SignIn(store, "web")
            request = signin.authorization_url("s1", scope="openid")
            assert request.pushed and "request_uri" in request.url
            signin.handle_callback(Browser().sign_in(request.url, REDIRECT_URI))
            assert signin.is_authorized("s1").is_authorized


def test_pkce_off_by_the_iris_idiom(store: Store, provider: OidcProvider) -> None:
    define_web_client(store, provider, register_web_client(provider))
    signin = SignIn(store, "web")
    request = signin.authorization_url("s1", scope="openid", properties={"code_verifier": ""})
    assert "code_challenge" not in parse_qs(urlsplit(request.url).query)
    signin.handle_callback(Browser().sign_in(request.url, REDIRECT_URI))
    assert signin.is_authorized("s1").is_authorized


def test_bad_requests_are_refused_before_anything_is_stored(store: Store, provider: OidcProvider) -> None:
    define_web_client(store, provider, register_web_client(provider))
    signin = SignIn(store, "web")
    for session_id, request in [
        ("agent:x", {}),
        ("", {}),
        ("s1", {"response_mode": "fragment"}),
        ("s1", {"properties": {"state": "mine"}}),
        ("s1", {"properties": {"code_verifier": "mine"}}),
        ("s1", {"properties": {"max_age": -1}}),
    ]:
        with pytest.raises(ValidationError):
            signin.authorization_url(session_id, **request)
    assert rows(store) == []


def test_access_denied_is_stored_and_raised(store: Store, provider: OidcProvider) -> None:
    define_web_client(store, provider, register_web_client(provider))
    signin = SignIn(store, "web")
    request = signin.authorization_url("s1", scope="openid")
    state = parse_qs(urlsplit(request.url).query)["state"][0]
    with pytest.raises(AuthorizationError) as raised:
        signin.handle_callback(
            {"state": state, "iss": provider.issuer, "error": "access_denied", "error_description": "said no"}
        )
    assert (raised.value.error, raised.value.error_description) == ("access_denied", "said no")
    tokens = signin.is_authorized("s1")
    assert not tokens.is_authorized and tokens.error is not None and tokens.error["error"] == "access_denied"


def test_refresh_rotates_and_keeps_the_session(store: Store, provider: OidcProvider) -> None:
    define_web_client(store, provider, register_web_client(provider))
    clock = [datetime.now(UTC).timestamp()]
    signin = SignIn(store, "web", clock=lambda: clock[0])
    signed_in(signin, "s1", scope="openid profile")
    first = signin.is_authorized("s1")
    with store.session() as session:
        row = AccessToken.OpenForSession(session, "web", "s1")
        assert row is not None
        first_refresh = row.refresh_token
    clock[0] += 290  # inside the skew of a 300 s token: due for renewal, not expired
    second = signin.is_authorized("s1")
    assert second.is_authorized and second.access_token != first.access_token
    assert signin.validate_id_token(second.id_token or "")["sub"] == "alice"
    with store.session() as session:
        row = AccessToken.OpenForSession(session, "web", "s1")
        assert row is not None and row.refresh_token != first_refresh  # rotated, and the new one kept
    assert signin.is_authorized("s1", refresh=False).access_token == second.access_token


def test_userinfo_json_and_signed(store: Store, provider: OidcProvider) -> None:
    define_web_client(store, provider, register_web_client(provider), name="json")
    signed = register_web_client(provider, userinfo_signed_response_alg="RS256")
    define_web_client(store, provider, signed, name="signed", userinfo_signed_response_alg="RS256")
    browser = Browser()
    for name in ("json", "signed"):
        signin = SignIn(store, name)
        signed_in(signin, "s1", browser, scope="openid profile email")
        info = signin.get_userinfo("s1")
        assert (info["sub"], info["name"], info["email"]) == ("alice", "User alice", "alice@example.test")
        if name == "signed":
            assert info["iss"] == provider.issuer


def test_logout_revokes_and_removes_the_session(store: Store, provider: OidcProvider) -> None:
    define_web_client(store, provider, register_web_client(provider))
    signin = SignIn(store, "web")
    browser = signed_in(signin, "s1", scope="openid")
    access_token = signin.is_authorized("s1").access_token
    url = signin.logout_url("s1", "/bye")
    assert url is not None
    query = parse_qs(urlsplit(url).query)
    assert query["post_logout_redirect_uri"] == [POST_LOGOUT_URI] and query["id_token_hint"]
    answer = browser.log_out(url, POST_LOGOUT_URI)
    assert signin.handle_logout_callback(answer) == "/bye"
    assert rows(store) == []
    with store.session() as session:
        from oauth2store import Client

        client = Client.Open(session, "web")
        assert client is not None
        assert client.introspect(access_token or "")["active"] is False  # revoked at the server
    assert signin.logout_url("s1") is None


def test_revoke_token_remove_access_token_and_cleanup(store: Store, provider: OidcProvider) -> None:
    define_web_client(store, provider, register_web_client(provider))
    signin = SignIn(store, "web")
    browser = signed_in(signin, "s1", scope="openid")
    signed_in(signin, "s2", browser, scope="openid")
    refreshed = SignIn(store, "web", clock=lambda: datetime.now(UTC).timestamp() + 290)
    assert refreshed.is_authorized("s1").is_authorized  # a refresh: s1 has a renewal row now
    with store.engine.connect() as connection:
        assert connection.execute(text('SELECT COUNT(*) FROM "OAuth2_TokenRenewal"')).scalar_one() == 1
    assert signin.revoke_token("s1") and not signin.revoke_token("s1")
    assert signin.remove_access_token("s2") and not signin.remove_access_token("s2")
    signin.authorization_url("abandoned", scope="openid")
    later = SignIn(store, "web", clock=lambda: datetime.now(UTC).timestamp() + 601)
    assert later.cleanup() == 1
    assert rows(store) == []
    with store.engine.connect() as connection:  # no renewal row is left for sessions that are gone
        assert connection.execute(text('SELECT COUNT(*) FROM "OAuth2_TokenRenewal"')).scalar_one() == 0
    assert AccessToken.Cleanup.__doc__ and timedelta(minutes=10) == later.pending_lifetime

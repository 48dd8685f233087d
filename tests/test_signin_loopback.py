"""SignIn's `loopback_port` (RFC 8252 §7.3, what `oauth2store login` uses): the client's loopback redirect URI sent
with the port the native app listens on, used again for the code exchange, and refused for anything else."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from browserless_login import Browser
from oidc_provider import OidcProvider
from signin_setup import REDIRECT_URI, define_web_client, register_web_client
from sqlalchemy import func, select

from oauth2store import AccessToken, Client, ClientNotUsableError, Endpoint, SignIn, Store, ValidationError


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with OidcProvider(sign_in=True) as started:
        yield started


def redirect_uri(url: str) -> str:
    return parse_qs(urlsplit(url).query)["redirect_uri"][0]


def set_redirect(store: Store, url: str) -> None:
    with store.session() as session:
        client = Client.Open(session, "web")
        assert client is not None
        client.redirection_endpoint = Endpoint.parse(url)


def row_count(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(AccessToken)) or 0


def test_a_native_client_signs_in_on_the_port_it_listens_on(store: Store, provider: OidcProvider) -> None:
    registered = register_web_client(provider, "none", application_type="native")  # REDIRECT_URI, on port 9
    define_web_client(store, provider, registered)
    signin = SignIn(store, "web")
    request = signin.authorization_url("terminal", scope="openid", loopback_port=50123)
    assert redirect_uri(request.url) == "http://127.0.0.1:50123/callback"
    answer = Browser().sign_in(request.url, "http://127.0.0.1:50123/callback")  # any port: a native client
    signin.handle_callback(answer)  # the code is exchanged with the same redirect_uri
    assert signin.is_authorized("terminal", "openid").is_authorized
    assert redirect_uri(signin.authorization_url("web-page", scope="openid").url) == REDIRECT_URI


@pytest.mark.parametrize(
    ("registered", "sent"),
    [("http://[::1]/cb", "http://[::1]:8080/cb"), ("http://127.0.0.2:9/a/b", "http://127.0.0.2:8080/a/b")],
)
def test_the_registered_loopback_uri_keeps_its_address_and_path(
    store: Store, provider: OidcProvider, registered: str, sent: str
) -> None:
    define_web_client(store, provider, register_web_client(provider))
    set_redirect(store, registered)
    assert redirect_uri(SignIn(store, "web").authorization_url("s", loopback_port=8080).url) == sent


@pytest.mark.parametrize("registered", ["https://app.example/callback", "http://localhost/callback"])
def test_a_redirect_that_is_not_a_loopback_literal_is_refused(
    store: Store, provider: OidcProvider, registered: str
) -> None:
    define_web_client(store, provider, register_web_client(provider))
    set_redirect(store, registered)
    with pytest.raises(ClientNotUsableError, match="not a loopback one"):
        SignIn(store, "web").authorization_url("s", loopback_port=8080)
    assert row_count(store) == 0


@pytest.mark.parametrize("port", [0, 65536, -1, True, "8080", 8080.0])
def test_a_port_out_of_range_is_refused(store: Store, provider: OidcProvider, port: Any) -> None:
    define_web_client(store, provider, register_web_client(provider))
    with pytest.raises(ValidationError, match="loopback_port"):
        SignIn(store, "web").authorization_url("s", loopback_port=port)
    assert row_count(store) == 0

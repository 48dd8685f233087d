"""Endpoint: URL composition as IRIS's OAuth2.Endpoint does it, and parsing back."""

from __future__ import annotations

import pytest

from oauth2store import Endpoint, ValidationError


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        (Endpoint("webgw.localdomain", None, "myhost", True), "https://webgw.localdomain/myhost"),
        (Endpoint("webserver", 8080, "authserver/oauth2", False), "http://webserver:8080/authserver/oauth2"),
        (Endpoint("app.example.com"), "https://app.example.com"),
        (Endpoint("app.example.com", 443, "/cb/"), "https://app.example.com:443/cb"),
        (Endpoint("[::1]", 9000, "cb", False), "http://[::1]:9000/cb"),
    ],
)
def test_url(endpoint: Endpoint, url: str) -> None:
    assert endpoint.url == url
    assert Endpoint.parse(url).url == url


def test_parse() -> None:
    assert Endpoint.parse("http://127.0.0.1:8000/oauth2/callback") == Endpoint(
        "127.0.0.1", 8000, "oauth2/callback", False
    )


@pytest.mark.parametrize(
    "url", ["ftp://host/x", "https://", "https://host/cb?x=1", "https://host/cb#f", "host/cb", "https://host:99999/"]
)
def test_parse_refuses(url: str) -> None:
    with pytest.raises(ValidationError, match="url: must"):
        Endpoint.parse(url)

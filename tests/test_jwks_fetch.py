"""Fetching a server's JWKS: conditional requests, caching headers, and every fault refused."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from fault_server import FaultServer, Reply, fault_server
from oidc_provider import generate_rsa_jwk, public_jwk

from oauth2store.errors import JWKSError
from oauth2store.jwks import MAX_BYTES, fetch_jwks

NOW = 1_700_000_000.0
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with fault_server() as running:
        yield running


@pytest.fixture(scope="module")
def jwks() -> dict[str, object]:
    return {"keys": [public_jwk(generate_rsa_jwk("k1"))]}


def test_fetch_and_revalidate(server: FaultServer, jwks: dict[str, object]) -> None:
    headers = {**JSON, "ETag": '"v1"', "Cache-Control": "max-age=600"}
    url = server.reply("/jwks", Reply(body=json.dumps(jwks).encode(), headers=headers))
    with requests.Session() as session:
        fetched = fetch_jwks(session, url, etag=None, now=NOW)
        assert fetched.jwks == jwks and fetched.etag == '"v1"' and fetched.expires == int(NOW) + 600
        assert fetched.key_set is not None and "k1" in fetched.key_set
        server.reply("/jwks", Reply(304, headers={"ETag": '"v1"', "Cache-Control": "max-age=900"}))
        again = fetch_jwks(session, url, etag='"v1"', now=NOW)
    assert again.jwks is None and again.expires == int(NOW) + 900
    assert server.requests[-1][1].get("If-None-Match") == '"v1"'


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(500, b"oops"), "answered HTTP 500"),
        (Reply(200, b"<html>", {"Content-Type": "text/html"}), "content type 'text/html'"),
        (Reply(200, b"{not json", JSON), "is not JSON"),
        (Reply(200, b'{"keys": "none"}', JSON), "list of keys"),
        (Reply(200, b"x" * (MAX_BYTES + 1), JSON), "larger than"),
        (Reply(302, b"", {"Location": "https://evil.example.com/jwks"}), "redirects to https://evil.example.com"),
        (Reply(304, b""), "answered HTTP 304"),
    ],
)
def test_faults(server: FaultServer, reply: Reply, message: str) -> None:
    url = server.reply("/fault", reply)
    with requests.Session() as session, pytest.raises(JWKSError, match=message):
        fetch_jwks(session, url + "?secret=query", etag=None, now=NOW)


def test_private_keys_refused(server: FaultServer) -> None:
    url = server.reply("/private", Reply(body=json.dumps({"keys": [generate_rsa_jwk("p")]}).encode(), headers=JSON))
    with requests.Session() as session, pytest.raises(JWKSError, match="private key material"):
        fetch_jwks(session, url, etag=None, now=NOW)


def test_unbounded_body_without_length(server: FaultServer) -> None:
    url = server.reply("/chunked", Reply(body=b" " * (MAX_BYTES + 10), headers={**JSON, "Content-Length": "5"}))
    with requests.Session() as session, pytest.raises(JWKSError):
        fetch_jwks(session, url, etag=None, now=NOW)


def test_timeout_and_connection_refused(server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("oauth2store.jwks.TIMEOUT", (1.0, 0.3))
    url = server.reply("/slow", Reply(body=b"{}", headers=JSON, delay=1.0))
    with requests.Session() as session:
        with pytest.raises(JWKSError, match="could not be fetched: ReadTimeout"):
            fetch_jwks(session, url, etag=None, now=NOW)
        with pytest.raises(JWKSError, match="could not be fetched: ConnectionError"):
            fetch_jwks(session, "http://127.0.0.1:9/jwks", etag=None, now=NOW)

"""The JWKS state under faults (issue 11 point 6): stored in transactions of its own, so neither bad tokens nor
callers that roll back make the server be asked again; a failure is recorded and shared; the threads of a process
and processes share one refresh. Against local servers that count the requests they get."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from factories import generate_rsa_jwk, public_jwk
from jose import jwk, jws
from local_servers import LocalServer, Reply, Seen, serve

from oauth2store import Client, JWTValidationError, ServerDefinition, Store, generate_store_key
from oauth2store._http.values import RetryPolicy
from oauth2store._server_jwks import clear_parsed_key_sets

WORKER = Path(__file__).with_name("jwks_worker.py")
ROOT = Path(__file__).resolve().parent.parent
KEY = generate_rsa_jwk("k1")
IMPOSTOR = {**generate_rsa_jwk(), "kid": "k1"}  # the same kid, another key: its tokens fail the signature check
JWKS = {"keys": [public_jwk(KEY)]}
#: One fetch from an endpoint that keeps failing with a retryable status: the transport's attempts.
ONE_FAILED_FETCH = RetryPolicy().attempts


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    clear_parsed_key_sets()
    yield
    clear_parsed_key_sets()


@dataclass
class Endpoint:
    """The issuer's JWKS endpoint: its answer can change while it runs."""

    reply: Reply

    def handler(self, request: Seen) -> Reply:
        return self.reply


def answering(delay: float = 0.0) -> Reply:
    return Reply(200, JWKS, {"Content-Type": "application/json", "Cache-Control": "max-age=600"}, delay)


FAILING = Reply(503, "down", {"Retry-After": "0"})


def jwks_requests(server: LocalServer) -> int:
    return sum(1 for seen in server.seen if seen.path == "/jwks")


def token(issuer: str, key: dict[str, str] = KEY) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "aud": "api", "sub": "svc", "iat": now, "exp": now + 3 * 86_400}
    return jws.sign(claims, jwk.construct(key, "RS256").to_pem().decode(), algorithm="RS256", headers={"kid": "k1"})


def define(store: Store, issuer: str, *, jwks: dict[str, Any] | None, fetched_ago: float | None) -> None:
    """Client `api` of a server whose cached JWKS has just expired (fetched `fetched_ago` seconds ago, if ever)."""
    with store.session() as session:
        server = ServerDefinition(issuer_endpoint=issuer, public_jwks=jwks)
        server.server_metadata.token_endpoint = f"{issuer}/token"
        server.server_metadata.jwks_uri = f"{issuer}/jwks"
        server.server_metadata.grant_types_supported = ["client_credentials"]
        server.public_jwks_expires = int(time.time()) - 1
        if fetched_ago is not None:
            server.public_jwks_fetched = datetime.now(UTC) - timedelta(seconds=fetched_ago)
        client = Client(
            application_name="api", client_type="resource", client_id="api", client_secret="s", server_definition=server
        )
        session.add(client)


def validate(store: Store, token: str, **options: Any) -> str:
    """`sub` of a valid token, or the check that refused it; a refused token rolls the caller's session back."""
    try:
        with store.session() as session:
            client = Client.Open(session, "api")
            assert client is not None
            return str(client.validate_jwt(token, **options)["sub"])
    except JWTValidationError as error:
        return error.check


def stored_server(store: Store) -> ServerDefinition:
    with store.session() as session:
        client = Client.Open(session, "api")
        assert client is not None
        return client.server_definition


@pytest.fixture
def endpoint() -> Iterator[tuple[Endpoint, LocalServer]]:
    jwks_endpoint = Endpoint(answering())
    with serve(jwks_endpoint.handler) as server:
        yield jwks_endpoint, server


def test_bad_tokens_after_the_cached_set_expired_fetch_it_once(
    store: Store, endpoint: tuple[Endpoint, LocalServer]
) -> None:
    _jwks_endpoint, server = endpoint
    define(store, server.url, jwks=JWKS, fetched_ago=600)
    bad = token(server.url, IMPOSTOR)
    assert {validate(store, bad) for _ in range(200)} == {"signature"}
    assert jwks_requests(server) == 1  # the refresh was stored although every caller rolled back
    assert validate(store, token(server.url)) == "svc"
    assert jwks_requests(server) == 1
    assert stored_server(store).public_jwks_expires == pytest.approx(time.time() + 600, abs=60)


def test_a_failing_endpoint_is_asked_once_per_backoff(store: Store, endpoint: tuple[Endpoint, LocalServer]) -> None:
    jwks_endpoint, server = endpoint
    define(store, server.url, jwks=JWKS, fetched_ago=600)
    jwks_endpoint.reply = FAILING
    bad = token(server.url, IMPOSTOR)
    assert {validate(store, bad) for _ in range(20)} == {"signature"}  # the stale copy serves
    assert jwks_requests(server) == ONE_FAILED_FETCH
    assert validate(store, token(server.url)) == "svc"
    stored = stored_server(store)
    assert stored.public_jwks == JWKS and stored.public_jwks_expires is not None
    assert stored.public_jwks_expires > time.time()  # the failure is recorded: the next fetch is put off
    assert stored.public_jwks_fetched is not None and time.time() - stored.public_jwks_fetched.timestamp() > 600
    # Once the backoff is over, the endpoint is asked again.
    assert validate(store, bad, now=stored.public_jwks_expires + 1) == "signature"
    assert jwks_requests(server) == 2 * ONE_FAILED_FETCH


def test_without_a_copy_a_failing_endpoint_refuses_at_once(
    store: Store, endpoint: tuple[Endpoint, LocalServer]
) -> None:
    jwks_endpoint, server = endpoint
    define(store, server.url, jwks=None, fetched_ago=None)
    jwks_endpoint.reply = FAILING
    assert {validate(store, token(server.url)) for _ in range(20)} == {"jwks"}
    assert jwks_requests(server) == ONE_FAILED_FETCH
    with store.session() as session:
        client = Client.Open(session, "api")
        assert client is not None
        with pytest.raises(JWTValidationError, match=r"could not be fetched \(next attempt after"):
            client.validate_jwt(token(server.url))


def test_failures_do_not_stretch_the_stale_limit(store: Store, endpoint: tuple[Endpoint, LocalServer]) -> None:
    jwks_endpoint, server = endpoint
    define(store, server.url, jwks=JWKS, fetched_ago=24 * 3600 - 60)
    jwks_endpoint.reply = FAILING
    assert validate(store, token(server.url)) == "svc"  # a failed refresh: the copy is stale, but not too old
    # Later, within the recorded backoff: no fetch, and the copy is now too old to serve.
    with store.session() as session:
        client = Client.Open(session, "api")
        assert client is not None
        with pytest.raises(JWTValidationError, match="too old") as caught:
            client.validate_jwt(token(server.url), now=time.time() + 120)
    assert caught.value.check == "jwks"
    assert jwks_requests(server) == ONE_FAILED_FETCH


def test_threads_share_one_refresh(store: Store, endpoint: tuple[Endpoint, LocalServer]) -> None:
    jwks_endpoint, server = endpoint
    define(store, server.url, jwks=JWKS, fetched_ago=600)
    jwks_endpoint.reply = answering(delay=0.3)  # every thread arrives while the refresh is in flight
    good = token(server.url)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(validate(store, good))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == ["svc"] * 8
    assert jwks_requests(server) == 1


def test_processes_share_one_refresh(store: Store, endpoint: tuple[Endpoint, LocalServer]) -> None:
    jwks_endpoint, server = endpoint
    define(store, server.url, jwks=JWKS, fetched_ago=600)
    jwks_endpoint.reply = answering(delay=0.5)  # the other process starts while the refresh is in flight
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    url = store.url.render_as_string(hide_password=False)
    bad = token(server.url, IMPOSTOR)
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), url, bad, bad],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    for worker in workers:  # both have opened the store...
        assert worker.stdout is not None and worker.stdout.readline().strip() == "READY"
    for worker in workers:  # ...before either validates
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    for worker in workers:
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0
        assert json.loads(out) == ["signature", "signature"]
    assert jwks_requests(server) == 1


def test_a_caller_holding_the_write_lock_keeps_the_state_in_the_process(
    store: Store, endpoint: tuple[Endpoint, LocalServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    _jwks_endpoint, server = endpoint
    monkeypatch.setattr("oauth2store.models._jwks_state.LOCK_WAIT", 0.2)
    define(store, server.url, jwks=JWKS, fetched_ago=600)
    with store.session(write=True) as session:  # SQLite: BEGIN IMMEDIATE, so the state cannot be stored now
        client = Client.Open(session, "api")
        assert client is not None
        assert client.validate_jwt(token(server.url))["sub"] == "svc"
        assert not session.dirty
    assert {validate(store, token(server.url, IMPOSTOR)) for _ in range(5)} == {"signature"}
    assert jwks_requests(server) == 1


def test_an_in_memory_store_keeps_the_state_in_the_process(endpoint: tuple[Endpoint, LocalServer]) -> None:
    _jwks_endpoint, server = endpoint
    with Store("sqlite://", key=generate_store_key()) as store:  # one connection, the caller's: none to spare
        store.upgrade()
        define(store, server.url, jwks=JWKS, fetched_ago=600)
        assert {validate(store, token(server.url, IMPOSTOR)) for _ in range(50)} == {"signature"}
        assert validate(store, token(server.url)) == "svc"
    assert jwks_requests(server) == 1


def test_a_column_the_caller_changed_is_left_to_its_commit(
    store: Store, endpoint: tuple[Endpoint, LocalServer]
) -> None:
    _jwks_endpoint, server = endpoint
    define(store, server.url, jwks=JWKS, fetched_ago=600)
    with store.session() as session:
        client = Client.Open(session, "api")
        assert client is not None
        client.server_definition.public_jwks_etag = '"mine"'
        assert client.validate_jwt(token(server.url))["sub"] == "svc"
        assert client.server_definition.public_jwks_etag == '"mine"'
        assert client.server_definition.public_jwks_expires == pytest.approx(time.time() + 600, abs=60)
    assert stored_server(store).public_jwks_etag == '"mine"'

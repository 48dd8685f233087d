"""A signed-in session refreshed by many threads and processes at once, against a provider that rotates refresh
tokens and revokes the grant when a used one comes back: one refresh per expiry, never a lost rotation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from browserless_login import Browser
from oidc_provider import OidcProvider
from signin_setup import REDIRECT_URI, define_web_client, register_web_client

from oauth2store import AccessToken, SignIn, Store

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).with_name("signin_worker.py")
#: Access tokens live this long; a session's token is refreshed at half its life (the Skew's cap).
TTL = 6


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with OidcProvider(sign_in=True, ttl={"AccessToken": TTL, "ClientCredentials": 300}) as started:
        yield started


def sign_in(store: Store, provider: OidcProvider) -> tuple[SignIn, str]:
    """The client `web` with the session `shared` signed in; the client_id."""
    registered = register_web_client(provider)
    define_web_client(store, provider, registered)
    signin = SignIn(store, "web")
    url = signin.authorization_url("shared", scope="openid").url
    signin.handle_callback(Browser().sign_in(url, REDIRECT_URI))
    return signin, registered["client_id"]


def refresh_token(store: Store) -> str | None:
    with store.session() as session:
        row = AccessToken.OpenForSession(session, "web", "shared")
        return row.refresh_token if row is not None else None


def test_threads_share_one_refresh(store: Store, provider: OidcProvider) -> None:
    _, client_id = sign_in(store, provider)
    clock = [datetime.now(UTC).timestamp() + TTL / 2 + 0.5]  # due for renewal, not expired
    sharing = SignIn(store, "web", clock=lambda: clock[0])
    before = provider.token_requests()
    seen: list[str | None] = []

    def call() -> None:
        seen.append(sharing.is_authorized("shared").access_token)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert None not in seen and len(set(seen)) == 1
    assert provider.token_requests_since(before) == {client_id: 1}


def test_processes_refresh_once_per_expiry_and_never_lose_a_rotation(store: Store, provider: OidcProvider) -> None:
    """8 processes x 4 threads over about 4 token lifetimes: every call authorized (no invalid_grant, no grant
    revoked by a reused refresh token), one refresh per expiry, and each refresh's token handed out."""
    processes, threads, seconds = 8, 4, 4 * TTL
    signin, client_id = sign_in(store, provider)
    first = signin.is_authorized("shared").access_token
    before = provider.token_requests()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    url = store.engine.url.render_as_string(hide_password=False)
    args = [url, "web", "shared", str(threads), str(seconds)]
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for _ in range(processes)
    ]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "READY"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    results = []
    for worker in workers:
        out, _ = worker.communicate(timeout=seconds + 120)
        assert worker.returncode == 0
        results.append(json.loads(out))
    errors = [error for result in results for error in result["errors"]]
    assert errors == []
    assert all(result["calls"] > 0 for result in results)
    refreshes = provider.token_requests_since(before).get(client_id, 0)
    tokens = {token for result in results for token in result["tokens"]} - {first}
    # Every refresh made a token some call handed out, and no two refreshes answered one expiry: a token is
    # renewed at half its life, so a run of `seconds` needs at most seconds / (TTL / 2) + 1 of them.
    assert refreshes == len(tokens)
    assert 2 <= refreshes <= seconds / (TTL / 2) + 1
    assert signin.is_authorized("shared").is_authorized  # the grant is alive (refreshed again if due by now)
    assert refresh_token(store) is not None


def test_a_rotated_refresh_token_is_read_again_under_the_lease(store: Store, provider: OidcProvider) -> None:
    """A process that read the row before another one rotated the refresh token refreshes with the rotated one
    (read again once it holds the lease), never the copy it read first, which would revoke the grant."""
    signin, client_id = sign_in(store, provider)
    stale = signin._read("shared")
    assert stale is not None
    at = datetime.now(UTC).timestamp() + TTL / 2 + 0.5
    assert SignIn(store, "web", clock=lambda: at).is_authorized("shared").is_authorized  # the other process
    rotated = refresh_token(store)
    assert rotated is not None and rotated != stale.refresh_token
    later = SignIn(store, "web", clock=lambda: at + TTL / 2 + 0.5)  # the rotated access token is due as well
    reads = iter([stale])

    def read(session_id: str) -> object:
        return next(reads, None) or later._read(session_id)  # the stale copy first, then the store

    before = provider.token_requests()
    outcome = later._refresher.refresh("shared", read, later._ask_refresh)  # type: ignore[arg-type]
    assert outcome.error is None and outcome.stored is not None
    assert provider.token_requests_since(before) == {client_id: 1}
    assert refresh_token(store) not in (None, rotated, stale.refresh_token)
    # The grant is alive: had the first refresh token come back, the provider would have revoked it.
    again = SignIn(store, "web", clock=lambda: at + TTL + 1.5)
    assert again.is_authorized("shared").is_authorized
    assert provider.token_requests_since(before) == {client_id: 2}

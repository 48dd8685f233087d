"""SignIn against the loopback oidc-provider: the callback (state lookup, code exchange, ID-token validation,
storage) against a bare `requests.post` code exchange to the same token endpoint; `is_authorized` on a warm
session; and a session refreshed by 8 processes x 4 threads against refresh-token rotation (refreshes per expiry,
invalid_grant answers).

Run from the repository root: python bench/bench_signin.py [--url postgresql+psycopg://...] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browserless_login import Browser  # noqa: E402
from oidc_provider import OidcProvider  # noqa: E402
from signin_setup import REDIRECT_URI, SECRET, define_web_client, register_web_client  # noqa: E402

from oauth2store import SignIn, Store, generate_store_key  # noqa: E402

TTL = 6


def callback_against_bare_exchange(store: Store, provider: OidcProvider, rounds: int) -> None:
    registered = register_web_client(provider)
    define_web_client(store, provider, registered)
    signin = SignIn(store, "web")
    browser = Browser()
    ours, bare = [], []
    http = requests.Session()
    http.trust_env = False
    for index in range(rounds):
        answer = browser.sign_in(signin.authorization_url(f"s{index}", scope="openid").url, REDIRECT_URI)
        started = time.perf_counter()
        signin.handle_callback(answer)
        ours.append(time.perf_counter() - started)
        query = {"response_type": "code", "client_id": registered["client_id"], "redirect_uri": REDIRECT_URI,
                 "scope": "openid", "state": secrets.token_urlsafe(16)}  # fmt: skip
        code = browser.sign_in(f"{provider.issuer}/auth?{urlencode(query)}", REDIRECT_URI)["code"]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
        started = time.perf_counter()
        response = http.post(provider.token_endpoint, data=form, auth=(registered["client_id"], SECRET), timeout=10)
        bare.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    mine, theirs = statistics.median(ours) * 1000, statistics.median(bare) * 1000
    print(f"callback (median of {rounds}): handle_callback {mine:.1f} ms, bare requests.post code exchange "
          f"{theirs:.1f} ms ({mine / theirs:.1f}x)")  # fmt: skip

    warm = 1000  # well within half the token's life: no refresh among them
    signin.handle_callback(browser.sign_in(signin.authorization_url("warm", scope="openid").url, REDIRECT_URI))
    signin.is_authorized("warm")
    started = time.perf_counter()
    for _ in range(warm):
        signin.is_authorized("warm")
    per_call = (time.perf_counter() - started) / warm * 1e6
    print(f"is_authorized on a warm session ({warm} calls): {per_call:.0f} us per call")


def shared_refresh(url: str, provider: OidcProvider, processes: int = 8, threads: int = 4) -> None:
    with Store(url) as store:
        registered = register_web_client(provider)
        define_web_client(store, provider, registered, name="shared")
        signin = SignIn(store, "shared")
        signin.handle_callback(Browser().sign_in(signin.authorization_url("shared", scope="openid").url, REDIRECT_URI))
    seconds = 4 * TTL
    before = provider.token_requests().get(registered["client_id"], 0)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    worker = ROOT / "tests" / "signin_worker.py"
    args = [url, "shared", "shared", str(threads), str(seconds)]
    workers = [subprocess.Popen([sys.executable, str(worker), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, env=env) for _ in range(processes)]  # fmt: skip
    for each in workers:
        assert each.stdout is not None and each.stdout.readline().strip() == "READY"
    for each in workers:
        assert each.stdin is not None
        each.stdin.write("go\n")
        each.stdin.flush()
    results = [json.loads(each.communicate(timeout=seconds + 120)[0]) for each in workers]
    refreshes = provider.token_requests().get(registered["client_id"], 0) - before
    errors = [error for result in results for error in result["errors"]]
    invalid_grant = sum("invalid_grant" in error for error in errors)
    calls = sum(result["calls"] for result in results)
    distinct = len({token for result in results for token in result["tokens"]})
    print(f"shared refresh: {processes} processes x {threads} threads, {calls} is_authorized calls over {seconds} s "
          f"(access tokens live {TTL} s, refreshed at half life): {refreshes} refreshes (at most "
          f"{seconds // (TTL // 2) + 1} expiries), {distinct} distinct access tokens served, {len(errors)} errors, "
          f"{invalid_grant} invalid_grant")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="a store URL (default: a new SQLite file)")
    parser.add_argument("--rounds", type=int, default=15)
    options = parser.parse_args()
    os.environ.setdefault("OAUTH2STORE_KEY", generate_store_key())
    ttl = {"AccessToken": TTL, "ClientCredentials": 300}
    with OidcProvider(sign_in=True, ttl=ttl) as provider, tempfile.TemporaryDirectory() as directory:
        url = options.url or f"sqlite:///{directory}/bench.db"
        with Store(url) as store:
            store.upgrade()
            callback_against_bare_exchange(store, provider, options.rounds)
        shared_refresh(url, provider)


if __name__ == "__main__":
    main()

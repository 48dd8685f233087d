"""AgentClient.get_access_token: warm in-process hit, cold process cache with the token in the store, against a bare
client-credentials request to the same loopback oidc-provider; and single flight (token requests per lifetime).

Run from the repository root: python bench/bench_agent.py [--url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from oidc_provider import OidcProvider  # noqa: E402

from oauth2store import AgentClient, Client, ServerDefinition, Skew, Store, generate_store_key  # noqa: E402
from oauth2store._token_cache import process_cache  # noqa: E402

SECRET = "bench-secret"


def per_call(function: object, n: int) -> float:
    call = function  # a local name is faster to look up
    started = time.perf_counter()
    for _ in range(n):
        call()  # type: ignore[operator]
    return (time.perf_counter() - started) / n


def setup(url: str, issuer: str) -> Store:
    store = Store(url)
    store.upgrade()
    with store.session() as session:
        server = ServerDefinition.discover(session, issuer)
        client = Client(application_name="bench", client_type="confidential", client_id="bench",
                        client_secret=SECRET, server_definition=server)  # fmt: skip
        client.client_metadata.grant_types = ["client_credentials"]
        session.add(client)
    return store


def single_flight(url: str, op: OidcProvider, processes: int = 8, calls: int = 200) -> None:
    op.reset_stats()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    worker = ROOT / "tests" / "agent_worker.py"
    args = [url, "bench", str(calls), "0.05", "1.0"]
    workers = [subprocess.Popen([sys.executable, str(worker), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, env=env, cwd=ROOT) for _ in range(processes)]  # fmt: skip
    for process in workers:
        assert process.stdout is not None and process.stdout.readline().strip() == "READY"
    for process in workers:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    results = [json.loads(process.communicate(timeout=300)[0]) for process in workers]
    elapsed = max(r["end"] for r in results) - min(r["begin"] for r in results)
    requests_made = op.stats()["token_requests"].get("bench", 0)
    periods = math.ceil(elapsed / 3.0)
    expired = sum(r["expired"] for r in results)
    print(f"single flight: {processes} processes x {calls} calls over {elapsed:.1f} s (token ttl 4 s, skew 1 s): "
          f"{requests_made} token requests for {periods} renewal periods "
          f"({requests_made / periods:.2f} per lifetime), {expired} expired tokens returned")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="store URL (default: a temporary SQLite file)")
    parser.add_argument("--skip-flight", action="store_true")
    options = parser.parse_args()
    # The store encrypts tokens; the worker processes of the single-flight run need the same key.
    os.environ.setdefault("OAUTH2STORE_KEY", generate_store_key())
    with (
        tempfile.TemporaryDirectory() as directory,
        OidcProvider(
            clients=[{"client_id": "bench", "client_secret": SECRET}], ttl={"ClientCredentials": 4, "AccessToken": 4}
        ) as op,
    ):
        url = options.url or f"sqlite:///{directory}/bench.db"
        store = setup(url, op.issuer)
        agent = AgentClient(store, "bench", skew=Skew(fixed=1))
        agent.get_access_token()

        # A 4 s token: measure in short bursts, each right after a renewal.
        warm = min(per_call(agent.get_access_token, 100_000) for _ in range(5) if agent.get_access_token())

        cache = process_cache(store.engine)

        def cold() -> str:
            cache.entries.clear()
            return agent.get_access_token()

        cold_time = min(per_call(cold, 500) for _ in range(3) if agent.get_access_token())

        session = requests.Session()
        session.trust_env = False

        def bare() -> None:
            response = session.post(op.token_endpoint, data={"grant_type": "client_credentials"},
                                    auth=("bench", SECRET), timeout=10)  # fmt: skip
            response.raise_for_status()

        bare_time = per_call(bare, 100)

        print(f"store: {store.url.get_backend_name()}")
        print(f"warm in-process hit:          {warm * 1e6:8.2f} us/call (aim < 2 us)")
        print(f"cold process cache, in store: {cold_time * 1e6:8.2f} us/call (aim < 100 us)")
        print(f"bare token request (requests.post to loopback oidc-provider): {bare_time * 1e6:8.0f} us/call")
        print(f"ratios: bare/warm = {bare_time / warm:,.0f}x, bare/cold = {bare_time / cold_time:,.1f}x, "
              f"cold/warm = {cold_time / warm:,.0f}x")  # fmt: skip
        if not options.skip_flight:
            single_flight(url, op)
        if options.url:
            store.downgrade("base")  # leave the database as it was
        store.close()


if __name__ == "__main__":
    main()

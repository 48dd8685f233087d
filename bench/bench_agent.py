"""AgentClient.get_access_token: warm in-process hit, cold process cache with the token in the store, against a bare
client-credentials request to the same loopback oidc-provider; single flight (token requests per lifetime); and the
token path under faults: requests per lifetime with the server slowed to 2 s, the longest wait of an unrelated
writer of the store while a renewal waits 5 s on the server, and the time to a token after a renewer is SIGKILLed.

Run from the repository root: python bench/bench_agent.py [--url postgresql+psycopg://...] [--faults-only]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from local_servers import Reply, Seen, serve  # noqa: E402
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


class SlowTokens:
    """A loopback token endpoint answering after `delay` seconds (0: at once); counts requests."""

    def __init__(self, lifetime: int) -> None:
        self.lifetime = lifetime
        self.delay = 0.0
        self.requests = 0
        self.lock = threading.Lock()

    def answer(self, request: Seen) -> Reply:
        with self.lock:
            self.requests += 1
        body = {"access_token": uuid.uuid4().hex, "token_type": "Bearer", "expires_in": self.lifetime}
        return Reply(200, body, delay=self.delay)


def add_client(store: Store, name: str, token_endpoint: str) -> None:
    with store.session() as session:
        issuer = token_endpoint.rsplit("/", 1)[0]
        server = ServerDefinition.OpenByIssuer(session, issuer)
        if server is None:
            server = ServerDefinition(issuer_endpoint=issuer)
            server.server_metadata.issuer = issuer
            server.server_metadata.token_endpoint = token_endpoint
            server.server_metadata.grant_types_supported = ["client_credentials"]
        client = Client(application_name=name, client_type="confidential", client_id=name, client_secret=SECRET,
                        server_definition=server)  # fmt: skip
        client.client_metadata.grant_types = ["client_credentials"]
        session.add(client)


_WRITER = """
import json, sys, time
from oauth2store import Client, Store
store = Store(sys.argv[1])
waits = []
ends = time.monotonic() + float(sys.argv[2])
i = 0
while time.monotonic() < ends:
    started = time.monotonic()
    try:
        with store.session(write=True) as session:
            Client.Open(session, "bystander").description = f"edit {i}"
        waits.append(time.monotonic() - started)
    except Exception as exc:
        waits.append(-1.0)
    i += 1
    time.sleep(0.2)
print(json.dumps(waits))
"""

_RENEWER = """
import sys
from oauth2store import AgentClient, Store
AgentClient(Store(sys.argv[1]), "slow").get_access_token()
"""


def faults(url: str) -> None:
    """The fault figures (each on its own clients of the store at `url`)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    tokens = SlowTokens(lifetime=4)
    with serve(tokens.answer) as server:
        store = Store(url)
        add_client(store, "slow", f"{server.url}/token")
        add_client(store, "bystander", f"{server.url}/token")

        # Requests per lifetime with every answer 2 s late: 8 processes x 100 calls, 4 s tokens renewed 1 s early.
        tokens.delay = 2.0
        worker = ROOT / "tests" / "agent_worker.py"
        workers = [subprocess.Popen([sys.executable, str(worker), url, "slow", "100", "0.05", "1.0"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
                   for _ in range(8)]  # fmt: skip
        for process in workers:
            assert process.stdout is not None and process.stdout.readline().strip() == "READY"
        for process in workers:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        results = [json.loads(process.communicate(timeout=300)[0]) for process in workers]
        elapsed = max(r["end"] for r in results) - min(r["begin"] for r in results)
        periods = math.ceil(elapsed / 3.0)
        print(f"server slowed to 2 s: {tokens.requests} token requests for {periods} renewal periods "
              f"({tokens.requests / periods:.2f} per lifetime), {sum(r['expired'] for r in results)} expired tokens, "
              f"slowest call {max(r['slowest'] for r in results):.2f} s")  # fmt: skip

        # The longest wait of an unrelated writer while a renewal waits 5 s on the server.
        tokens.delay = 5.0
        with store.session() as session:
            Client.Open(session, "slow").description = "a new definition: the next call renews"  # type: ignore[union-attr]
        agent = AgentClient(store, "slow")
        renewal = threading.Thread(target=agent.get_access_token)
        before = tokens.requests
        renewal.start()
        while tokens.requests == before:
            time.sleep(0.01)
        writer = subprocess.run([sys.executable, "-c", _WRITER, url, "4"], capture_output=True, text=True, env=env)
        renewal.join()
        waits = json.loads(writer.stdout or "[]")
        failed = sum(1 for wait in waits if wait < 0)
        longest = max((wait for wait in waits if wait >= 0), default=float("nan"))
        print(f"unrelated writer during a 5 s renewal: {len(waits)} writes, {failed} failed, "
              f"longest wait {longest * 1000:.0f} ms")  # fmt: skip

        # Time to a token after the renewer is SIGKILLed mid-request.
        tokens.delay = 30.0
        with store.session() as session:
            Client.Open(session, "slow").description = "again"  # type: ignore[union-attr]
        before = tokens.requests
        renewer = subprocess.Popen([sys.executable, "-c", _RENEWER, url], env=env, cwd=ROOT)
        while tokens.requests == before:
            time.sleep(0.01)
        os.kill(renewer.pid, signal.SIGKILL)
        renewer.wait()
        tokens.delay = 0.0
        killed = time.monotonic()
        AgentClient(store, "slow").get_access_token()
        print(f"after a renewer is SIGKILLed mid-request: a token in {(time.monotonic() - killed) * 1000:.0f} ms")
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="store URL (default: a temporary SQLite file)")
    parser.add_argument("--skip-flight", action="store_true")
    parser.add_argument("--skip-faults", action="store_true")
    parser.add_argument("--faults-only", action="store_true")
    options = parser.parse_args()
    # The store encrypts tokens; the worker processes of the single-flight run need the same key.
    os.environ.setdefault("OAUTH2STORE_KEY", generate_store_key())
    if options.faults_only:
        with tempfile.TemporaryDirectory() as directory:
            url = options.url or f"sqlite:///{directory}/bench.db"
            Store(url).upgrade()
            faults(url)
            if options.url:
                Store(url).downgrade("base")
        return
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
        print(f"warm in-process hit:          {warm * 1e6:8.2f} us/call (aim < 1 us)")
        print(f"cold process cache, in store: {cold_time * 1e6:8.2f} us/call (aim < 50 us on SQLite)")
        print(f"bare token request (requests.post to loopback oidc-provider): {bare_time * 1e6:8.0f} us/call")
        print(f"ratios: bare/warm = {bare_time / warm:,.0f}x, bare/cold = {bare_time / cold_time:,.1f}x, "
              f"cold/warm = {cold_time / warm:,.0f}x")  # fmt: skip
        if not options.skip_flight:
            single_flight(url, op)
        if not options.skip_faults:
            faults(url)
        if options.url:
            store.downgrade("base")  # leave the database as it was
        store.close()


if __name__ == "__main__":
    main()

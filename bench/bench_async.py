"""AsyncAgentClient: the async warm hit against the sync one, and what 1,000 tasks waiting on one renewal cost the
event loop (its largest stall, measured by a ticker task) and the server (token requests), with the loopback
oidc-provider and with a token endpoint answering in 200 ms; beside them, the stall when the sync agent is called on
the loop, which blocks it for the renewal, and asyncio's own floor for 1,000 tasks awaiting one thread.

Run from the repository root: python bench/bench_async.py [--url postgresql+psycopg://...] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from bench_agent import SlowTokens, add_client  # noqa: E402
from local_servers import serve  # noqa: E402
from oidc_provider import OidcProvider  # noqa: E402

from oauth2store import AgentClient, AsyncAgentClient, Client, ServerDefinition, Store, generate_store_key  # noqa: E402

SECRET = "bench-secret"
TASKS = 1_000


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


def sync_per_call(agent: AgentClient, n: int) -> float:
    call = agent.get_access_token
    started = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - started) / n


async def async_per_call(agent: AsyncAgentClient, n: int) -> float:
    call = agent.get_access_token
    started = time.perf_counter()
    for _ in range(n):
        await call()
    return (time.perf_counter() - started) / n


async def stalled(renew: Callable[[], Awaitable[object]]) -> float:
    """The loop's largest gap between two ticks of a ticker task while `renew` runs in TASKS tasks at once."""
    gaps: list[float] = []
    done = False

    async def ticker() -> None:
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    await asyncio.gather(*(renew() for _ in range(TASKS)))
    done = True
    await ticking
    return max(gaps)


async def main_async(store: Store, op: OidcProvider, rounds: int) -> None:
    sync_agent = AgentClient(store, "bench")
    agent = await AsyncAgentClient.open(store, "bench")
    await agent.get_access_token()
    # Interleaved rounds: the machine's load moves both alike.
    sync_times, async_times = [], []
    for _ in range(rounds):
        sync_times.append(sync_per_call(sync_agent, 200_000))
        async_times.append(await async_per_call(agent, 200_000))
    warm_sync, warm_async = min(sync_times), min(async_times)
    print(f"store: {store.url.get_backend_name()}")
    print(f"warm hit, sync  get_access_token():       {warm_sync * 1e6:6.3f} us/call")
    print(f"warm hit, async await get_access_token(): {warm_async * 1e6:6.3f} us/call "
          f"({warm_async / warm_sync:.2f}x the sync one; aim <= 1.5x)")  # fmt: skip

    await renewals("the loopback oidc-provider", store, "bench", lambda: op.token_requests().get("bench", 0), rounds)
    tokens = SlowTokens(lifetime=600)
    tokens.delay = 0.2
    with serve(tokens.answer) as slow:
        add_client(store, "slow", f"{slow.url}/token")
        await renewals("a token endpoint answering in 200 ms", store, "slow", lambda: tokens.requests, rounds)

    # The floor: what scheduling TASKS tasks that all await one thread's result costs the loop, with no agent.
    floor = []
    for _ in range(rounds):
        shared: asyncio.Future[None] | None = None

        async def bare() -> None:
            nonlocal shared
            if shared is None:
                shared = asyncio.ensure_future(asyncio.to_thread(time.sleep, 0.02))
            await asyncio.shield(shared)

        floor.append(await stalled(bare))
    print(f"{TASKS} tasks awaiting one 20 ms thread, no agent (asyncio's own floor): largest loop stall median "
          f"{statistics.median(floor) * 1e3:.1f} ms (max {max(floor) * 1e3:.1f} ms)")  # fmt: skip


async def renewals(server: str, store: Store, name: str, requested: Callable[[], int], rounds: int) -> None:
    """The loop's largest stall while TASKS tasks wait on one renewal, through the async agent and, for comparison,
    through the sync agent called on the loop (which blocks it for the whole renewal); token requests per renewal."""
    agent = await AsyncAgentClient.open(store, name)
    sync_agent = agent.agent

    async def renewed() -> None:
        await agent.get_access_token()

    async def blocking() -> None:
        sync_agent.get_access_token()  # what not to do

    for label, renew in (("AsyncAgentClient", renewed), ("sync AgentClient on the loop", blocking)):
        stalls, counts = [], []
        for _ in range(rounds):
            await agent.invalidate(await agent.get_token())  # the next call renews
            before = requested()
            stalls.append(await stalled(renew))
            counts.append(requested() - before)
        print(f"{TASKS} tasks on one renewal from {server}, {label}: largest loop stall median "
              f"{statistics.median(stalls) * 1e3:.1f} ms (max {max(stalls) * 1e3:.1f} ms), "
              f"token requests per renewal {sorted(set(counts))}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="store URL (default: a temporary SQLite file)")
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    os.environ.setdefault("OAUTH2STORE_KEY", generate_store_key())
    with (
        tempfile.TemporaryDirectory() as directory,
        OidcProvider(clients=[{"client_id": "bench", "client_secret": SECRET}]) as op,
    ):
        url = options.url or f"sqlite:///{directory}/bench.db"
        store = setup(url, op.issuer)
        asyncio.run(main_async(store, op, options.rounds))
        if options.url:
            store.downgrade("base")  # leave the database as it was
        store.close()


if __name__ == "__main__":
    main()

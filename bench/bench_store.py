"""Client.Open and Client.List on a large store, as ratios against baselines measured in the same process.

    python bench/bench_store.py [--clients 100000] [--lookups 5000] [--url sqlite:///...]

- Open: `Client.Open` against a bare `session.get(Client, ...)` (aim: within 1.3x) and a raw sqlite3
  primary-key select of the same row (for scale: the ORM also loads metadata and server in the same query).
- List: peak Python memory (tracemalloc) while streaming every row, against materializing them all.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from oauth2store import Client, ClientMetadata, ServerDefinition, Store
from oauth2store._encryption.cipher import Binding
from oauth2store._encryption.columns import Bound


def populate(store: Store, count: int) -> None:
    """Bulk-insert `count` valid clients (Core inserts: validation per row would time the setup, not the reads)."""
    with store.session() as db:
        server = ServerDefinition(issuer_endpoint="https://as.example.com")
        server.server_metadata.authorization_endpoint = "https://as.example.com/authorize"
        server.server_metadata.token_endpoint = "https://as.example.com/token"
        db.add(server)
        db.flush()
        server_id = server.id
    template = Client(application_name="template", client_type="confidential")
    defaults = {key: getattr(template, key) for _, (key, _r) in Client.property_rules().items()}
    metadata_defaults = {
        key: getattr(template.client_metadata, key) for _, (key, _r) in ClientMetadata.property_rules().items()
    }
    batch = 10_000
    with Session(store.engine) as session, session.begin():  # ORM bulk INSERT: attribute names, no flush events
        for start in range(0, count, batch):
            names = [f"app-{i:07d}" for i in range(start, min(start + batch, count))]
            session.execute(
                insert(Client),
                [
                    {
                        **defaults,
                        "application_name": n,
                        "client_id": n,
                        "client_secret": Bound("s", Binding("OAuth2_Client", "ClientSecret", (n,))),
                        "default_scope": "api",
                        "server_definition_id": server_id,
                    }
                    for n in names
                ],
            )
            session.execute(insert(ClientMetadata), [{**metadata_defaults, "application_name": n} for n in names])


def per_call(fn: Callable[[str], object], names: list[str], session: Session | None) -> float:
    """Seconds per call, over every name, emptying the identity map every 500 calls so each call hits the DB."""
    started = time.perf_counter()
    for i, name in enumerate(names):
        fn(name)
        if session is not None and i % 500 == 499:
            session.expunge_all()
    return (time.perf_counter() - started) / len(names)


def bench_open(store: Store, count: int, lookups: int) -> None:
    names = [f"app-{i:07d}" for i in random.Random(7).sample(range(count), lookups)]
    with Session(store.engine) as session:
        per_call(lambda n: session.get(Client, n), names[:500], session)  # warm caches
        bare_runs, open_runs = [], []
        for _ in range(3):  # interleaved rounds, best of each: the machine's noise hits both alike
            session.expunge_all()
            bare_runs.append(per_call(lambda n: session.get(Client, n), names, session))
            session.expunge_all()
            open_runs.append(per_call(lambda n: Client.Open(session, n), names, session))
        bare, opened = min(bare_runs), min(open_runs)
    print(f"Client.Open            {opened * 1e6:8.1f} us/call")
    print(f"session.get (baseline) {bare * 1e6:8.1f} us/call   Open / get = {opened / bare:.2f}x  (aim <= 1.3x)")
    if store.url.get_backend_name() == "sqlite":
        raw = sqlite3.connect(str(store.url.database))
        query = 'SELECT * FROM "OAuth2_Client" WHERE "ApplicationName" = ?'
        raw_time = per_call(lambda n: raw.execute(query, (n,)).fetchone(), names, None)
        raw.close()
        print(f"raw sqlite3 PK select  {raw_time * 1e6:8.1f} us/call   Open / raw = {opened / raw_time:.1f}x")


def peak_memory(fn: Callable[[], int]) -> tuple[int, int]:
    tracemalloc.start()
    rows = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return rows, peak


def bench_list(store: Store) -> None:
    with Session(store.engine) as session:
        streamed, stream_peak = peak_memory(lambda: sum(1 for _ in Client.List(session)))
        tenth = Client.List(session).statement.limit(max(1, streamed // 10))
        small, small_peak = peak_memory(
            lambda: sum(1 for _ in session.execute(tenth.execution_options(yield_per=1000)))
        )
        listed, list_peak = peak_memory(lambda: len(Client.List(session).all()))
        started = time.perf_counter()
        sum(1 for _ in Client.List(session))
        elapsed = time.perf_counter() - started
    print(f"Client.List streamed   {streamed} rows, peak {stream_peak / 1e6:6.2f} MB, {elapsed:.2f} s")
    print(f"  a tenth of the rows  {small} rows, peak {small_peak / 1e6:6.2f} MB   (constant memory: about equal)")
    print(f"  .all() (baseline)    {listed} rows, peak {list_peak / 1e6:6.2f} MB   streamed / all = "
          f"{stream_peak / list_peak:.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=5_000)
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        with Store(url) as store:
            store.upgrade()
            started = time.perf_counter()
            populate(store, args.clients)
            print(f"{store!r}: {args.clients} clients inserted in {time.perf_counter() - started:.1f} s")
            bench_open(store, args.clients, args.lookups)
            bench_list(store)
            if args.url:
                store.downgrade("base")


if __name__ == "__main__":
    main()

"""Scale and start-up, as ratios against floors measured in the same run (never an assertion on time).

    python bench/bench_scale.py [--quick] [--postgres URL] [--no-sqlite]

- import of N and 10 N clients with secrets (`import_document`, checked whole, bulk INSERTs) against a bare
  SQLAlchemy Core INSERT of the same rows with the same encryption (aim: within 3x; the per-client cost at 10 N
  within 1.3x of the cost at N);
- export of 10 N clients (`write_document`): peak Python memory against an export of N (constant memory), and time
  against a Core select of the same rows plus `json.dumps` of each (aim: within 3x);
- `Client.List` streamed over 10 N clients: peak memory against streaming N;
- `Client.Open` against a Core primary-key select of the same client row (aim: within 2x);
- the checks of a flush of 10 N' new clients against N' (linear: the same cost per client);
- start-up, each against `python -c pass` and `python -c "import sqlalchemy"` in the same run: `import oauth2store`
  (aim: under 0.2 s), a fresh process's first `get_access_token` with the token in the store (aim: under 10 ms after
  the import), and the whole `oauth2store token APP` (aim: under 0.3 s). Needs Node.js for the loopback provider.

N is 10,000 (`--quick`: 200) and N' is 1,000 (`--quick`: 100). SQLite runs in a temporary directory; PostgreSQL in
a schema of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from sqlalchemy import create_engine, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from oauth2store import (  # noqa: E402
    Client,
    ClientMetadata,
    ServerDefinition,
    Store,
    generate_store_key,
    import_document,
)
from oauth2store._documents import write_document  # noqa: E402
from oauth2store._encryption.cipher import Binding  # noqa: E402
from oauth2store._encryption.columns import Bound, unseal_value  # noqa: E402
from oauth2store.models._flush import _check_saved, flush_index  # noqa: E402

ISSUER = "https://as.example.com"
os.environ.setdefault("OAUTH2STORE_KEY", generate_store_key())  # the subprocesses use the same key


def document(count: int) -> dict[str, Any]:
    """One server and `count` confidential clients, each with its own id and secret (so each is encrypted)."""
    server = {
        "issuer_endpoint": ISSUER,
        "metadata": {
            "issuer": ISSUER,
            "token_endpoint": f"{ISSUER}/token",
            "grant_types_supported": ["client_credentials"],
        },
    }
    clients = [
        {
            "application_name": f"app-{i:07d}",
            "client_type": "confidential",
            "client_id": f"id-{i}",
            "client_secret": f"secret-{i}",
            "server": ISSUER,
            "default_scope": "api",
            "metadata": {"grant_types": ["client_credentials"]},
        }
        for i in range(count)
    ]
    return {"format": "oauth2store/1", "servers": [server], "clients": clients}


@contextmanager
def empty_store(backend: str, postgres: str | None) -> Iterator[Store]:
    """A migrated, empty store: a SQLite file in a temporary directory, or a PostgreSQL schema of its own."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory, Store(f"sqlite:///{directory}/bench.db") as store:
            store.upgrade()
            yield store
        return
    assert postgres is not None
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(postgres).update_query_dict({"options": f"-csearch_path={schema}"})
        with Store(url) as store:
            store.upgrade()
            yield store
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def core_rows(count: int, server_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows an import of `document(count)` writes, by column name, each secret bound to its row."""
    template = Client(application_name="template", client_type="confidential")
    template.client_metadata.grant_types = ["client_credentials"]
    template.normalize()
    client_columns = {attr.key: attr.columns[0].name for attr in Client.__mapper__.column_attrs}
    metadata_columns = {attr.key: attr.columns[0].name for attr in ClientMetadata.__mapper__.column_attrs}
    client_defaults = {client_columns[k]: v for k, v in template.__dict__.items() if k in client_columns}
    metadata_defaults = {
        metadata_columns[k]: v for k, v in template.client_metadata.__dict__.items() if k in metadata_columns
    }
    clients, metadata = [], []
    for i in range(count):
        name = f"app-{i:07d}"
        secret = Bound(f"secret-{i}", Binding("OAuth2_Client", "ClientSecret", (name,)))
        clients.append({**client_defaults, "ApplicationName": name, "ClientId": f"id-{i}", "ClientSecret": secret,
                        "DefaultScope": "api", "ServerDefinition": server_id})  # fmt: skip
        metadata.append({**metadata_defaults, "ApplicationName": name})
    return clients, metadata


def bench_import(backend: str, postgres: str | None, count: int) -> tuple[float, float]:
    """(seconds of the import, seconds of the Core floor) for `count` clients."""
    doc = document(count)
    with empty_store(backend, postgres) as store, store.session() as session:
        imported = timed(lambda: import_document(session, doc))
    with empty_store(backend, postgres) as store:
        with store.session() as session:
            server = ServerDefinition(issuer_endpoint=ISSUER)
            server.server_metadata.token_endpoint = f"{ISSUER}/token"
            server.server_metadata.grant_types_supported = ["client_credentials"]
            session.add(server)
            session.flush()
            server_id = server.id

        def core() -> None:
            clients, metadata = core_rows(count, server_id)
            with store.engine.begin() as connection:
                for start in range(0, count, 1000):
                    connection.execute(insert(Client.__table__), clients[start : start + 1000])
                    connection.execute(insert(ClientMetadata.__table__), metadata[start : start + 1000])

        floor = timed(core)
    return imported, floor


def peak(function: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


class Sink:
    """Where an export goes: counts the characters, keeps nothing."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, part: str) -> None:
        self.size += len(part)


def export(store: Store) -> None:
    with store.session() as session:
        write_document(session, Sink().write, include_secrets=True)


def core_export(store: Store) -> None:
    """The floor: every client joined with its metadata by a Core select, the secret opened, one json.dumps each."""
    client, metadata = Client.__table__, ClientMetadata.__table__
    sink = Sink()
    statement = select(client, metadata).join(metadata, metadata.c.ApplicationName == client.c.ApplicationName)
    with store.engine.connect() as connection:
        dialect = connection.dialect
        rows = connection.execution_options(yield_per=1000).execute(statement.order_by(client.c.ApplicationName))
        for row in rows:
            values = dict(row._mapping)
            name = values["ApplicationName"]
            values["ClientSecret"] = unseal_value(
                dialect, "OAuth2_Client", "ClientSecret", [name], values["ClientSecret"]
            )
            sink.write(json.dumps(values, default=str, indent=2))


def list_all(store: Store) -> None:
    with store.session() as session:
        for _row in Client.List(session):
            pass


def bench_open(store: Store, count: int, lookups: int = 2000) -> tuple[float, float]:
    names = [f"app-{(i * 7919) % count:07d}" for i in range(lookups)]
    table = Client.__table__

    def opened() -> None:
        with Session(store.engine) as session:
            for name in names:
                Client.Open(session, name)
                session.expunge_all()  # every Open reads the database

    def core() -> None:
        with store.engine.connect() as connection:
            for name in names:
                connection.execute(select(table).where(table.c.ApplicationName == name)).first()

    opened()
    core()  # warm the statement caches
    return min(timed(opened) for _ in range(3)) / lookups, min(timed(core) for _ in range(3)) / lookups


def bench_flush_checks(store: Store, count: int) -> float:
    """Seconds per client of the checks before a flush of `count` new clients (nothing is written)."""
    with Session(store.engine) as session:
        server = session.scalars(select(ServerDefinition)).first()
        assert server is not None
        saved: list[object] = []
        for i in range(count):
            client = Client(application_name=f"flush-{i:07d}", client_type="confidential", client_id=f"f-{i}",
                            client_secret="s", server_definition=server)  # fmt: skip
            client.client_metadata.grant_types = ["client_credentials"]
            session.add(client)
            saved += [client, client.client_metadata]
        with session.no_autoflush:
            started = time.perf_counter()
            with flush_index(session, saved):
                _check_saved(session, saved)
            elapsed = time.perf_counter() - started
        session.rollback()
    return elapsed / count


def run_scale(backend: str, postgres: str | None, quick: bool) -> None:
    small = 200 if quick else 10_000
    large = small * 10
    print(f"== {backend}: import, export, Open, flush checks (N = {small:,}) ==")
    results = {}
    for count in (small, large):
        imported, floor = bench_import(backend, postgres, count)
        results[count] = imported
        print(f"import {count:>7,} clients  {imported:7.2f} s  Core INSERT floor {floor:6.2f} s  "
              f"ratio {imported / floor:5.1f}x (aim <= 3x)  {imported / count * 1e3:6.3f} ms/client")  # fmt: skip
    growth = (results[large] / large) / (results[small] / small)
    print(f"per-client cost at {large:,} / at {small:,}: {growth:.2f}x (aim <= 1.3x)")
    with empty_store(backend, postgres) as store:
        with store.session() as session:
            import_document(session, document(large))
        exported = min(timed(lambda: export(store)) for _ in range(2))
        floor = min(timed(lambda: core_export(store)) for _ in range(2))
        print(f"export {large:>7,} clients  {exported:7.2f} s  Core select + json.dumps {floor:6.2f} s  "
              f"ratio {exported / floor:5.1f}x (aim <= 3x)")  # fmt: skip
        export_peak = peak(lambda: export(store))
        list_peak = peak(lambda: list_all(store))
        opened, core = bench_open(store, large)
        print(f"Client.Open {opened * 1e6:7.1f} us  Core primary-key select {core * 1e6:7.1f} us  "
              f"ratio {opened / core:4.1f}x (aim <= 2x)")  # fmt: skip
        few = 100 if quick else 1000
        checks_small = bench_flush_checks(store, few)
        checks_large = bench_flush_checks(store, few * 10)
        print(f"flush checks {few * 10:,} new clients / {few:,}, per client: {checks_large / checks_small:.2f}x "
              f"(linear: about 1x; {checks_small * 1e6:.0f} us/client)")  # fmt: skip
    with empty_store(backend, postgres) as store:
        with store.session() as session:
            import_document(session, document(small))
        small_export_peak = peak(lambda: export(store))
        small_list_peak = peak(lambda: list_all(store))
    print(f"export peak memory {export_peak / 1e6:6.2f} MB at {large:,} clients, {small_export_peak / 1e6:6.2f} MB "
          f"at {small:,}: {export_peak / small_export_peak:.2f}x (constant: about 1x)")  # fmt: skip
    print(f"Client.List peak memory {list_peak / 1e6:6.2f} MB at {large:,}, {small_list_peak / 1e6:6.2f} MB "
          f"at {small:,}: {list_peak / small_list_peak:.2f}x (constant: about 1x)")  # fmt: skip


def best_wall(command: list[str], runs: int = 5, env: dict[str, str] | None = None) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env, cwd=ROOT)
        best = min(best, time.perf_counter() - started)
    return best


FIRST_TOKEN = """
import json, sys, time
started = time.perf_counter()
from oauth2store import AgentClient, Store
imported = time.perf_counter()
with Store(sys.argv[1]) as store:
    AgentClient(store, "bench").get_access_token()
print(json.dumps([imported - started, time.perf_counter() - imported]))
"""


def run_startup(quick: bool) -> None:
    print("== start-up (best of 5 fresh processes) ==")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    python = sys.executable
    bare = best_wall([python, "-c", "pass"], env=env)
    alchemy = best_wall([python, "-c", "import sqlalchemy"], env=env)
    library = best_wall([python, "-c", "import oauth2store"], env=env)
    print(f"python -c pass {bare * 1e3:6.0f} ms   import sqlalchemy {alchemy * 1e3:6.0f} ms   import oauth2store "
          f"{library * 1e3:6.0f} ms (aim < 200 ms; {library / alchemy:.2f}x import sqlalchemy)")  # fmt: skip
    try:
        from oidc_provider import OidcProvider
    except ImportError as error:
        print(f"first token: skipped ({error})")
        return
    secret = "bench-secret"
    with tempfile.TemporaryDirectory() as directory:
        try:
            provider = OidcProvider(clients=[{"client_id": "bench", "client_secret": secret}])
            provider.__enter__()
        except Exception as error:  # no Node.js: say so, measure the rest
            print(f"first token: skipped, the loopback provider did not start ({type(error).__name__})")
            return
        try:
            url = f"sqlite:///{directory}/startup.db"
            with Store(url) as store:
                store.upgrade()
                from oauth2store import AgentClient

                with store.session() as session:
                    server = ServerDefinition.discover(session, provider.issuer)
                    client = Client(application_name="bench", client_type="confidential", client_id="bench",
                                    client_secret=secret, server_definition=server)  # fmt: skip
                    client.client_metadata.grant_types = ["client_credentials"]
                    session.add(client)
                AgentClient(store, "bench").get_access_token()  # the token is now in the store
            firsts = []
            for _ in range(5):
                out = subprocess.run([python, "-c", FIRST_TOKEN, url], check=True, capture_output=True, text=True,
                                     env=env, cwd=ROOT).stdout  # fmt: skip
                firsts.append(json.loads(out))
            import_part, token_part = min(firsts, key=lambda pair: pair[0] + pair[1])
            print(f"first get_access_token from the store: {token_part * 1e3:6.1f} ms after an import of "
                  f"{import_part * 1e3:.0f} ms (aim < 10 ms after the import)")  # fmt: skip
            command = best_wall([python, "-m", "oauth2store", "--db", url, "token", "bench"], env=env)
            print(f"oauth2store token bench {command * 1e3:6.0f} ms wall (aim < 300 ms; {command - bare:.3f} s "
                  f"over python -c pass, {command / alchemy:.2f}x import sqlalchemy)")  # fmt: skip
        finally:
            with suppress(Exception):
                provider.__exit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--postgres", metavar="URL", help="also run on PostgreSQL (a schema of its own, dropped)")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite (with --postgres)")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up measurements")
    options = parser.parse_args()
    if not options.no_sqlite:
        run_scale("sqlite", None, options.quick)
    if options.postgres:
        run_scale("postgresql", options.postgres, options.quick)
    if not options.no_startup:
        run_startup(options.quick)


if __name__ == "__main__":
    main()

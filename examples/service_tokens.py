"""Service tokens for a pool of workers, from a client defined in the application's own SQLAlchemy session.

    OAUTH2STORE_EXAMPLE_CLIENT_SECRET=... python examples/service_tokens.py ISSUER CLIENT_ID [DATABASE_URL]

ISSUER is an authorization server that lets CLIENT_ID use the client credentials grant with that secret
(client_secret_basic); tests/test_examples.py runs this against the loopback oidc-provider of tests/oidc.
DATABASE_URL defaults to a SQLite file in a temporary directory.

What it shows:
1. oauth2store's tables live in the application's database: migrate them once (`Store.upgrade`, the same alembic
   revisions `oauth2store db upgrade` runs), then use the models in the application's own engine and session.
2. The server is defined by discovery, so its endpoints come from the server, not from configuration.
3. Workers in several processes, each with several threads, ask for a token at once: the store is the shared
   token cache, renewals are single flight, so the server sees one token request and every worker gets that token.
"""

from __future__ import annotations

import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from oauth2store import AgentClient, Client, ServerDefinition, Store, generate_store_key, register_store_key

APPLICATION = "orders-worker"
PROCESSES, THREADS = 3, 4


def define_client(url: str, key: str, issuer: str, client_id: str, client_secret: str) -> None:
    """The application's own code: its engine, its session, its transaction."""
    engine = create_engine(url)
    register_store_key(engine, key)  # the secret columns of this engine are encrypted with the application's key
    with Session(engine) as session, session.begin():
        server = ServerDefinition.discover(session, issuer)  # fetch and store the server's metadata
        client = Client.Open(session, APPLICATION) or Client(application_name=APPLICATION)
        client.client_type = "confidential"
        client.client_id = client_id
        client.client_secret = client_secret
        client.server_definition = server
        client.client_metadata.grant_types = ["client_credentials"]  # a service: never redirected
        session.add(client)  # validated when the session flushes, like any oauth2store object
    engine.dispose()


def worker_process(url: str, key: str) -> list[str]:
    """One worker process: its own Store and agent, several threads asking for the token at the same moment."""
    with Store(url, key=key) as store:
        agent = AgentClient(store, APPLICATION)
        with ThreadPoolExecutor(THREADS) as threads:
            return list(threads.map(lambda _: agent.get_access_token(), range(THREADS)))


def main() -> None:
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    issuer, client_id = sys.argv[1], sys.argv[2]
    client_secret = os.environ.get("OAUTH2STORE_EXAMPLE_CLIENT_SECRET")
    if not client_secret:
        sys.exit("set OAUTH2STORE_EXAMPLE_CLIENT_SECRET (a secret never goes on the command line)")
    directory = tempfile.mkdtemp(prefix="oauth2store-example-")
    url = sys.argv[3] if len(sys.argv) == 4 else f"sqlite:///{Path(directory) / 'app.db'}"
    # An application keeps its key in its own configuration (a secret manager, $OAUTH2STORE_KEY, ...).
    key = os.environ.get("OAUTH2STORE_KEY") or generate_store_key()

    with Store(url, key=key) as store:
        store.upgrade()  # once, at deployment: the same alembic revisions `oauth2store db upgrade` runs
    define_client(url, key, issuer, client_id, client_secret)
    print(f"defined {APPLICATION} for {issuer} in the application's own session")

    # spawn: each worker is a fresh interpreter, as in a real deployment (no state inherited from this process).
    with ProcessPoolExecutor(PROCESSES, mp_context=get_context("spawn")) as pool:
        results = [future.result() for future in [pool.submit(worker_process, url, key) for _ in range(PROCESSES)]]
    tokens = [token for batch in results for token in batch]
    print(f"{len(tokens)} workers in {PROCESSES} processes x {THREADS} threads got {len(set(tokens))} distinct token")


if __name__ == "__main__":
    main()

"""An asyncio service calling a protected API through httpx, with tokens from the store.

    OAUTH2STORE_EXAMPLE_CLIENT_SECRET=... python examples/async_service.py API_URL CLIENT_ID [DATABASE_URL]

API_URL is a protected resource that publishes its RFC 9728 metadata; its authorization server lets CLIENT_ID use
the client credentials grant with that secret. tests/test_examples.py runs this against a loopback API whose
authorization server is the oidc-provider of tests/oidc. Needs httpx (`pip install 'oauth2store[httpx]'`).

What it shows:
1. The API says which authorization server issues its tokens (`discover_resource`): that server is discovered and
   stored once, and the client is defined on it.
2. `AsyncAgentClient` with `TokenAuth`: every request of the service carries a token; the tasks that start together
   share one token request, whose I/O runs off the event loop; a token the API refuses as invalid is renewed once.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

import httpx

from oauth2store import AsyncAgentClient, Client, Store, discover_resource
from oauth2store.httpx_auth import TokenAuth

APPLICATION = "orders-service"
TASKS = 20


def define_client(store: Store, api: str, client_id: str, client_secret: str) -> str:
    """At deployment: the client, on the server the API names. Returns that server's issuer."""
    with store.session() as session:
        found = discover_resource(session, api)
        client = Client.Open(session, APPLICATION) or Client(application_name=APPLICATION)
        client.client_type = "confidential"
        client.client_id = client_id
        client.client_secret = client_secret
        client.server_definition = found.server
        client.client_metadata.grant_types = ["client_credentials"]
        session.add(client)
        return found.server.issuer_endpoint


async def serve(store: Store, api: str) -> None:
    """The service: many tasks calling the API at once."""
    agent = await AsyncAgentClient.open(store, APPLICATION)  # reads the store off the loop
    async with httpx.AsyncClient(auth=TokenAuth(agent), timeout=30) as http:
        answers = await asyncio.gather(*(http.get(f"{api}/orders/{n}") for n in range(TASKS)))
    statuses = sorted({answer.status_code for answer in answers})
    tokens = {answer.request.headers["Authorization"] for answer in answers}
    print(f"{TASKS} requests from {TASKS} tasks: HTTP {statuses}, {len(tokens)} distinct token")


def main() -> None:
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    api, client_id = sys.argv[1], sys.argv[2]
    client_secret = os.environ.get("OAUTH2STORE_EXAMPLE_CLIENT_SECRET")
    if not client_secret:
        sys.exit("set OAUTH2STORE_EXAMPLE_CLIENT_SECRET (a secret never goes on the command line)")
    url = sys.argv[3] if len(sys.argv) == 4 else f"sqlite:///{Path(tempfile.mkdtemp()) / 'service.db'}"
    with Store(url) as store:
        store.upgrade()
        issuer = define_client(store, api, client_id, client_secret)
        print(f"the API's tokens come from {issuer}; {APPLICATION} is defined there")
        asyncio.run(serve(store, api))


if __name__ == "__main__":
    main()

"""The whole story of a store in a minute, on the embedded SQLite default (or $OAUTH2STORE_URL).

    python examples/quickstart.py

Creates (or reuses) a server definition and a client, shows the clear error an invalid client gets, lists the
clients the way IRIS's management portal does (List / ListForServer), and deletes a scratch client with DeleteId.
Safe to run again: it updates what it created the first time.
"""

from __future__ import annotations

from oauth2store import Client, Endpoint, ServerDefinition, Store, ValidationError

ISSUER = "https://login.example.com"


def main() -> None:
    store = Store()  # $OAUTH2STORE_URL, else ~/.local/share/oauth2store/oauth2store.db
    store.upgrade()  # create or migrate the schema (alembic, shipped inside the package)
    print(f"store: {store!r} at schema revision {store.current_revision()}")

    with store.session() as db:
        server = ServerDefinition.OpenByIssuer(db, ISSUER)
        if server is None:
            server = ServerDefinition(issuer_endpoint=ISSUER)
            db.add(server)
        server.server_metadata.issuer = ISSUER
        server.server_metadata.authorization_endpoint = f"{ISSUER}/authorize"
        server.server_metadata.token_endpoint = f"{ISSUER}/oauth2/token"
        server.server_metadata.grant_types_supported = ["authorization_code", "client_credentials"]

        client = Client.Open(db, "orders-service") or Client(application_name="orders-service")
        client.client_type = "confidential"
        client.client_id = "orders"
        client.client_secret = "change-me"
        client.default_scope = "orders:read orders:write"
        client.server_definition = server
        client.client_metadata.grant_types = ["client_credentials"]  # a service: never redirected, so no endpoint
        db.add(client)

        web = Client.Open(db, "orders-web") or Client(application_name="orders-web")
        web.client_type = "public"
        web.client_id = "orders-web"
        web.server_definition = server
        web.redirection_endpoint = Endpoint.parse("https://orders.example.com/oauth2/callback")
        web.client_metadata.token_endpoint_auth_method = "none"
        db.add(web)

    print("\nan invalid client is refused, with every problem named:")
    try:
        with store.session() as db:
            db.add(Client(application_name="x" * 129, client_type="agent", jwt_interval=0,
                          server_definition=ServerDefinition.OpenByIssuer(db, ISSUER)))  # fmt: skip
    except ValidationError as error:
        for problem in error.problems:
            print(f"  {problem}")

    with store.session() as db:
        scratch = Client(application_name="scratch", client_type="resource", client_id="scratch")
        scratch.client_secret = "scratch-secret"
        scratch.server_definition = ServerDefinition.OpenByIssuer(db, ISSUER)
        db.add(scratch)

    with store.session() as db:
        print("\nClient.List:")
        for row in Client.List(db):
            print(f"  {row.application_name:<16} {row.client_type:<13} {row.default_scope or ''}")
        server = ServerDefinition.OpenByIssuer(db, ISSUER)
        assert server is not None
        print(f"ServerDefinition.List: {[tuple(row) for row in ServerDefinition.List(db)]}")
        names = [row.application_name for row in Client.ListForServer(db, server.id)]
        print(f"Client.ListForServer({server.id}): {names}")
        Client.DeleteId(db, "scratch")
        print(f"after Client.DeleteId('scratch'): {[row.application_name for row in Client.List(db)]}")
        opened = Client.Open(db, "orders-web")
        assert opened is not None and opened.redirection_endpoint is not None
        print(f"orders-web redirects to {opened.redirection_endpoint.url}; JWT audience {opened.jwt_audience}")
    store.close()


if __name__ == "__main__":
    main()

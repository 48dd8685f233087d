"""Copy every definition from one database to another, e.g. from the embedded SQLite default to PostgreSQL.

    python examples/migrate_store.py [--target URL] [SOURCE_URL]
    python examples/migrate_store.py --target postgresql+psycopg://user@host/db     # demo source -> PostgreSQL

Without SOURCE_URL a demo source (SQLite, in a temporary directory) is filled with a server and two clients, one
with a key pair; without --target the copy goes to another SQLite file there. Each store finds its key as usual
(`$OAUTH2STORE_KEY`, else the key file beside a SQLite database); the two may differ, since the secrets travel
decrypted, in memory only.

The same as `oauth2store --db SOURCE export --include-secrets | oauth2store --db TARGET import -`, as a library:
the document names everything by its natural key (issuer, application name), never by database ID, so it moves
between backends unchanged; the import is checked whole before anything is written and commits all or nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from sqlalchemy import select

from oauth2store import Client, Endpoint, ServerDefinition, Store
from oauth2store._documents import export_document, import_document


def fill_demo_source(store: Store) -> None:
    with store.session(write=True) as db:
        server = ServerDefinition(issuer_endpoint="https://login.example.com")
        server.server_metadata.token_endpoint = "https://login.example.com/token"
        server.server_metadata.authorization_endpoint = "https://login.example.com/authorize"
        db.add(server)
        service = Client(application_name="orders-service", client_type="confidential", client_id="orders",
                         server_definition=server)  # fmt: skip
        service.client_metadata.grant_types = ["client_credentials"]
        service.client_metadata.token_endpoint_auth_method = "private_key_jwt"
        db.add(service)
        service.RotateKeys()  # a key pair: it must travel too, or the server would stop accepting the client
        web = Client(application_name="orders-web", client_type="public", client_id="orders-web",
                     server_definition=server,
                     redirection_endpoint=Endpoint.parse("https://orders.example.com/callback"))  # fmt: skip
        web.client_metadata.token_endpoint_auth_method = "none"
        db.add(web)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", metavar="SOURCE_URL", help="default: a demo SQLite store")
    parser.add_argument("--target", metavar="URL", help="default: a new SQLite file")
    options = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="oauth2store-migrate-"))
    source_url = options.source or f"sqlite:///{directory / 'source.db'}"
    target_url = options.target or f"sqlite:///{directory / 'target.db'}"
    with Store(source_url) as source, Store(target_url) as target:
        if options.source is None:
            source.upgrade()
            fill_demo_source(source)
        target.upgrade()  # the target's schema at this version's revision (a no-op when it already is)

        with source.session() as db:
            document = export_document(db, include_secrets=True)
        with target.session(write=True) as db:  # one transaction: all of it, or (on any problem) nothing
            report = import_document(db, document)
        print(f"{source!r} -> {target!r}: {report.summary()}")

        with target.session() as db:  # the copy is the same document, keys included
            same = export_document(db, include_secrets=True) == document
            for client in db.scalars(select(Client).order_by(Client.application_name)):
                print(f"  {client.application_name:<16} {client.client_type:<13} {len(client.keys)} key pair(s)")
        print(f"target exports the same document as the source: {same}")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()

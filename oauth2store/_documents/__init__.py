"""Export and import of a store as one JSON document, for scripted migrations between databases.

The document names everything by its natural key (configuration names, issuers, application names), never by
database IDs, so it moves between SQLite and PostgreSQL unchanged. Secrets are left out unless asked for; a
client's key pairs (`keys`) are secrets too (each holds its private JWK), so they travel only with the secrets. The
public JWKS a client publishes is in its metadata (`jwks`) either way.
Importing validates the whole document before anything is written and reports every problem at once; the caller's
transaction makes it all-or-nothing.

`format` is the document's vocabulary, `key_pairs` a client key pair's form in both directions, `export` writes
documents and `importer` reads them (`rows` writes its new clients in bulk); the two directions never import each
other (the "documents" contract in pyproject.toml). The CLI and scripts use both, so the document API is
re-exported here.
"""

from .export import client_document as client_document
from .export import export_document as export_document
from .export import server_document as server_document
from .export import write_document as write_document
from .format import FORMAT as FORMAT
from .importer import ImportReport as ImportReport
from .importer import import_document as import_document

__all__ = [
    "FORMAT",
    "ImportReport",
    "client_document",
    "export_document",
    "import_document",
    "server_document",
    "write_document",
]

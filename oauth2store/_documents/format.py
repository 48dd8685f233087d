"""The export document's vocabulary: its format name, its sections, and which properties never appear in it.

Both directions read these: the export writes only what the import accepts, and the import refuses anything else
(a misspelt property is a problem, never ignored).
"""

from __future__ import annotations

FORMAT = "oauth2store/1"
#: Derived from the client metadata (the deprecated IRIS properties); never part of a document.
DERIVED = frozenset({"authentication_type", "signing_algorithm", "encryption_algorithm", "key_algorithm"})
#: Stored by reference, written by the document's own structure.
STRUCTURAL = frozenset({"issuer_endpoint", "application_name", "name", "alias"})

#: The lists of an export document, in the order they are written (each names only objects of earlier ones).
SECTIONS = ("ssl_configurations", "x509_credentials", "servers", "clients")
#: The top-level members of an export document.
DOCUMENT_MEMBERS = frozenset({"format", "secrets_included", *SECTIONS})
#: The members of one client key pair in a document.
KEY_MEMBERS = frozenset({"kid", "use", "alg", "private_jwk", "public_jwk", "created", "active_from", "retention"})

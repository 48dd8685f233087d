"""Export: a store as one JSON document, every object named by its natural key, secrets only when asked for.

Objects are written in key order (TLS configurations, X.509 credentials, server definitions, clients), so two
exports of one store are equal. `write_document` streams the clients a page at a time (keyset paging), so an
export of 100,000 clients needs no more memory than one of 500. A client's key pairs are secrets (each holds its
private JWK): they travel only with the secrets; the public JWKS a client publishes is in its metadata either way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..models import Client, ClientKey, ServerDefinition, SSLConfiguration, X509Credentials
from ..models._validated import Validated
from .format import DERIVED, FORMAT, SECTIONS
from .key_pairs import key_document

#: Clients read per query while exporting.
PAGE = 500


def properties(obj: Validated, *, include_secrets: bool) -> dict[str, Any]:
    """The IRIS properties of `obj` that have a value, by Python name; secrets only when asked for."""
    values: dict[str, Any] = {}
    for name, (key, rules) in type(obj).property_rules().items():
        if name in DERIVED or (rules.secret and not include_secrets):
            continue
        value = getattr(obj, key)
        if value is not None:
            values[name] = value
    return values


def client_document(client: Client, *, include_secrets: bool = False) -> dict[str, Any]:
    """One client as the document carries it: its properties, server issuer, redirect URL and metadata."""
    document = properties(client, include_secrets=include_secrets)
    document["server"] = client.server_definition.issuer_endpoint
    if client.redirection_endpoint is not None:
        document["redirection_endpoint"] = client.redirection_endpoint.url
    document["metadata"] = properties(client.client_metadata, include_secrets=include_secrets)
    if include_secrets and client.keys:
        document["keys"] = [key_document(k) for k in sorted(client.keys, key=ClientKey._order)]
    return document


def server_document(server: ServerDefinition, *, include_secrets: bool = False) -> dict[str, Any]:
    """One server definition as the document carries it."""
    document = properties(server, include_secrets=include_secrets)
    document["metadata"] = properties(server.server_metadata, include_secrets=include_secrets)
    return document


def export_document(session: Session, *, include_secrets: bool = False) -> dict[str, Any]:
    """The whole store as one dict: TLS configurations, X.509 credentials, server definitions and clients, in key
    order. It holds the whole store in memory; `write_document` writes the same document a client at a time."""
    document: dict[str, Any] = {"format": FORMAT, "secrets_included": include_secrets}
    for section in SECTIONS:
        document[section] = list(section_items(session, section, include_secrets=include_secrets))
    return document


def write_document(session: Session, write: Callable[[str], object], *, include_secrets: bool = False) -> None:
    """Write the export document as JSON text, a part at a time, in constant memory however many clients the store
    holds: exactly the text of `json.dumps(export_document(...), indent=2)`."""
    write("{\n")
    write(f'  "format": {json.dumps(FORMAT)},\n  "secrets_included": {json.dumps(include_secrets)},\n')
    for number, section in enumerate(SECTIONS, start=1):
        write(f"  {json.dumps(section)}: ")
        empty = True
        for item in section_items(session, section, include_secrets=include_secrets):
            write("[\n    " if empty else ",\n    ")
            write(json.dumps(item, indent=2).replace("\n", "\n    "))  # JSON strings hold no raw newline
            empty = False
        write("[]" if empty else "\n  ]")
        write(",\n" if number < len(SECTIONS) else "\n")
    write("}")


def section_items(session: Session, section: str, *, include_secrets: bool) -> Iterator[dict[str, Any]]:
    """The documents of one section, in key order; clients a page at a time (keyset paging by name)."""
    secrets = include_secrets
    if section == "ssl_configurations":
        for configuration in _ordered(session, SSLConfiguration, SSLConfiguration.name):
            yield properties(configuration, include_secrets=secrets)
    elif section == "x509_credentials":
        for credentials in _ordered(session, X509Credentials, X509Credentials.alias):
            yield properties(credentials, include_secrets=secrets)
    elif section == "servers":
        for server in _ordered(session, ServerDefinition, ServerDefinition.issuer_endpoint):
            yield server_document(server, include_secrets=secrets)
    else:
        yield from _clients(session, include_secrets=secrets)


def _ordered(session: Session, model: Any, key: Any) -> list[Any]:
    return list(session.scalars(select(model).order_by(key)))


def _clients(session: Session, *, include_secrets: bool) -> Iterator[dict[str, Any]]:
    """Every client's document by name, PAGE clients per query: a page's objects are dropped (the session holds
    loaded objects weakly) before the next is read, so memory does not grow with the store."""
    last: str | None = None
    while True:
        query = select(Client).order_by(Client.application_name).limit(PAGE)
        if last is not None:
            query = query.where(Client.application_name > last)
        if include_secrets:
            query = query.options(selectinload(Client.keys))
        page = list(session.scalars(query))
        if not page:
            return
        last = page[-1].application_name
        documents = [client_document(client, include_secrets=include_secrets) for client in page]
        del page
        yield from documents

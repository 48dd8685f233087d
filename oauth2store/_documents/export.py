"""Export: a store as one JSON document, every object named by its natural key, secrets only when asked for.

Objects are written in key order (TLS configurations, X.509 credentials, server definitions, clients), so two
exports of one store are equal. A client's key pairs are secrets (each holds its private JWK): they travel only
with the secrets; the public JWKS a client publishes is in its metadata either way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Client, ClientKey, ServerDefinition, SSLConfiguration, X509Credentials
from ..models._validated import Validated
from .format import DERIVED, FORMAT
from .key_pairs import key_document


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
    """The whole store: TLS configurations, X.509 credentials, server definitions and clients, in key order."""

    def ordered(model: Any, key: Any) -> list[Any]:
        return list(session.scalars(select(model).order_by(key)))

    secrets = include_secrets
    return {
        "format": FORMAT,
        "secrets_included": include_secrets,
        "ssl_configurations": [
            properties(c, include_secrets=secrets) for c in ordered(SSLConfiguration, SSLConfiguration.name)
        ],
        "x509_credentials": [
            properties(c, include_secrets=secrets) for c in ordered(X509Credentials, X509Credentials.alias)
        ],
        "servers": [
            server_document(s, include_secrets=secrets)
            for s in ordered(ServerDefinition, ServerDefinition.issuer_endpoint)
        ],
        "clients": [client_document(c, include_secrets=secrets) for c in ordered(Client, Client.application_name)],
    }

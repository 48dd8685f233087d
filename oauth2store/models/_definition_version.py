"""Every change to a client definition gives the client a new `DefinitionVersion`, and its surviving tokens too.

Processes that hold a client's configuration (the agents of other processes) compare one small column instead of
the whole definition, at most every few seconds; a stored token records the version it was obtained under and is
handed out only while that is still the client's version. What changes a definition: the client's own columns, its
metadata, and the server definition (except its JWKS cache), server metadata, TLS configuration and X.509
credentials it uses. Stale tokens are deleted by the client's own rules (`_client_rules.stale_tokens`); the tokens
that survive a change are stamped with the new version in the same flush. Versions are random, not counters: two
racing writers never produce the same version, and a client deleted and created again never gets an old one.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, event, inspect, or_, select, update
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.attributes import set_committed_value

from .base import Base

#: The server definition's columns that are a cache of what the server publishes, not part of the definition.
_SERVER_CACHE_COLUMNS = frozenset(
    {"public_jwks", "public_jwks_expires", "public_jwks_etag", "public_jwks_fetched", "server_credentials"}
)
#: The classes (by `kind`) whose rows are part of some client's definition.
_DEFINITION_KINDS = frozenset(
    {"Client", "ClientMetadata", "ServerDefinition", "ServerMetadata", "SSLConfiguration", "X509Credentials"}
)
_PENDING = "oauth2store.changed_definitions"
#: Keys per `IN (...)` (well under every backend's limit).
_CHUNK = 500


def new_definition_version() -> str:
    return secrets.token_hex(16)


class _Changed:
    """What one flush changes, by the key that leads to the clients it concerns."""

    def __init__(self) -> None:
        self.applications: set[str] = set()
        self.servers: set[int] = set()
        self.tls_configurations: set[str] = set()
        self.credentials: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self.applications or self.servers or self.tls_configurations or self.credentials)


def _modified_columns(obj: Any) -> set[str]:
    state = inspect(obj)
    return {attr.key for attr in state.attrs if attr.key in state.mapper.column_attrs and attr.history.has_changes()}


@event.listens_for(Session, "before_flush")
def _collect_changed_definitions(session: Session, flush_context: UOWTransaction, instances: object) -> None:
    changed = _Changed()
    for obj in session.dirty:
        kind = getattr(type(obj), "kind", None)
        if kind not in _DEFINITION_KINDS:
            continue
        columns = _modified_columns(obj)
        if kind == "ServerDefinition":
            columns -= _SERVER_CACHE_COLUMNS
        if not columns or columns == {"definition_version"}:
            continue
        if kind in ("Client", "ClientMetadata"):
            changed.applications.add(obj.application_name)
        elif kind == "ServerDefinition":
            changed.servers.add(obj.id)
        elif kind == "ServerMetadata":
            changed.servers.add(obj.server_definition_id)
        elif kind == "SSLConfiguration":
            changed.tls_configurations.add(obj.name)
        else:
            changed.credentials.add(obj.alias)
    if changed:
        session.info[_PENDING] = changed
    else:
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_flush")
def _write_definition_versions(session: Session, flush_context: UOWTransaction) -> None:
    changed: _Changed | None = session.info.pop(_PENDING, None)
    if not changed:
        return
    version = new_definition_version()
    connection = session.connection()
    clients = Base.metadata.tables["OAuth2_Client"]
    for condition in _conditions(connection, changed):
        connection.execute(update(clients).where(condition).values(DefinitionVersion=version))
    tokens = Base.metadata.tables["OAuth2_AccessToken"]
    stamped = select(clients.c.ApplicationName).where(clients.c.DefinitionVersion == version)
    connection.execute(update(tokens).where(tokens.c.ApplicationName.in_(stamped)).values(DefinitionVersion=version))
    for obj in session.identity_map.values():
        if getattr(type(obj), "kind", None) == "Client" and _concerns(obj, changed):
            # Set as loaded, not expired: a client read in a session is often used after the session ends.
            set_committed_value(obj, "definition_version", version)


def _concerns(client: Any, changed: _Changed) -> bool:
    """Whether the changes reach this loaded client (read from what it has loaded: no query in a flush)."""
    values = client.__dict__
    server = values.get("server_definition")
    server_values = server.__dict__ if server is not None else {}
    return (
        values.get("application_name") in changed.applications
        or values.get("server_definition_id") in changed.servers
        or values.get("ssl_configuration") in changed.tls_configurations
        or values.get("client_credentials") in changed.credentials
        or server_values.get("ssl_configuration") in changed.tls_configurations
        or server_values.get("server_credentials") in changed.credentials
    )


def _conditions(connection: Connection, changed: _Changed) -> Iterable[Any]:
    clients = Base.metadata.tables["OAuth2_Client"]
    servers = Base.metadata.tables["OAuth2_ServerDefinition"]
    for names in _chunks(changed.applications):
        yield clients.c.ApplicationName.in_(names)
    for ids in _chunks(changed.servers):
        yield clients.c.ServerDefinition.in_(ids)
    for names in _chunks(changed.tls_configurations):
        via_server = select(servers.c.ID).where(servers.c.SSLConfiguration.in_(names))
        yield or_(clients.c.SSLConfiguration.in_(names), clients.c.ServerDefinition.in_(via_server))
    for aliases in _chunks(changed.credentials):
        via_server = select(servers.c.ID).where(servers.c.ServerCredentials.in_(aliases))
        yield or_(clients.c.ClientCredentials.in_(aliases), clients.c.ServerDefinition.in_(via_server))


def _chunks(keys: set[Any]) -> Iterable[list[Any]]:
    ordered = sorted(keys, key=repr)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]

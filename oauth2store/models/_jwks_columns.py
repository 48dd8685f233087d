"""A ServerDefinition's JWKS columns as the `CachedJWKS` the protocol reads, and a refresh written back to them.

IRIS `ServerDefinition.RefreshJWKS`: only the definition's attributes change here, never the session; whoever calls
decides whether to flush (RefreshJWKS with `save`) or to leave it to the caller's commit (discovery). IRIS clears
`ServerCredentials` when the key set changes, and so does this. What validate_jwt refreshes is stored apart from the
caller's session (oauth2store.models._jwks_state) and only shown on the definition, as committed (`show_stored`).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect
from sqlalchemy.orm.attributes import set_committed_value

from .._cache_expiry import DEFAULT_POLICY, CachePolicy
from .._server_jwks import CachedJWKS, ServerJWKS, refresh_jwks

if TYPE_CHECKING:
    from .._http.transport import Transport
    from .server_definition import ServerDefinition


class _Columns:
    """The definition's JWKS columns, each read when asked for: validating a token reads three of them."""

    __slots__ = ("_server",)

    def __init__(self, server: ServerDefinition) -> None:
        self._server = server

    @property
    def jwks_uri(self) -> str | None:
        metadata = self._server.server_metadata
        return metadata.jwks_uri if metadata is not None else None

    @property
    def jwks(self) -> dict[str, Any] | None:
        return self._server.public_jwks

    @property
    def expires(self) -> int | None:
        return self._server.public_jwks_expires

    @property
    def etag(self) -> str | None:
        return self._server.public_jwks_etag

    @property
    def fetched(self) -> datetime | None:
        return self._server.public_jwks_fetched


def cached_jwks(server: ServerDefinition) -> CachedJWKS:
    """What the definition holds about its server's JWKS."""
    return _Columns(server)


def refresh_server_jwks(
    server: ServerDefinition,
    *,
    force: bool = False,
    transport: Transport,
    now: float | None = None,
    policy: CachePolicy = DEFAULT_POLICY,
) -> bool:
    """Fetch the server's JWKS when the cached one has expired (or `force`); True when the key set changed.

    Raises:
        JWKSError, TransportError, ProtocolError, InsecureEndpointError: nothing was changed.
    """
    moment = time.time() if now is None else now
    refreshed = refresh_jwks(cached_jwks(server), transport, force=force, now=moment, policy=policy)
    if refreshed is None:
        return False
    server.public_jwks_expires = refreshed.expires
    server.public_jwks_etag = refreshed.etag
    server.public_jwks_fetched = refreshed.fetched
    if refreshed.jwks == server.public_jwks:
        return False
    server.public_jwks = refreshed.jwks
    server.server_credentials = None
    return True


def show_stored(server: ServerDefinition, state: ServerJWKS) -> None:
    """Make the definition show the JWKS state a transaction of its own stored (or this process keeps).

    Set as committed values, so the caller's session has nothing to write: its commit can never put back an older
    state over a newer one that another process stored meanwhile. A column the caller changed itself is left alone
    (its commit decides).
    """
    values: dict[str, object] = {
        "public_jwks_expires": state.expires,
        "public_jwks_etag": state.etag,
        "public_jwks_fetched": state.fetched,
    }
    if state.jwks != server.public_jwks:
        values.update(public_jwks=state.jwks, server_credentials=None)
    attributes = inspect(server).attrs
    for name, value in values.items():
        if not attributes[name].history.has_changes():
            set_committed_value(server, name, value)

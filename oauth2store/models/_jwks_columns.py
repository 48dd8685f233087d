"""A ServerDefinition's JWKS columns as the `CachedJWKS` the protocol reads, and a refresh written back to them.

IRIS `ServerDefinition.RefreshJWKS`: only the definition's attributes change here, never the session; whoever calls
decides whether to flush (RefreshJWKS with `save`) or to leave it to the caller's commit (validate_jwt, discovery).
IRIS clears `ServerCredentials` when the key set changes, and so does this.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._cache_expiry import DEFAULT_POLICY, CachePolicy
from .._http.transport import Transport
from .._server_jwks import CachedJWKS, refresh_jwks

if TYPE_CHECKING:
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

"""An authorization server's public JWKS: fetched from its `jwks_uri`, cached on its definition (IRIS RefreshJWKS).

One GET per refresh through the server's TLS configuration, with `If-None-Match` when an ETag is known (transport
rules apply: https unless loopback, timeouts, 1 MiB, same-origin redirects only). What could poison the cache is
refused before anything is stored: a status other than 200/304, a content type that is not JSON, a body that is
not a JWKS, malformed or private keys. A failed refresh leaves the cached JWKS as it was.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ._errors import JWKSError, url_without_query
from ._jwks_cache import DEFAULT_POLICY, CachePolicy, expiry_from_headers, is_expired
from ._jwx.jwk import KeySet
from ._transport import HttpResponse, Transport

if TYPE_CHECKING:
    from .models import ServerDefinition

_JSON_TYPES = ("application/json", "application/jwk-set+json")


@dataclass(frozen=True)
class FetchedJWKS:
    """A JWKS the server sent (or confirmed unchanged), with its cache expiry and validator."""

    jwks: dict[str, Any] | None  # None when the server answered 304 Not Modified
    expires: int
    etag: str | None


def process_jwks_response(
    response: HttpResponse, *, etag: str | None, now: float, policy: CachePolicy = DEFAULT_POLICY
) -> FetchedJWKS:
    """The JWKS (or "not modified") a response carries, checked key by key.

    Raises:
        JWKSError: any answer that is not a usable public JWKS.
    """
    where = url_without_query(response.url)
    expires = expiry_from_headers(response.headers, now, policy)
    if response.status_code == 304 and etag:
        return FetchedJWKS(None, expires, response.headers.get("ETag", etag))
    if response.status_code != 200:
        raise JWKSError(f"JWKS at {where} answered HTTP {response.status_code}")
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type not in _JSON_TYPES:
        raise JWKSError(f"JWKS at {where} has content type {content_type or 'none'!r}, not JSON")
    try:
        document = json.loads(response.body)
    except ValueError as error:
        raise JWKSError(f"JWKS at {where} is not JSON") from error
    KeySet(document)  # raises JWKSError for anything but well-formed public keys
    return FetchedJWKS(document, expires, response.headers.get("ETag"))


def fetch_jwks(
    transport: Transport, url: str, *, etag: str | None, now: float, policy: CachePolicy = DEFAULT_POLICY
) -> FetchedJWKS:
    """GET the JWKS at `url`; a known `etag` makes the request conditional.

    Raises:
        JWKSError, TransportError, ProtocolError, InsecureEndpointError.
    """
    headers = {"Accept": ", ".join(_JSON_TYPES)}
    if etag:
        headers["If-None-Match"] = etag
    return process_jwks_response(transport.get(url, headers=headers), etag=etag, now=now, policy=policy)


def refresh_server_jwks(
    server: ServerDefinition,
    *,
    force: bool = False,
    transport: Transport,
    now: float | None = None,
    policy: CachePolicy = DEFAULT_POLICY,
) -> bool:
    """Fetch the server's JWKS when the cached one has expired (or `force`); True when the key set changed.

    Only the definition's attributes change; the caller decides whether to flush them. IRIS clears
    `ServerCredentials` when the key set changes, and so does this.
    """
    jwks_uri = server.server_metadata.jwks_uri if server.server_metadata is not None else None
    if not jwks_uri:
        return False
    moment = time.time() if now is None else now
    if not force and server.public_jwks is not None and not is_expired(server.public_jwks_expires, moment):
        return False
    etag = server.public_jwks_etag if server.public_jwks is not None else None
    fetched = fetch_jwks(transport, jwks_uri, etag=etag, now=moment, policy=policy)
    server.public_jwks_expires = fetched.expires
    server.public_jwks_etag = fetched.etag
    server.public_jwks_fetched = datetime.fromtimestamp(moment, UTC)
    if fetched.jwks is None or fetched.jwks == server.public_jwks:
        return False
    server.public_jwks = fetched.jwks
    server.server_credentials = None
    return True

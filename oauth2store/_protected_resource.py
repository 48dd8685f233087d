"""`discover_resource`: from a protected resource to a stored server definition of its authorization server.

The glue of RFC 9728 discovery: the resource's metadata (`_resource_metadata`), then its authorization server's
(RFC 8414 first, then OpenID Connect Discovery: `ServerDefinition.discover`), stored as a server definition. A
server definition already stored for that issuer is used as it is, so the authorization server is discovered once;
the resource's own document is read at every call (a resource may move to another authorization server, and where
it points is not stored: that would need a column).

Whom each request may reach: the resource's host is the caller's choice; anything its answers name (a
`resource_metadata` URL on another host, an authorization server) is judged as a remote server's endpoints are,
so a remote resource cannot point the discovery at a loopback or private address unless `allow_private_network`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from ._errors import DiscoveryError, InsecureEndpointError
from ._http.endpoints import PRIVATE_REFUSED, PrivateAddressError, check_endpoint, check_resolved, private_allowed
from ._resource_metadata import ProtectedResourceMetadata, fetch_resource_metadata, resource_metadata_url_from
from .models.server_definition import ServerDefinition
from .models.ssl_configuration import DEFAULT_SSL_CONFIGURATION, transport_for


@dataclass(frozen=True)
class ProtectedResource:
    """What `discover_resource` found: the resource's metadata and the stored definition of its server."""

    metadata: ProtectedResourceMetadata
    server: ServerDefinition


def discover_resource(
    session: Session,
    resource: str,
    *,
    www_authenticate: str | Iterable[str] | None = None,
    ssl_configuration: str | None = None,
    refresh: bool = False,
    allow_insecure_http: bool = False,
    allow_private_network: bool = False,
) -> ProtectedResource:
    """Discover `resource`'s authorization server (RFC 9728) and store its definition in `session`.

    The metadata is read from the URL that the `www_authenticate` values of a 401 from the resource name
    (`Bearer resource_metadata="..."`), else from the resource's well-known URL; its `resource` must equal
    `resource`. Of the authorization servers it lists, the first with a stored definition is used (rediscovered
    with `refresh`), else the first, discovered with `ssl_configuration` ("default" unless given).

    Raises:
        DiscoveryError: a document was refused (another resource, not JSON, not found, no authorization server,
            an issuer that does not match its metadata).
        InsecureEndpointError: a URL is not https, or a remote resource names a private address.
        ProtocolError: a redirect to another origin. TransportError, JWKSError, NotFoundError, ValidationError: see
            `ServerDefinition.discover`.
    """
    values = [www_authenticate] if isinstance(www_authenticate, str) else list(www_authenticate or ())
    transport = transport_for(
        session,
        ssl_configuration or DEFAULT_SSL_CONFIGURATION,
        allow_insecure_http=allow_insecure_http,
        issuer=resource,
        allow_private_network=allow_private_network,
    )
    metadata = fetch_resource_metadata(resource, transport, resource_metadata_url_from(values))
    if not metadata.authorization_servers:
        raise DiscoveryError(resource, metadata.url, "the metadata names no authorization server")
    stored = (ServerDefinition.OpenByIssuer(session, issuer) for issuer in metadata.authorization_servers)
    server = next((found for found in stored if found is not None), None)
    if server is not None and not refresh:
        return ProtectedResource(metadata, server)
    issuer = server.issuer_endpoint if server is not None else metadata.authorization_servers[0]
    _check_named_server(issuer, resource, allow_insecure_http, allow_private_network)
    server = ServerDefinition.discover(
        session,
        issuer,
        ssl_configuration=ssl_configuration,
        allow_insecure_http=allow_insecure_http,
        allow_private_network=allow_private_network,
        rfc8414_first=True,
    )
    return ProtectedResource(metadata, server)


def _check_named_server(issuer: str, resource: str, allow_insecure_http: bool, allow_private_network: bool) -> None:
    """Refuse an authorization server a remote resource names on a private address, literal or resolved to (the
    discovery that follows trusts the issuer's own host, so it would not refuse it).

    Raises:
        InsecureEndpointError.
    """
    check_endpoint(
        issuer, allow_insecure_http=allow_insecure_http, issuer=resource, allow_private_network=allow_private_network
    )
    target = urlsplit(issuer)
    host = target.hostname or ""
    if not private_allowed(host, resource, allow_private_network):
        try:
            check_resolved(host, target.port or (443 if target.scheme == "https" else 80))
        except PrivateAddressError as exc:
            raise InsecureEndpointError(issuer, f"{PRIVATE_REFUSED}; it resolves to {exc.address}") from None

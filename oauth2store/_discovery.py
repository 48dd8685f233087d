"""Authorization server discovery (OpenID Connect Discovery 1.0 §4, RFC 8414 §3), the port of IRIS `Discover`.

`discovery_urls` and `parse_metadata` are pure; `discover` fetches through `transport` and stores the metadata on
the server definition with that exact issuer (creating it when there is none), with `is_discovery` set. A document
that is not JSON, names another issuer (RFC 8414 §3.3) or has no token endpoint is refused and nothing is stored.
Unknown members are ignored; ill-shaped known members are ignored with a logged warning, as IRIS tolerates them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.orm import Session

from ._errors import DiscoveryError, ProtocolError
from ._transport import HttpResponse, Transport, parse_json_object
from ._types import REDIRECT_GRANT_TYPES
from ._validation import Kind, Rules, check

if TYPE_CHECKING:
    from .models.server_definition import ServerDefinition

logger = logging.getLogger(__name__)

OPENID_CONFIGURATION = "/.well-known/openid-configuration"
OAUTH_AUTHORIZATION_SERVER = "/.well-known/oauth-authorization-server"


def discovery_urls(issuer: str) -> tuple[str, str]:
    """The OpenID Connect Discovery URL (issuer + suffix) and the RFC 8414 §3.1 URL (suffix inserted before path)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    openid = urlunsplit((parts.scheme, parts.netloc, path + OPENID_CONFIGURATION, "", ""))
    oauth = urlunsplit((parts.scheme, parts.netloc, OAUTH_AUTHORIZATION_SERVER + path, "", ""))
    return openid, oauth


@dataclass(frozen=True)
class Metadata:
    """Discovered server metadata: the known members that were well-shaped, by their RFC names."""

    values: Mapping[str, Any]
    ignored: tuple[str, ...] = ()


def _member_kinds() -> dict[str, Kind]:
    from .models.server_metadata import FLAG_MEMBERS, LIST_MEMBERS, URI_MEMBERS

    kinds = dict.fromkeys(URI_MEMBERS, Kind.URI)
    kinds.update(dict.fromkeys(LIST_MEMBERS, Kind.LIST))
    kinds.update(dict.fromkeys(FLAG_MEMBERS, Kind.BOOLEAN))
    return kinds


def _well_shaped(name: str, kind: Kind, value: object) -> bool:
    if kind is Kind.LIST:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind is Kind.BOOLEAN:
        return isinstance(value, bool)
    return isinstance(value, str) and not check(name, Rules(iris_name=name, kind=kind), value)


def parse_metadata(issuer: str, document: Mapping[str, Any], url: str) -> Metadata:
    """The storable members of a discovery document for `issuer`.

    Raises:
        DiscoveryError: the issuer differs from the requested one, or there is no usable token endpoint.
    """
    if document.get("issuer") != issuer:
        raise DiscoveryError(issuer, url, f"the document names issuer {document.get('issuer')!r}, not {issuer!r}"
                             " (RFC 8414 §3.3)")  # fmt: skip
    values: dict[str, Any] = {}
    ignored: list[str] = []
    for name, kind in _member_kinds().items():
        if name not in document or document[name] is None:
            continue
        if _well_shaped(name, kind, document[name]):
            values[name] = document[name]
        else:
            ignored.append(name)
            logger.warning("discovery of %s: ignoring ill-shaped member %r", issuer, name)
    if not values.get("token_endpoint"):
        raise DiscoveryError(issuer, url, "the document has no usable token_endpoint")
    grants = values.get("grant_types_supported")
    if not values.get("authorization_endpoint") and (grants is None or REDIRECT_GRANT_TYPES & set(grants)):
        raise DiscoveryError(issuer, url, "no authorization_endpoint, and grant_types_supported does not rule it out")
    return Metadata(values, tuple(ignored))


def process_discovery_response(issuer: str, response: HttpResponse) -> Metadata:
    """The metadata of a discovery answer.

    Raises:
        DiscoveryError: not a 200 JSON object, or refused by `parse_metadata`.
    """
    try:
        document = parse_json_object(response)
    except ProtocolError as exc:
        raise DiscoveryError(issuer, response.url, exc.reason, response.status_code) from exc
    return parse_metadata(issuer, document, response.url)


def fetch_metadata(issuer: str, transport: Transport) -> Metadata:
    """GET the OpenID configuration, falling back to the RFC 8414 document when it is not found.

    Raises:
        DiscoveryError, TransportError, InsecureEndpointError.
    """
    openid, oauth = discovery_urls(issuer)
    response = transport.get(openid)
    if response.status_code != 200:
        response = transport.get(oauth)
    return process_discovery_response(issuer, response)


def apply_metadata(server: ServerDefinition, metadata: Metadata) -> None:
    """Replace the server's metadata with the discovered members (members not in the document become empty)."""
    target = server.server_metadata
    for name in _member_kinds():
        setattr(target, name, metadata.values.get(name))
    server.is_discovery = True


def discover(
    session: Session,
    issuer: str,
    *,
    ssl_configuration: str | None = None,
    transport: Transport | None = None,
    allow_insecure_http: bool = False,
    allow_private_network: bool = False,
) -> ServerDefinition:
    """Fetch the metadata of `issuer` and its JWKS, and store both on its server definition (IRIS `Discover`).

    The definition is the one whose issuer is exactly `issuer`, else a new one using `ssl_configuration`
    ("default" unless given). The fetch uses that TLS configuration.

    Raises:
        DiscoveryError: the document was refused; nothing is stored.
        JWKSError: the server's JWKS cannot be used; nothing is stored.
        TransportError, InsecureEndpointError, NotFoundError (unknown SSL configuration), ValidationError.
    """
    from .models.server_definition import ServerDefinition
    from .models.ssl_configuration import DEFAULT_SSL_CONFIGURATION, transport_for

    server = ServerDefinition.OpenByIssuer(session, issuer)
    name = ssl_configuration or (server.ssl_configuration if server is not None else DEFAULT_SSL_CONFIGURATION)
    if transport is None:
        transport = transport_for(session, name, allow_insecure_http=allow_insecure_http, issuer=issuer,
                                  allow_private_network=allow_private_network)  # fmt: skip
    metadata = fetch_metadata(issuer, transport)
    with session.begin_nested():
        if server is None:
            server = ServerDefinition(issuer_endpoint=issuer, ssl_configuration=name)
            session.add(server)
        elif ssl_configuration:
            server.ssl_configuration = ssl_configuration
        apply_metadata(server, metadata)
        if server.server_metadata.jwks_uri:
            # IRIS's Discover refreshes the JWKS in the same transaction: a definition is stored with its keys.
            from ._jwks import refresh_server_jwks

            refresh_server_jwks(server, force=True, transport=transport)
        session.flush()
    return server

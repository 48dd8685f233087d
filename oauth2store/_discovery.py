"""Authorization server discovery (OpenID Connect Discovery 1.0 §4, RFC 8414 §3), the port of IRIS `Discover`.

`discovery_urls`, `parse_metadata` and `process_discovery_response` are pure; `fetch_metadata` adds the HTTP
through a transport; `ServerDefinition.discover` stores the result. A document that is not JSON, names another
issuer (RFC 8414 §3.3) or has no token endpoint is refused. Unknown members are ignored; ill-shaped known members
are ignored with a logged warning, as IRIS tolerates them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ._errors import DiscoveryError, ProtocolError
from ._http.values import HttpResponse, parse_json_object
from ._types import REDIRECT_GRANT_TYPES
from ._validation import Kind, Rules, check

if TYPE_CHECKING:
    from ._http.transport import Transport

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


def _well_shaped(name: str, kind: Kind, value: object) -> bool:
    if kind is Kind.LIST:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind is Kind.BOOLEAN:
        return isinstance(value, bool)
    return isinstance(value, str) and not check(name, Rules(iris_name=name, kind=kind), value)


def parse_metadata(issuer: str, document: Mapping[str, Any], url: str, members: Mapping[str, Kind]) -> Metadata:
    """The storable members of a discovery document for `issuer`: those of `members` (name -> kind) well shaped.

    Raises:
        DiscoveryError: the issuer differs from the requested one, or there is no usable token endpoint.
    """
    if document.get("issuer") != issuer:
        named = document.get("issuer")
        raise DiscoveryError(issuer, url, f"the document names issuer {named!r}, not {issuer!r} (RFC 8414 §3.3)")
    values: dict[str, Any] = {}
    ignored: list[str] = []
    for name, kind in members.items():
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


def process_discovery_response(issuer: str, response: HttpResponse, members: Mapping[str, Kind]) -> Metadata:
    """The metadata of a discovery answer.

    Raises:
        DiscoveryError: not a 200 JSON object, or refused by `parse_metadata`.
    """
    try:
        document = parse_json_object(response)
    except ProtocolError as exc:
        raise DiscoveryError(issuer, response.url, exc.reason, response.status_code) from exc
    return parse_metadata(issuer, document, response.url, members)


def fetch_metadata(
    issuer: str, transport: Transport, members: Mapping[str, Kind], *, rfc8414_first: bool = False
) -> Metadata:
    """GET the OpenID configuration, falling back to the RFC 8414 document when it is not found; or the other way
    round with `rfc8414_first` (an authorization server named by a protected resource, RFC 9728 §2).

    Raises:
        DiscoveryError, TransportError, InsecureEndpointError.
    """
    first, second = reversed(discovery_urls(issuer)) if rfc8414_first else discovery_urls(issuer)
    response = transport.get(first)
    if response.status_code != 200:
        response = transport.get(second)
    return process_discovery_response(issuer, response, members)

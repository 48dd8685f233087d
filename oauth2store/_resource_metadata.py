"""OAuth 2.0 Protected Resource Metadata (RFC 9728): which authorization servers issue a resource's tokens.

`resource_metadata_url`, `resource_metadata_url_from` and `parse_resource_metadata` are pure;
`fetch_resource_metadata` adds the HTTP through a transport; `discover_resource` (`_protected_resource`) stores
the authorization server it names. The document is found from the resource identifier (§3.1: the well-known suffix
inserted between the host and the path) or at the URL a 401's `WWW-Authenticate: Bearer resource_metadata="..."`
names (§5.1); either way its `resource` must be exactly the resource asked about (§3.3), or nothing in it is used.
`signed_metadata` (§2.2) is not verified, so it is ignored. Other members that are ill-shaped are ignored with a
logged warning, as in server discovery; the `authorization_servers` this library follows must be well-shaped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ._errors import DiscoveryError, ProtocolError
from ._http.values import HttpResponse, parse_json_object
from ._validation import url_problem
from ._www_authenticate import find_challenge, parse_challenges

if TYPE_CHECKING:
    from ._http.transport import Transport

logger = logging.getLogger(__name__)

OAUTH_PROTECTED_RESOURCE = "/.well-known/oauth-protected-resource"

_URLS = ("jwks_uri", "resource_documentation", "resource_policy_uri", "resource_tos_uri")
_LISTS = (
    "scopes_supported",
    "bearer_methods_supported",
    "resource_signing_alg_values_supported",
    "authorization_details_types_supported",
    "dpop_signing_alg_values_supported",
)
_FLAGS = ("tls_client_certificate_bound_access_tokens", "dpop_bound_access_tokens_required")
_STRINGS = ("resource_name",)


def resource_problem(resource: str) -> str | None:
    """Why `resource` is not a resource identifier (RFC 9728 §1.2: an absolute URL without a fragment), or None."""
    problem = url_problem(resource)
    if problem is not None:
        return problem
    if urlsplit(resource).fragment:
        return "a resource identifier has no fragment (RFC 9728 §1.2)"
    return None


def resource_metadata_url(resource: str) -> str:
    """The well-known URL of `resource`'s metadata (RFC 9728 §3.1): the suffix between the host and the path, the
    path's terminating slash removed, the query kept."""
    parts = urlsplit(resource)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, OAUTH_PROTECTED_RESOURCE + path, parts.query, ""))


def resource_metadata_url_from(www_authenticate: Iterable[str]) -> str | None:
    """The `resource_metadata` URL a 401's `WWW-Authenticate` values name (RFC 9728 §5.1), Bearer's first."""
    challenges = parse_challenges(www_authenticate)
    bearer = find_challenge(challenges, "bearer")
    for challenge in [bearer] if bearer is not None else challenges:
        if challenge.params.get("resource_metadata"):
            return challenge.params["resource_metadata"]
    return None


@dataclass(frozen=True)
class ProtectedResourceMetadata:
    """A protected resource's metadata (RFC 9728 §2): the members this library reads, and every well-shaped one."""

    #: The resource identifier, exactly the one asked about.
    resource: str
    #: Issuer identifiers of the authorization servers that issue its tokens, in the resource's order.
    authorization_servers: tuple[str, ...]
    #: Where the document was found.
    url: str
    #: Every well-shaped member by its RFC name (`scopes_supported`, `bearer_methods_supported`, `resource_name`...).
    values: Mapping[str, Any] = field(default_factory=dict)


def _well_shaped(name: str, value: object) -> bool:
    if name in _LISTS:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if name in _FLAGS:
        return isinstance(value, bool)
    if name in _URLS:
        return isinstance(value, str) and url_problem(value) is None
    return isinstance(value, str)


def _issuer_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return "is not a string"
    problem = url_problem(value)
    if problem is not None:
        return problem
    parts = urlsplit(value)
    return "has a query or fragment (RFC 8414 §2)" if parts.query or parts.fragment else None


def parse_resource_metadata(resource: str, document: Mapping[str, Any], url: str) -> ProtectedResourceMetadata:
    """The metadata of `resource` in `document`, found at `url`.

    Raises:
        DiscoveryError: the document is about another resource, or its `authorization_servers` is ill-shaped.
    """
    named = document.get("resource")
    if named != resource:
        raise DiscoveryError(
            resource, url, f"the document is about resource {named!r}, not {resource!r} (RFC 9728 §3.3)"
        )
    servers = document.get("authorization_servers", [])
    if not isinstance(servers, list):
        raise DiscoveryError(resource, url, "authorization_servers is not a list")
    for server in servers:
        problem = _issuer_problem(server)
        if problem is not None:
            shown = server if isinstance(server, str) else type(server).__name__
            raise DiscoveryError(resource, url, f"authorization server {shown!r} {problem}")
    values: dict[str, Any] = {"resource": resource, "authorization_servers": list(servers)}
    for name in (*_URLS, *_LISTS, *_FLAGS, *_STRINGS):
        if document.get(name) is None:
            continue
        if _well_shaped(name, document[name]):
            values[name] = document[name]
        else:
            logger.warning("protected resource metadata of %s: ignoring ill-shaped member %r", resource, name)
    return ProtectedResourceMetadata(resource, tuple(servers), url, values)


def process_resource_metadata_response(resource: str, response: HttpResponse) -> ProtectedResourceMetadata:
    """The metadata of an answer.

    Raises:
        DiscoveryError: not a 200 JSON object, or refused by `parse_resource_metadata`.
    """
    try:
        document = parse_json_object(response)
    except ProtocolError as exc:
        raise DiscoveryError(resource, response.url, exc.reason, response.status_code) from exc
    return parse_resource_metadata(resource, document, response.url)


def fetch_resource_metadata(resource: str, transport: Transport, url: str | None = None) -> ProtectedResourceMetadata:
    """GET `resource`'s metadata, from its well-known URL or from `url` (named by a challenge).

    Raises:
        DiscoveryError, TransportError, InsecureEndpointError, ProtocolError (a redirect to another origin).
    """
    problem = resource_problem(resource)
    if problem is not None:
        raise DiscoveryError(resource, url or resource, f"not a resource identifier: {problem}")
    response = transport.get(url or resource_metadata_url(resource))
    return process_resource_metadata_response(resource, response)

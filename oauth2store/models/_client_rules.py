"""The rules of a client definition that span properties: what must be set together, and which stored tokens a
change makes stale. Model glue of `Client` (its `cross_field_problems` and `before_save`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import inspect
from sqlalchemy.orm.attributes import get_history

from .._errors import Problem
from .._http.endpoints import same_origin
from .._types import REDIRECT_GRANT_TYPES, ClientType, TokenEndpointAuthMethod
from .._validation import is_absolute_url
from ._validated import Validated
from .access_token import CLIENT_CREDENTIALS, AccessToken

if TYPE_CHECKING:
    from .client import Client

_NO_SECRET_METHODS = frozenset({TokenEndpointAuthMethod.PRIVATE_KEY_JWT, TokenEndpointAuthMethod.NONE})


#: Who the client is at its server: a change drops every stored token of the client.
_CLIENT_IDENTITY = ("client_id", "enabled", "server_definition_id", "server_definition")
#: How the client authenticates: a change drops its client-credentials tokens (a service's own).
_CREDENTIALS = ("client_secret", "client_credentials", "client_password", "ssl_configuration", "_jwt_audience")
_AUTHENTICATION = ("token_endpoint_auth_method", "token_endpoint_auth_signing_alg")


def client_problems(client: Client) -> list[Problem]:
    """The cross-field rules of a client and its metadata (the IRIS class reference, with the deviations that the
    module docstring of `oauth2store.models.client` lists)."""
    found: list[Problem] = []
    metadata = client.client_metadata
    if metadata is None:
        return [Problem("client_metadata", "is required", 5659)]
    found += [Problem(f"client_metadata.{p.field}", p.message, p.code) for p in metadata.problems()]
    # Set to None (the flush would write NULL), or never set: either way the client has no server.
    unset = client.server_definition_id is None or bool(get_history(client, "server_definition").deleted)
    if client.server_definition is None and unset:
        found.append(Problem("server_definition", "is required", 5659))
    pending = client.is_awaiting_registration
    if not client.client_id and not pending:
        found.append(Problem("client_id", "is required for every client type (or register the client)", 5659))
    needs_secret = metadata.token_endpoint_auth_method not in _NO_SECRET_METHODS
    confidential = client.client_type in (ClientType.CONFIDENTIAL, ClientType.RESOURCE)
    if confidential and needs_secret and not client.client_secret and not pending:
        found.append(
            Problem(
                "client_secret",
                f"is required for a {client.client_type} client using {metadata.token_endpoint_auth_method}",
                5659,
            )
        )
    endpoint = client.redirection_endpoint
    if endpoint is not None:
        found += endpoint.problems("redirection_endpoint")
    found += _registration_uri_problems(client)
    redirected = not metadata.grant_types or bool(REDIRECT_GRANT_TYPES & set(metadata.grant_types))
    if endpoint is None and redirected and client.client_type in (ClientType.PUBLIC, ClientType.CONFIDENTIAL):
        found.append(
            Problem(
                "redirection_endpoint",
                f"is required for a {client.client_type} client unless its grant_types need no redirect",
                5659,
            )
        )
    return found  # a renamed application_name (the IdKey) is refused with every other changed key


def _registration_uri_problems(client: Client) -> list[Problem]:
    """The registration access token is sent to `registration_client_uri`: it must be the registration
    endpoint's server (RFC 7592 §3), not a host the metadata names."""
    uri = client.client_metadata.registration_client_uri
    server = client.server_definition
    endpoint = server.server_metadata.registration_endpoint if server and server.server_metadata else None
    if not isinstance(uri, str) or not uri or not isinstance(endpoint, str) or not endpoint:
        return []
    if not is_absolute_url(uri) or not is_absolute_url(endpoint) or same_origin(uri, endpoint):
        return []  # an ill-formed URL is reported by its own rule
    message = "must share the origin (scheme, host and port) of the server's registration_endpoint"
    return [Problem("client_metadata.registration_client_uri", message)]


def stale_tokens(client: Client) -> list[AccessToken]:
    """The stored tokens a change to the client makes stale: a stored token belongs to the definition that
    obtained it, and is never handed out for another one."""
    if not inspect(client).persistent:
        return []
    # Another client (id, server) or a disabled one keeps none; new credentials keep the tokens users signed in
    # with, and drop the client's own (client-credentials) tokens.
    if _changed(client, _CLIENT_IDENTITY):
        return list(client.access_tokens)
    if _changed(client, _CREDENTIALS) or _changed(client.client_metadata, _AUTHENTICATION):
        return [token for token in client.access_tokens if token.grant_type == CLIENT_CREDENTIALS]
    return []


def _changed(row: Validated | None, names: tuple[str, ...]) -> bool:
    """True when one of the attributes of a stored row changed since it was loaded."""
    if row is None or not inspect(row).persistent:
        return False
    state = inspect(row)
    return any(state.attrs[name].history.has_changes() for name in names)

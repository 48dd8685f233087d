"""A stored client definition as the plain values a token request needs (`ClientConfig`), refusing unusable ones.

Model glue: it reads the client's columns, its server's metadata and its TLS configuration, and hands protocol
code a frozen snapshot, so nothing below the models ever touches the ORM.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from .._client_auth import ClientIdentity
from .._errors import ClientNotUsableError, NotFoundError
from .._registration import secret_expiry_problem
from .._tokens import ClientConfig, Endpoints
from .._types import TokenEndpointAuthMethod
from ._signing_key import signing_key
from .ssl_configuration import SSLConfiguration

if TYPE_CHECKING:
    from .client import Client


def client_config(session: Session, client: Client, now: float | None = None) -> ClientConfig:
    """The snapshot of `client` at `now` (default: the time), refusing clients that cannot get tokens.

    Raises:
        ClientNotUsableError: the client is disabled, awaiting registration, has no client_id or token endpoint, or
            its registered client_secret has expired (client_secret_expires_at).
        KeyMaterialError: private_key_jwt without a usable key.
        NotFoundError: its SSL configuration is not stored.
        ValidationError: its SSL configuration is disabled.
    """
    name = client.application_name
    if not client.enabled:
        raise ClientNotUsableError(name, "it is disabled (enabled is False)")
    if not client.client_id:
        reason = "it is awaiting registration (no client_id yet)" if client.is_awaiting_registration else "no client_id"
        raise ClientNotUsableError(name, reason)
    server = client.server_definition
    metadata = server.server_metadata
    if not metadata.token_endpoint:
        raise ClientNotUsableError(name, f"server {server.issuer_endpoint!r} has no token_endpoint")
    method = client.client_metadata.token_endpoint_auth_method or TokenEndpointAuthMethod.CLIENT_SECRET_BASIC
    moment = time.time() if now is None else now
    expired = secret_expiry_problem(client.client_metadata.client_secret_expires_at, method, moment)
    if expired:
        raise ClientNotUsableError(name, expired)
    key = signing_key(client) if method == TokenEndpointAuthMethod.PRIVATE_KEY_JWT else None
    identity = ClientIdentity(
        client_id=client.client_id,
        method=method,
        client_secret=client.client_secret,
        audience=client.jwt_audience,
        jwt_interval=client.jwt_interval,
        signing_alg=client.client_metadata.token_endpoint_auth_signing_alg,
        signing_key=key,
    )
    tls = session.get(SSLConfiguration, client.ssl_configuration)
    if tls is None:
        raise NotFoundError(SSLConfiguration.kind, client.ssl_configuration)
    endpoints = Endpoints(
        server.issuer_endpoint, metadata.token_endpoint, metadata.introspection_endpoint, metadata.revocation_endpoint
    )
    expires_at = client.client_metadata.client_secret_expires_at
    return ClientConfig(name, identity, endpoints, tls.tls_settings(), client.default_scope, expires_at)

"""Client.validate_jwt's glue: the client's and its server definition's columns in, `_jwt_validation` on them.

Validation never flushes the caller's session, nor gives it anything to write: every query it makes (the TLS
configuration for a JWKS fetch) runs under `no_autoflush`, and a refresh goes through the store's `JWKSRefreshes`,
which stores the JWKS state in transactions of its own (models._jwks_state); the definition only shows the result,
as committed. So validating a token never raises about another object pending in the same session, and what a
refresh learnt (a failure too) stays stored when the caller rolls back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from types import EllipsisType
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import object_session

from .._errors import JWKSError, JWTValidationError
from .._jwks_refresh import JWKSRefreshes
from .._jwt_validation import validate_jwt
from .._server_jwks import CachedJWKS, ServerJWKS, UnknownKidRefreshes, refresh_jwks
from .._state import state_of
from ._jwks_columns import cached_jwks, show_stored
from ._jwks_state import stored_jwks
from .ssl_configuration import transport_for

if TYPE_CHECKING:
    from .client import Client

#: token_type -> the client metadata member naming the algorithm its tokens are signed with.
_ALGORITHM_MEMBERS = {"access_token": "access_token_signed_response_alg", "id_token": "id_token_signed_response_alg"}


def _metadata_algorithm(client: Client, token_type: str) -> str:
    if token_type not in _ALGORITHM_MEMBERS:
        raise ValueError(f"token_type must be one of {', '.join(_ALGORITHM_MEMBERS)}")
    member = _ALGORITHM_MEMBERS[token_type]
    alg = getattr(client.client_metadata, member)
    if not alg or alg == "none":
        raise JWTValidationError("alg", f"client_metadata.{member} names no signing algorithm")
    return str(alg)


def validate_client_jwt(
    client: Client,
    token: object,
    *,
    audience: str | EllipsisType | None,
    algorithms: Collection[str] | None,
    token_type: str,
    leeway: float,
    now: float,
    allow_insecure_http: bool,
) -> dict[str, Any]:
    """The claims of a JWT from the client's server (see `Client.validate_jwt`; `...` audience: the client_id)."""
    session = object_session(client)
    with session.no_autoflush if session is not None else contextlib.nullcontext():
        accepted = set(algorithms) if algorithms is not None else {_metadata_algorithm(client, token_type)}
        expected = client.client_id if audience is ... else audience
        server = client.server_definition

        def refresh(force: bool, at: float) -> CachedJWKS:
            if session is None:
                raise JWKSError(f"client {client.application_name!r} is not in a session: its JWKS cannot be refreshed")
            transport = transport_for(session, server.ssl_configuration, allow_insecure_http=allow_insecure_http)

            def fetch(base: ServerJWKS) -> ServerJWKS:
                return refresh_jwks(base, transport, force=True, now=at) or base

            cached = cached_jwks(server)
            refreshed = (
                state_of(session)
                .get(JWKSRefreshes)
                .refresh(
                    server.id if server.id is not None else server.issuer_endpoint,
                    cached,
                    force=force,
                    now=at,
                    fetch=fetch,
                    stored=stored_jwks(session, server, cached.jwks_uri),
                )
            )
            show_stored(server, refreshed.state)
            if refreshed.error is not None:
                raise refreshed.error
            return cached

        return validate_jwt(
            token,
            issuer=server.issuer_endpoint,
            cached=cached_jwks(server),
            refresh=refresh,
            refreshes=lambda: state_of(session).get(UnknownKidRefreshes) if session is not None else None,
            audience=expected,
            algorithms=accepted,
            leeway=leeway,
            now=now,
        )

"""A stored client definition as the plain values signing a user in needs (`SignInEndpoints`), beside its
`ClientConfig`: model glue, so that the sign-in protocol code never touches the ORM."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._authorization import SignInEndpoints

if TYPE_CHECKING:
    from .client import Client


def signin_endpoints(client: Client) -> SignInEndpoints:
    """The client's redirect URI, its server's sign-in endpoints and flags, and the algorithms its metadata names."""
    metadata = client.server_definition.server_metadata
    client_metadata = client.client_metadata
    redirect = client.redirection_endpoint
    return SignInEndpoints(
        authorization_endpoint=metadata.authorization_endpoint,
        redirect_uri=redirect.url if redirect is not None else None,
        pushed_authorization_request_endpoint=metadata.pushed_authorization_request_endpoint,
        require_pushed_authorization_requests=bool(metadata.require_pushed_authorization_requests),
        iss_parameter_supported=bool(metadata.authorization_response_iss_parameter_supported),
        userinfo_endpoint=metadata.userinfo_endpoint,
        end_session_endpoint=metadata.end_session_endpoint,
        id_token_signed_response_alg=client_metadata.id_token_signed_response_alg,
        userinfo_signed_response_alg=client_metadata.userinfo_signed_response_alg,
        post_logout_redirect_uris=tuple(client_metadata.post_logout_redirect_uris or ()),
    )

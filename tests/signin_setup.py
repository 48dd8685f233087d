"""Shared set-up of the sign-in tests: a client registered at the sign-in provider and defined in a store."""

from __future__ import annotations

from typing import Any

from oidc_provider import OidcProvider

from oauth2store import Client, Endpoint, ServerDefinition, Store

#: Where the provider sends the browser back to: never served (the tests take the parameters from the redirect).
REDIRECT_URI = "http://127.0.0.1:9/callback"
POST_LOGOUT_URI = "http://127.0.0.1:9/logged-out"
SECRET = "a-client-secret-long-enough-for-hs256-0123456789"


def register_web_client(provider: OidcProvider, method: str = "client_secret_basic", **metadata: Any) -> dict[str, Any]:
    """A code-flow client at the provider (refresh tokens allowed): the registration answer."""
    values: dict[str, Any] = {
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [REDIRECT_URI],
        "post_logout_redirect_uris": [POST_LOGOUT_URI],
        "token_endpoint_auth_method": method,
    }
    if "secret" in method:
        values["client_secret"] = SECRET
    values.update(metadata)
    return provider.register(**values)


def define_web_client(
    store: Store, provider: OidcProvider, registered: dict[str, Any], name: str = "web", **overrides: Any
) -> None:
    """The registered client as a stored definition, its server discovered (once per store)."""
    with store.session() as session:
        server = ServerDefinition.OpenByIssuer(session, provider.issuer) or ServerDefinition.discover(
            session, provider.issuer
        )
        method = registered["token_endpoint_auth_method"]
        client = Client(
            application_name=name,
            client_type="public" if method == "none" else "confidential",
            client_id=registered["client_id"],
            client_secret=registered.get("client_secret") if "secret" in method else None,
            server_definition=server,
            redirection_endpoint=Endpoint.parse(REDIRECT_URI),
        )
        client.client_metadata.token_endpoint_auth_method = method
        client.client_metadata.grant_types = ["authorization_code", "refresh_token"]
        client.client_metadata.post_logout_redirect_uris = [POST_LOGOUT_URI]
        for key, value in overrides.items():
            setattr(client.client_metadata, key, value)
        session.add(client)

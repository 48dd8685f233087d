"""Dynamic registration of a stored client (RFC 7591/7592; IRIS RegisterClient, ReadClient, UpdateClient).

Model glue around `oauth2store._registration`: each operation locks the client, does the HTTP through the server
definition's SSL configuration (as IRIS does for discovery, JWKS and registration), and writes the checked answer
back inside a savepoint, so a failure at any step (HTTP, a refusal, a response that cannot be stored) leaves the
stored client exactly as it was. Deleting is the other way round: the local change is written (and validated)
first, and rolled back if the server does not confirm the delete.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from .._errors import KeyMaterialError, Problem, ValidationError
from .._http.values import RetryPolicy
from .._registration import (
    NO_REGISTRATION_ENDPOINT,
    SERVER_MANAGED,
    RegistrationResponse,
    RegistrationRules,
    bearer,
    build_registration_request,
    forget_registration,
    process_registration_response,
    raise_for_registration_error,
)
from .._types import TokenEndpointAuthMethod
from ._locks import lock_row
from .client_metadata import ClientMetadata
from .ssl_configuration import transport_for

if TYPE_CHECKING:
    import requests

    from .._http.transport import Transport
    from .client import Client

#: A create is not retried: a retry after a lost answer would register a second client.
_CREATE_RETRY = RetryPolicy(attempts=1)


def registration_rules(client_class: type[Client]) -> RegistrationRules:
    """What a registration answer must fit to be stored: the client's id and secret, and every metadata member."""
    client_rules = client_class.property_rules()
    metadata = {name: rules for name, (_key, rules) in ClientMetadata.property_rules().items()}
    return RegistrationRules(client_rules["client_id"][1], client_rules["client_secret"][1], metadata)


def metadata_members(metadata: ClientMetadata) -> dict[str, Any]:
    """The stored metadata as {RFC member name: value}, every member (empty ones as None)."""
    return {name: getattr(metadata, key) for name, (key, _rules) in ClientMetadata.property_rules().items()}


def _transport(
    session: Session,
    client: Client,
    *,
    allow_insecure_http: bool,
    http_session: requests.Session | None,
    retry: RetryPolicy | None = None,
) -> Transport:
    """A transport with the server definition's SSL configuration: IRIS uses it for discovery, JWKS and
    registration requests (iris-oauth2.md §1.3)."""
    server = client.server_definition
    return transport_for(
        session,
        server.ssl_configuration,
        http_session=http_session,
        retry=retry,
        allow_insecure_http=allow_insecure_http,
        issuer=server.issuer_endpoint,
    )


def _lock(session: Session, client: Client) -> None:
    """Serialize registration calls for one client, then re-read it: two processes registering the same definition
    would otherwise both register, and the second would overwrite (and orphan) the first's registration.

    On SQLite, use `store.session(write=True)` so that a second process queues instead of failing on a stale
    snapshot.
    """
    if not inspect(client).persistent:
        return
    lock_row(session, type(client).application_name, client.application_name)
    session.refresh(client)
    session.refresh(client.client_metadata)


def _invalid(client: Client, name: str, message: str, code: int | None = None) -> ValidationError:
    return ValidationError(client.kind, client.application_name, [Problem(name, message, code)])


def _request_body(client: Client, *, client_id: str | None = None) -> dict[str, Any]:
    metadata = client.client_metadata
    jwks = client.published_jwks
    if (
        metadata.token_endpoint_auth_method == TokenEndpointAuthMethod.PRIVATE_KEY_JWT
        and not metadata.jwks_uri
        and not jwks.get("keys")
    ):
        raise KeyMaterialError(
            client.application_name,
            "private_key_jwt needs a public key to register: call RotateKeys() first, or set client_metadata.jwks_uri",
        )
    redirect = client.redirection_endpoint.url if client.redirection_endpoint is not None else None
    return build_registration_request(metadata_members(metadata), redirect_uri=redirect, jwks=jwks, client_id=client_id)


def _store(session: Session, client: Client, answer: RegistrationResponse, *, fresh: bool) -> None:
    """Write a checked answer into the client inside a savepoint: all of it is stored, or nothing.

    `fresh` (a new registration) replaces every server-managed value; a read or update keeps those the server
    did not send again (RFC 7592 §3: it may or may not rotate the secret and the registration access token).
    """
    with session.begin_nested():
        metadata = client.client_metadata
        for name, value in answer.metadata.items():
            setattr(metadata, ClientMetadata.property_rules()[name][0], value)
        client.client_id = answer.client_id
        managed: dict[str, Any] = {
            "client_id_issued_at": answer.client_id_issued_at,
            "client_secret_expires_at": answer.client_secret_expires_at,
            "registration_access_token": answer.registration_access_token,
            "registration_client_uri": answer.registration_client_uri,
        }
        for name, value in managed.items():
            if fresh or value is not None:
                setattr(metadata, name, value)
        if fresh or answer.client_secret is not None:
            client.client_secret = answer.client_secret
        session.flush()


def register_client(
    session: Session,
    client: Client,
    *,
    allow_insecure_http: bool = False,
    http_session: requests.Session | None = None,
) -> dict[str, Any]:
    """Register `client` at its server (RFC 7591; IRIS RegisterClient) and store the issued credentials.

    The body is `build_registration_request` of the stored metadata; the server definition's
    `initial_access_token` is sent as a bearer token when set. On success `client_id`, `client_secret`, the
    server-managed members and the metadata as the server accepted it are written (flushed in `session`; the
    caller's transaction commits them). Returns the server's document without its secrets. The client stays
    locked until that transaction ends, so a concurrent registration of it waits, then finds it registered (on
    SQLite, call this in `store.session(write=True)`).

    Raises:
        ValidationError: the server offers no registration endpoint (IRIS #8881), or the client is registered.
        KeyMaterialError: private_key_jwt without a key to publish (call RotateKeys first) or a jwks_uri.
        RegistrationError: the server refused (invalid_client_metadata, invalid_redirect_uri, invalid_token, ...).
        TransportError, ProtocolError, InsecureEndpointError: the exchange failed; nothing was stored.
    """
    _lock(session, client)
    server = client.server_definition
    endpoint = server.server_metadata.registration_endpoint if server.server_metadata is not None else None
    if not endpoint:
        raise _invalid(
            client,
            "server_definition.server_metadata.registration_endpoint",
            f"is not set: server {server.issuer_endpoint!r} does not offer dynamic registration "
            "(discover it again, or register the client by hand)",
            NO_REGISTRATION_ENDPOINT,
        )
    if client.client_id:
        raise _invalid(
            client,
            "client_id",
            "is already set: the client is registered (use update_registration(), "
            "or delete_registration() and register again)",
        )
    body = _request_body(client)
    transport = _transport(
        session, client, allow_insecure_http=allow_insecure_http, http_session=http_session, retry=_CREATE_RETRY
    )
    token = server.initial_access_token
    response = transport.request("POST", endpoint, json_body=body, headers=bearer(token) if token else None)
    try:
        answer = process_registration_response(response, registration_rules(type(client)), expected=(201, 200))
        _store(session, client, answer, fresh=True)
    except Exception:
        forget_registration(transport, response)
        raise
    return answer.document


def _management(client: Client) -> tuple[str, str, str]:
    """The client configuration endpoint, registration access token and client_id (RFC 7592)."""
    metadata = client.client_metadata
    uri, token = metadata.registration_client_uri, metadata.registration_access_token
    if not uri or not token or not client.client_id:
        needed = {
            "client_metadata.registration_client_uri": uri,
            "client_metadata.registration_access_token": token,
            "client_id": client.client_id,
        }
        missing = next(name for name, value in needed.items() if not value)
        raise _invalid(client, missing, "is not set: the client is not dynamically registered (call register())")
    return uri, token, client.client_id


def read_registration(
    session: Session,
    client: Client,
    *,
    allow_insecure_http: bool = False,
    http_session: requests.Session | None = None,
) -> dict[str, Any]:
    """Read the registration back (RFC 7592 §2.1; IRIS ReadClient) and store the metadata as the server has it.

    A new client_secret or registration access token in the answer is stored. Returns the document without secrets.

    Raises:
        ValidationError: the client is not dynamically registered.
        RegistrationError: refused (invalid_token: a wrong token, or the registration no longer exists).
        TransportError, ProtocolError, InsecureEndpointError: nothing was stored.
    """
    _lock(session, client)
    uri, token, client_id = _management(client)
    transport = _transport(session, client, allow_insecure_http=allow_insecure_http, http_session=http_session)
    response = transport.request("GET", uri, headers=bearer(token))
    answer = process_registration_response(
        response, registration_rules(type(client)), expected=(200,), client_id=client_id
    )
    _store(session, client, answer, fresh=False)
    return answer.document


def update_registration(
    session: Session,
    client: Client,
    *,
    allow_insecure_http: bool = False,
    http_session: requests.Session | None = None,
) -> dict[str, Any]:
    """Replace the registration with the stored metadata (RFC 7592 §2.2; IRIS UpdateClient), e.g. after RotateKeys.

    The full metadata is sent with client_id (never the secret); what the server returns is stored, including a
    rotated registration access token or client_secret. Returns the document without secrets.

    Raises:
        ValidationError: the client is not dynamically registered.
        KeyMaterialError: private_key_jwt without a key to publish.
        RegistrationError, TransportError, ProtocolError, InsecureEndpointError: nothing was stored.
    """
    _lock(session, client)
    uri, token, client_id = _management(client)
    body = _request_body(client, client_id=client_id)
    transport = _transport(session, client, allow_insecure_http=allow_insecure_http, http_session=http_session)
    response = transport.request("PUT", uri, json_body=body, headers=bearer(token))
    answer = process_registration_response(
        response, registration_rules(type(client)), expected=(200,), client_id=client_id
    )
    _store(session, client, answer, fresh=False)
    return answer.document


def delete_registration(
    session: Session,
    client: Client,
    *,
    allow_insecure_http: bool = False,
    http_session: requests.Session | None = None,
) -> None:
    """Delete the registration at the server (RFC 7592 §2.3) and forget it locally.

    client_id, client_secret, the server-managed members and the client's stored tokens are cleared, leaving the
    definition ready for `register()` again. The local change is flushed first and rolled back unless the server
    answers 204 (or 200).

    Raises:
        ValidationError: the client is not dynamically registered, or could not be saved without its client_id
            (its server definition has no registration endpoint).
        RegistrationError, TransportError, ProtocolError, InsecureEndpointError: nothing was changed.
    """
    _lock(session, client)
    uri, token, _client_id = _management(client)
    transport = _transport(session, client, allow_insecure_http=allow_insecure_http, http_session=http_session)
    with session.begin_nested():
        client.client_id = None
        client.client_secret = None
        metadata = client.client_metadata
        for name in SERVER_MANAGED:
            setattr(metadata, name, None)
        for stored in list(client.access_tokens):  # one by one, so that the token cache of this process hears of it
            session.delete(stored)
        session.flush()
        response = transport.request("DELETE", uri, headers=bearer(token))
        raise_for_registration_error(response, (204, 200))

"""Dynamic client registration (RFC 7591) and its management (RFC 7592) for a stored client (IRIS RegisterClient).

IRIS's `%SYS.OAuth2.Registration.RegisterClient` POSTs a client's `OAuth2.Client.Metadata` to the server's
registration endpoint and stores what comes back; `UpdateClient`/`ReadClient` use the client configuration endpoint.
Here, building a request and checking a response are pure functions of plain values; the four operations around
them do the HTTP through `transport` (with the server definition's SSL configuration, as IRIS) and then write the
result inside a savepoint, so a failure at any step (HTTP, a refusal, a response that cannot be stored) leaves the
stored client exactly as it was. Deleting is the other way round: the local change is written (and validated)
first, and rolled back if the server does not confirm the delete.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from sqlalchemy import delete, inspect, select, update
from sqlalchemy.orm import Session

from . import _token_cache as token_cache
from ._errors import (
    KeyMaterialError,
    OAuth2StoreError,
    Problem,
    ProtocolError,
    RegistrationError,
    ValidationError,
)
from ._tokens import utc_from_timestamp
from ._transport import HttpResponse, RetryPolicy, Transport, same_origin
from ._types import TokenEndpointAuthMethod
from ._validation import check, is_absolute_url
from .models.access_token import AccessToken
from .models.client import Client
from .models.client_metadata import ClientMetadata
from .models.ssl_configuration import transport_for

#: IRIS #8881: the server definition offers no registration endpoint.
NO_REGISTRATION_ENDPOINT = 8881
#: Members the server assigns (RFC 7591 §3.2.1, RFC 7592 §3); a client never sends them (RFC 7592 §2.2).
SERVER_MANAGED = frozenset(
    {"client_id_issued_at", "client_secret_expires_at", "registration_access_token", "registration_client_uri"}
)
#: Members sent only when they mean something: `*_encrypted_*` / `*_encryption_*` "none" is IRIS's "no encryption".
_ENCRYPTION_PAIRS = (
    ("id_token_encrypted_response_alg", "id_token_encrypted_response_enc"),
    ("userinfo_encrypted_response_alg", "userinfo_encrypted_response_enc"),
    ("access_token_encrypted_response_alg", "access_token_encrypted_response_enc"),
    ("request_object_encryption_alg", "request_object_encryption_enc"),
)
#: Signed-response members whose absence already means "unsigned": "none" is not sent (it is no JWS algorithm).
_UNSIGNED_WHEN_ABSENT = ("userinfo_signed_response_alg", "access_token_signed_response_alg")
#: Grants whose clients use response types (RFC 7591 §2.1); without them a client registers no response type.
_RESPONSE_TYPE_GRANTS = frozenset({"authorization_code", "implicit"})
_SECRET_METHODS = frozenset(
    {
        TokenEndpointAuthMethod.CLIENT_SECRET_BASIC,
        TokenEndpointAuthMethod.CLIENT_SECRET_POST,
        TokenEndpointAuthMethod.CLIENT_SECRET_JWT,
    }
)
_WWW_AUTHENTICATE_PARAM = re.compile(r'(error|error_description)="([^"]*)"')
#: What can follow "Bearer " in an Authorization header: visible ASCII (RFC 6750 §2.1 b64token is a subset).
_BEARER_TOKEN = re.compile(r"[\x21-\x7e]+")
#: A create is not retried: a retry after a lost answer would register a second client.
_CREATE_RETRY = RetryPolicy(attempts=1)


# -- pure: requests -------------------------------------------------------------------------------------


def metadata_members(metadata: ClientMetadata) -> dict[str, Any]:
    """The stored metadata as {RFC member name: value}, every member (empty ones as None)."""
    return {name: getattr(metadata, key) for name, (key, _rules) in ClientMetadata.property_rules().items()}


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def build_registration_request(
    members: Mapping[str, Any],
    *,
    redirect_uri: str | None = None,
    jwks: Mapping[str, Any] | None = None,
    client_id: str | None = None,
) -> dict[str, Any]:
    """The JSON body of a registration (RFC 7591 §2) or, with `client_id`, an update (RFC 7592 §2.2) request.

    From the stored `members`: empty members are left out, as are the server-managed ones, IRIS's "none" defaults
    of the encryption members (and an `_enc` without its `_alg`), `token_endpoint_auth_signing_alg` unless the
    method signs a JWT with a fitting algorithm (servers refuse it otherwise), and `client_secret` always. The
    `redirect_uri` (the client's redirection endpoint) leads `redirect_uris`. `jwks_uri` wins over `jwks` (RFC
    7591 §2 forbids both). `response_types` is sent as stored; when it is not stored and the stored `grant_types`
    need none, `[]` is sent, so the server does not assume the `code` default and then ask for redirect URIs.
    """
    body: dict[str, Any] = {}
    for name, value in members.items():
        if name in SERVER_MANAGED or name in ("jwks", "jwks_uri", "client_secret") or _is_empty(value):
            continue
        body[name] = list(value) if isinstance(value, list | tuple) else value
    for alg_member, enc_member in _ENCRYPTION_PAIRS:
        if body.get(alg_member) == "none" or alg_member not in body:
            body.pop(alg_member, None)
            body.pop(enc_member, None)
        elif body.get(enc_member) == "none":
            body.pop(enc_member)
    for name in _UNSIGNED_WHEN_ABSENT:
        if body.get(name) == "none":
            body.pop(name)
    method = body.get("token_endpoint_auth_method")
    signing_alg = body.get("token_endpoint_auth_signing_alg")
    fits = (method == TokenEndpointAuthMethod.PRIVATE_KEY_JWT and signing_alg and not signing_alg.startswith("HS")) or (
        method == TokenEndpointAuthMethod.CLIENT_SECRET_JWT and signing_alg and signing_alg.startswith("HS")
    )
    if not fits:
        body.pop("token_endpoint_auth_signing_alg", None)
    redirect_uris = [redirect_uri] if redirect_uri else []
    redirect_uris += [uri for uri in body.get("redirect_uris") or [] if uri not in redirect_uris]
    if redirect_uris:
        body["redirect_uris"] = redirect_uris
    grant_types = body.get("grant_types")
    if "response_types" not in body and grant_types and not _RESPONSE_TYPE_GRANTS & set(grant_types):
        body["response_types"] = []
    if members.get("jwks_uri"):
        body["jwks_uri"] = members["jwks_uri"]
    elif jwks is not None and jwks.get("keys"):
        body["jwks"] = dict(jwks)
    if client_id is not None:
        body["client_id"] = client_id
    return body


# -- pure: responses ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistrationResponse:
    """A checked RFC 7591 §3.2.1 / RFC 7592 §3 client information response; secrets are left out of the repr.

    `metadata` holds the members oauth2store stores, as the server accepted them (an empty value as None);
    `document` is the whole response without its two secrets, for showing (it may hold members unknown here).
    """

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    client_id_issued_at: int | None = None
    client_secret_expires_at: int | None = None
    registration_access_token: str | None = field(default=None, repr=False)
    registration_client_uri: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict)


def raise_for_registration_error(response: HttpResponse, expected: tuple[int, ...]) -> None:
    """Raise the server's refusal, or a ProtocolError for an answer without one.

    Raises:
        RegistrationError: an RFC 7591 §3.2.2 error object, or an RFC 6750 `WWW-Authenticate` error (a wrong
            initial or registration access token).
        ProtocolError: any other status than `expected`.
    """
    if response.status_code in expected:
        return
    error: str | None = None
    description: str | None = None
    uri: str | None = None
    try:
        body = json.loads(response.body)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        error = body["error"]
        description = body.get("error_description") if isinstance(body.get("error_description"), str) else None
        uri = body.get("error_uri") if isinstance(body.get("error_uri"), str) else None
    else:
        params = dict(_WWW_AUTHENTICATE_PARAM.findall(response.headers.get("WWW-Authenticate", "")))
        error, description = params.get("error"), params.get("error_description")
    if error and 400 <= response.status_code < 500:
        raise RegistrationError(response.url, error, description, uri, response.status_code)
    shown = " or ".join(str(status) for status in expected)
    raise ProtocolError(response.url, f"expected HTTP {shown} from the registration endpoint", response.status_code)


def _problem_if(condition: bool, name: str, message: str) -> list[Problem]:
    return [Problem(name, message)] if condition else []


def process_registration_response(
    response: HttpResponse, *, expected: tuple[int, ...] = (200, 201), client_id: str | None = None
) -> RegistrationResponse:
    """The checked client information of a registration, read or update response.

    Every known member must be storable (the rules of ClientMetadata); unknown members are ignored. With
    `client_id` (read/update), the server must answer for that client (RFC 7592 §2.2: it cannot change).

    Raises:
        RegistrationError: the server refused the request.
        ProtocolError: the answer is not JSON, lacks a client_id, or holds values oauth2store cannot store.
    """
    raise_for_registration_error(response, expected)
    try:
        body = json.loads(response.body)
    except ValueError:
        raise ProtocolError(response.url, "the registration response is not JSON", response.status_code) from None
    if not isinstance(body, dict):
        raise ProtocolError(response.url, "the registration response is not a JSON object", response.status_code)
    problems: list[Problem] = []
    client_rules = Client.property_rules()
    metadata_rules = ClientMetadata.property_rules()
    issued_id = body.get("client_id")
    problems += _problem_if(not isinstance(issued_id, str) or not issued_id, "client_id", "must be a non-empty string")
    if isinstance(issued_id, str) and issued_id:
        problems += check("client_id", client_rules["client_id"][1], issued_id)
    if client_id is not None and isinstance(issued_id, str) and issued_id != client_id:
        problems.append(Problem("client_id", f"must stay {client_id!r} (RFC 7592 §2.2), got {issued_id!r}"))
    for name, rules in (("client_secret", client_rules["client_secret"][1]),
                        ("registration_access_token", metadata_rules["registration_access_token"][1])):  # fmt: skip
        value = body.get(name)
        problems += _problem_if(value is not None and (not isinstance(value, str) or not value), name,
                                "must be a non-empty string")  # fmt: skip
        if isinstance(value, str) and value:
            problems += check(name, rules, value)  # secret rules: the value is never shown
    token = body.get("registration_access_token")
    unusable = isinstance(token, str) and bool(token) and not _BEARER_TOKEN.fullmatch(token)
    problems += _problem_if(unusable, "registration_access_token", "must be visible ASCII (a bearer token)")
    for name in ("client_id_issued_at", "client_secret_expires_at"):
        value = body.get(name)
        problems += _problem_if(value is not None and (type(value) is not int or value < 0), name,
                                "must be a non-negative integer (epoch seconds)")  # fmt: skip
        if type(value) is int and value >= 0:
            problems += check(name, metadata_rules[name][1], value)  # what the column holds
    uri = body.get("registration_client_uri")
    problems += _problem_if(uri is not None and (not isinstance(uri, str) or not is_absolute_url(uri)),
                            "registration_client_uri", "must be an absolute http(s) URL")  # fmt: skip
    # The registration access token goes to this URI: only to the server that registered the client (RFC 7592 §3).
    problems += _problem_if(isinstance(uri, str) and is_absolute_url(uri) and not same_origin(uri, response.url),
                            "registration_client_uri", "must share the registration endpoint's origin "
                            "(scheme, host and port)")  # fmt: skip
    metadata: dict[str, Any] = {}
    for name, (_key, rules) in ClientMetadata.property_rules().items():
        if name in SERVER_MANAGED or name not in body:
            continue
        value = None if rules.is_empty(body[name]) or body[name] == {} else body[name]
        problems += check(name, rules, value)
        metadata[name] = value
    if problems:
        detail = "; ".join(str(p) for p in problems)
        raise ProtocolError(response.url, f"the registration response cannot be stored: {detail}",
                            response.status_code)  # fmt: skip
    assert isinstance(issued_id, str)
    return RegistrationResponse(
        client_id=issued_id,
        client_secret=body.get("client_secret"),
        client_id_issued_at=body.get("client_id_issued_at"),
        client_secret_expires_at=body.get("client_secret_expires_at"),
        registration_access_token=body.get("registration_access_token"),
        registration_client_uri=uri,
        metadata=metadata,
        document={k: v for k, v in body.items() if k not in ("client_secret", "registration_access_token")},
    )


def secret_expiry_problem(expires_at: int | None, method: str | None, now: float) -> str | None:
    """Why the client's secret cannot be used at `now` (RFC 7591 `client_secret_expires_at`, 0 = never); or None."""
    if not expires_at or (method or TokenEndpointAuthMethod.CLIENT_SECRET_BASIC) not in _SECRET_METHODS:
        return None
    if expires_at > now:
        return None
    when = utc_from_timestamp(expires_at).isoformat().replace("+00:00", "Z")
    return (
        f"its client_secret expired at {when} (client_metadata.client_secret_expires_at): "
        "read_registration() may return a new one, or register the client again"
    )


# -- I/O: the four operations -----------------------------------------------------------------------------


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
    return transport_for(session, client.server_definition.ssl_configuration, http_session=http_session, retry=retry,
                         allow_insecure_http=allow_insecure_http,
                         issuer=client.server_definition.issuer_endpoint)  # fmt: skip


def _lock(session: Session, client: Client) -> None:
    """Serialize registration calls for one client, then re-read it: two processes registering the same definition
    would otherwise both register, and the second would overwrite (and orphan) the first's registration.

    PostgreSQL: the client row FOR UPDATE. SQLite: a no-op write takes the database's write lock (use
    `store.session(write=True)` so that a second process queues instead of failing on a stale snapshot).
    """
    if not inspect(client).persistent:
        return
    same = Client.application_name == client.application_name
    if session.get_bind().dialect.name == "sqlite":
        statement = update(Client).where(same).values(client_id=Client.client_id)
        session.execute(statement.execution_options(synchronize_session=False))
    else:
        session.execute(select(Client.application_name).where(same).with_for_update())
    session.refresh(client)
    session.refresh(client.client_metadata)


def _invalid(client: Client, name: str, message: str, code: int | None = None) -> ValidationError:
    return ValidationError(client.kind, client.application_name, [Problem(name, message, code)])


def _request_body(client: Client, *, client_id: str | None = None) -> dict[str, Any]:
    metadata = client.client_metadata
    jwks = client.public_jwks
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
    return build_registration_request(metadata_members(metadata), redirect_uri=redirect, jwks=jwks,
                                      client_id=client_id)  # fmt: skip


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


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
        raise _invalid(client, "server_definition.server_metadata.registration_endpoint",
                       f"is not set: server {server.issuer_endpoint!r} does not offer dynamic registration "
                       "(discover it again, or register the client by hand)", NO_REGISTRATION_ENDPOINT)  # fmt: skip
    if client.client_id:
        raise _invalid(client, "client_id", "is already set: the client is registered (use update_registration(), "
                       "or delete_registration() and register again)")  # fmt: skip
    body = _request_body(client)
    transport = _transport(session, client, allow_insecure_http=allow_insecure_http, http_session=http_session,
                           retry=_CREATE_RETRY)  # fmt: skip
    token = server.initial_access_token
    response = transport.request("POST", endpoint, json_body=body, headers=_bearer(token) if token else None)
    try:
        answer = process_registration_response(response, expected=(201, 200))
        _store(session, client, answer, fresh=True)
    except Exception:
        _forget_remote(transport, response)
        raise
    return answer.document


def _forget_remote(transport: Transport, response: HttpResponse) -> None:
    """Best effort: delete a registration that could not be stored, so no orphan client stays on the server.

    The answer failed its checks, so its two members are read from the raw body and used only when they are
    safe: a registration_client_uri on the registration endpoint's origin, and a token fit for a bearer header.
    """
    if response.status_code not in (200, 201):
        return
    try:
        body = json.loads(response.body)
    except ValueError:
        return
    uri = body.get("registration_client_uri") if isinstance(body, dict) else None
    token = body.get("registration_access_token") if isinstance(body, dict) else None
    if not isinstance(uri, str) or not is_absolute_url(uri) or not same_origin(uri, response.url):
        return
    if not isinstance(token, str) or not _BEARER_TOKEN.fullmatch(token):
        return
    with contextlib.suppress(OAuth2StoreError):  # the original error is what the caller needs to see
        transport.request("DELETE", uri, headers=_bearer(token))


def _management(client: Client) -> tuple[str, str, str]:
    """The client configuration endpoint, registration access token and client_id (RFC 7592)."""
    metadata = client.client_metadata
    uri, token = metadata.registration_client_uri, metadata.registration_access_token
    if not uri or not token or not client.client_id:
        missing = "client_metadata.registration_client_uri" if not uri else (
            "client_metadata.registration_access_token" if not token else "client_id"
        )  # fmt: skip
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
    response = transport.request("GET", uri, headers=_bearer(token))
    answer = process_registration_response(response, expected=(200,), client_id=client_id)
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
    response = transport.request("PUT", uri, json_body=body, headers=_bearer(token))
    answer = process_registration_response(response, expected=(200,), client_id=client_id)
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
        session.execute(delete(AccessToken).where(AccessToken.application_name == client.application_name))
        session.flush()
        response = transport.request("DELETE", uri, headers=_bearer(token))
        raise_for_registration_error(response, (204, 200))
    token_cache.process_cache(token_cache.engine_of(session)).clear(client.application_name)

"""Dynamic client registration messages (RFC 7591) and their management (RFC 7592), on plain values.

IRIS's `%SYS.OAuth2.Registration.RegisterClient` POSTs a client's `OAuth2.Client.Metadata` to the server's
registration endpoint and stores what comes back; `UpdateClient`/`ReadClient` use the client configuration endpoint.
Here, building a request and checking a response are pure functions; the four operations on a stored client (the
HTTP exchange and the write-back) are model glue in `oauth2store.models._registration`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._errors import OAuth2StoreError, Problem, ProtocolError, RegistrationError
from ._http.endpoints import same_origin
from ._http.values import HttpResponse
from ._jwx import algorithms
from ._tokens import utc_from_timestamp
from ._types import TokenEndpointAuthMethod
from ._validation import Rules, check, is_absolute_url

if TYPE_CHECKING:
    from ._http.transport import Transport

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


# -- pure: requests -------------------------------------------------------------------------------------


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
    fits = (method == TokenEndpointAuthMethod.PRIVATE_KEY_JWT and algorithms.has_key_pair(signing_alg)) or (
        method == TokenEndpointAuthMethod.CLIENT_SECRET_JWT and algorithms.is_hmac(signing_alg)
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
    body = response.json_object()
    if body is not None and isinstance(body.get("error"), str):
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


@dataclass(frozen=True)
class RegistrationRules:
    """The rules an answer's values must meet to be stored: the client's id and secret, and its metadata members."""

    client_id: Rules
    client_secret: Rules
    metadata: Mapping[str, Rules]


def _check_secret_member(body: Mapping[str, Any], name: str, rules: Rules) -> list[Problem]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, str) or not value:
        return [Problem(name, "must be a non-empty string")]
    return check(name, rules, value)  # secret rules: the value is never shown


def _check_epoch_member(body: Mapping[str, Any], name: str, rules: Rules) -> list[Problem]:
    value = body.get(name)
    if value is None:
        return []
    if type(value) is not int or value < 0:
        return [Problem(name, "must be a non-negative integer (epoch seconds)")]
    return check(name, rules, value)  # what the column holds


def _check_client_uri(uri: object, registration_endpoint: str) -> list[Problem]:
    if uri is None:
        return []
    if not isinstance(uri, str) or not is_absolute_url(uri):
        return [Problem("registration_client_uri", "must be an absolute http(s) URL")]
    # The registration access token goes to this URI: only to the server that registered the client (RFC 7592 §3).
    if not same_origin(uri, registration_endpoint):
        origin = "must share the registration endpoint's origin (scheme, host and port)"
        return [Problem("registration_client_uri", origin)]
    return []


def process_registration_response(
    response: HttpResponse,
    rules: RegistrationRules,
    *,
    expected: tuple[int, ...] = (200, 201),
    client_id: str | None = None,
) -> RegistrationResponse:
    """The checked client information of a registration, read or update response.

    Every known member must be storable (`rules`); unknown members are ignored. With `client_id` (read/update), the
    server must answer for that client (RFC 7592 §2.2: it cannot change).

    Raises:
        RegistrationError: the server refused the request.
        ProtocolError: the answer is not JSON, lacks a client_id, or holds values oauth2store cannot store.
    """
    raise_for_registration_error(response, expected)
    body = response.json_object()
    if body is None:
        raise ProtocolError(response.url, "the registration response is not a JSON object", response.status_code)
    problems: list[Problem] = []
    issued_id = body.get("client_id")
    problems += _problem_if(not isinstance(issued_id, str) or not issued_id, "client_id", "must be a non-empty string")
    if isinstance(issued_id, str) and issued_id:
        problems += check("client_id", rules.client_id, issued_id)
    if client_id is not None and isinstance(issued_id, str) and issued_id != client_id:
        problems.append(Problem("client_id", f"must stay {client_id!r} (RFC 7592 §2.2), got {issued_id!r}"))
    problems += _check_secret_member(body, "client_secret", rules.client_secret)
    problems += _check_secret_member(body, "registration_access_token", rules.metadata["registration_access_token"])
    token = body.get("registration_access_token")
    unusable = isinstance(token, str) and bool(token) and not _BEARER_TOKEN.fullmatch(token)
    problems += _problem_if(unusable, "registration_access_token", "must be visible ASCII (a bearer token)")
    for name in ("client_id_issued_at", "client_secret_expires_at"):
        problems += _check_epoch_member(body, name, rules.metadata[name])
    uri = body.get("registration_client_uri")
    problems += _check_client_uri(uri, response.url)
    metadata: dict[str, Any] = {}
    for name, member_rules in rules.metadata.items():
        if name in SERVER_MANAGED or name not in body:
            continue
        value = None if member_rules.is_empty(body[name]) or body[name] == {} else body[name]
        problems += check(name, member_rules, value)
        metadata[name] = value
    if problems:
        detail = "; ".join(str(p) for p in problems)
        message = f"the registration response cannot be stored: {detail}"
        raise ProtocolError(response.url, message, response.status_code)
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


# -- I/O -------------------------------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def forget_registration(transport: Transport, response: HttpResponse) -> None:
    """Best effort: delete a registration that could not be stored, so no orphan client stays on the server.

    The answer failed its checks, so its two members are read from the raw body and used only when they are
    safe: a registration_client_uri on the registration endpoint's origin, and a token fit for a bearer header.
    """
    body = response.json_object() if response.status_code in (200, 201) else None
    if body is None:
        return
    uri, token = body.get("registration_client_uri"), body.get("registration_access_token")
    if not isinstance(uri, str) or not is_absolute_url(uri) or not same_origin(uri, response.url):
        return
    if not isinstance(token, str) or not _BEARER_TOKEN.fullmatch(token):
        return
    with contextlib.suppress(OAuth2StoreError):  # the original error is what the caller needs to see
        transport.request("DELETE", uri, headers=bearer(token))

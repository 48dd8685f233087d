"""Token, introspection and revocation requests and responses (RFC 6749 §4.4/§5, RFC 7662, RFC 7009).

Building a request and processing a response are pure functions of plain values; `post_authenticated`,
`introspect_token` and `revoke_token` add the one HTTP call, as oauth4webapi splits them. `ClientConfig` is the
snapshot of a client definition those calls need (the models layer makes it from the stored columns).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ._client_auth import ClientIdentity, authenticate
from ._errors import OAuthServerError, Problem, ProtocolError
from ._http.values import HttpResponse, TlsSettings

if TYPE_CHECKING:
    from ._http.transport import Transport

#: Lifetime assumed for a token response without expires_in.
DEFAULT_LIFETIME = timedelta(hours=1)
#: The longest expires_in accepted: 2^31 - 1 seconds (about 68 years), what servers send for "never expires".
MAX_EXPIRES_IN = 2**31 - 1
#: RFC 6749 Appendix A.12: access-token = 1*VSCHAR (%x20-7E); anything else cannot go into an Authorization header.
_VSCHAR = re.compile(r"[\x20-\x7e]+")
#: RFC 6749 Appendix A.13 / A.4: a token type is a name, a scope blank-separated tokens of NQCHAR.
_TOKEN_TYPE = re.compile(r"[\x21-\x7e]+")
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*")


@dataclass(frozen=True)
class Endpoints:
    """Where a client's token requests go, from its server definition."""

    issuer: str
    token_endpoint: str
    introspection_endpoint: str | None = None
    revocation_endpoint: str | None = None


@dataclass(frozen=True)
class ClientConfig:
    """A snapshot of a client definition: everything a token request needs, as plain values."""

    application_name: str
    identity: ClientIdentity
    endpoints: Endpoints
    tls: TlsSettings
    default_scope: str | None = field(default=None)
    #: RFC 7591 `client_secret_expires_at` (epoch seconds; 0 or None: never), checked before every request.
    secret_expires_at: int | None = field(default=None)


@dataclass(frozen=True)
class Token:
    """An access token as the agent hands it out; the token itself is left out of the repr."""

    access_token: str = field(repr=False)
    token_type: str
    expires_at: datetime
    scope: str | None = None
    issued_at: datetime | None = None
    #: The server's advice to renew this long after issue (`refresh_in`, as Azure AD sends), when it gave one.
    refresh_in: timedelta | None = None

    @property
    def lifetime(self) -> timedelta | None:
        """How long the token was valid for when it was issued."""
        return None if self.issued_at is None else self.expires_at - self.issued_at

    def is_expired(self, now: datetime, leeway: timedelta = timedelta(0)) -> bool:
        """True when the token has expired, or will within `leeway`."""
        return self.expires_at <= now + leeway


def normalize_scope(scope: str | Sequence[str] | None) -> str | None:
    """A scope as one blank-separated string of unique values in a stable order; None when empty."""
    if scope is None:
        return None
    values = scope.split() if isinstance(scope, str) else [v for part in scope for v in part.split()]
    unique = sorted(set(values))
    return " ".join(unique) or None


def normalize_resource(resource: str | Sequence[str] | None) -> tuple[str, ...]:
    """RFC 8707 resource indicators, unique and sorted."""
    if resource is None:
        return ()
    return tuple(sorted({resource} if isinstance(resource, str) else set(resource)))


def build_client_credentials_form(scope: str | None, resources: Sequence[str]) -> list[tuple[str, str]]:
    """The form of a client-credentials token request (RFC 6749 §4.4.2, RFC 8707 §2)."""
    form = [("grant_type", "client_credentials")]
    if scope:
        form.append(("scope", scope))
    form += [("resource", resource) for resource in resources]
    return form


def raise_for_error(response: HttpResponse) -> None:
    """Raise the RFC 6749 §5.2 error of a 4xx answer, or a ProtocolError for any other unexpected status.

    Raises:
        OAuthServerError: the body is an RFC 6749 §5.2 error object.
        ProtocolError: any other answer with a status other than 200.
    """
    if response.status_code == 200:
        return
    body = response.json_object()
    if body is not None and isinstance(body.get("error"), str):
        description = body.get("error_description")
        uri = body.get("error_uri")
        raise OAuthServerError(
            response.url,
            body["error"],
            description if isinstance(description, str) else None,
            uri if isinstance(uri, str) else None,
            response.status_code,
        )
    raise ProtocolError(response.url, "unexpected answer without an RFC 6749 error object", response.status_code)


def process_token_response(
    response: HttpResponse,
    *,
    now: datetime,
    requested_scope: str | None,
    default_lifetime: timedelta = DEFAULT_LIFETIME,
    unstorable: Callable[[str, str | None], list[Problem]] = lambda token_type, scope: [],
) -> Token:
    """The Token of a successful token response (RFC 6749 §5.1).

    `unstorable(token_type, scope)` says what of the answer the caller's store could not keep (its column rules).

    Raises:
        OAuthServerError: the server refused (RFC 6749 §5.2).
        ProtocolError: the answer is not a valid token response.
    """
    raise_for_error(response)
    body = response.json_object()
    if body is None:
        raise ProtocolError(response.url, "the token response is not a JSON object", response.status_code)
    access_token = body.get("access_token")
    token_type = body.get("token_type")
    if not isinstance(access_token, str) or not access_token:
        raise ProtocolError(response.url, "the token response has no access_token", response.status_code)
    if not _VSCHAR.fullmatch(access_token):
        reason = "the access_token holds characters other than visible ASCII (RFC 6749 Appendix A.12)"
        raise ProtocolError(response.url, reason, response.status_code)
    if not isinstance(token_type, str) or not token_type:
        raise ProtocolError(response.url, "the token response has no token_type", response.status_code)
    expires_in = body.get("expires_in")
    if expires_in is None:
        lifetime = default_lifetime
    elif (
        isinstance(expires_in, int | float)
        and not isinstance(expires_in, bool)
        and math.isfinite(expires_in)
        and 0 < expires_in <= MAX_EXPIRES_IN
    ):
        lifetime = timedelta(seconds=expires_in)
    else:
        reason = f"expires_in must be a positive number of seconds up to {MAX_EXPIRES_IN}"
        raise ProtocolError(response.url, reason, response.status_code)
    scope = body.get("scope")
    if not _TOKEN_TYPE.fullmatch(token_type):
        raise ProtocolError(response.url, "token_type is not a token type name (RFC 6749 A.13)", response.status_code)
    if isinstance(scope, str) and scope and not _SCOPE.fullmatch(scope):
        raise ProtocolError(response.url, "scope is not a list of scope tokens (RFC 6749 A.4)", response.status_code)
    problems = unstorable(token_type, scope if isinstance(scope, str) else None)
    if problems:
        detail = "; ".join(str(p) for p in problems)
        raise ProtocolError(response.url, f"the token response cannot be stored: {detail}", response.status_code)
    granted = scope if isinstance(scope, str) else requested_scope  # RFC 6749 §5.1: omitted = as requested
    return Token(access_token, token_type, now + lifetime, normalize_scope(granted), now, _refresh_in(body, lifetime))


def _refresh_in(body: dict[str, Any], lifetime: timedelta) -> timedelta | None:
    """The server's `refresh_in` when it is a number of seconds within the token's lifetime; else None (ignored)."""
    value = body.get("refresh_in")
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return None
    seconds = float(value)
    return timedelta(seconds=seconds) if 0 < seconds < lifetime.total_seconds() else None


def process_introspection_response(response: HttpResponse) -> dict[str, Any]:
    """The claims of an RFC 7662 §2.2 introspection response (always with a boolean `active`).

    Raises:
        OAuthServerError: the server refused the request.
        ProtocolError: the answer is not an introspection response.
    """
    raise_for_error(response)
    body = response.json_object()
    if body is None or not isinstance(body.get("active"), bool):
        raise ProtocolError(response.url, "not an introspection response (no boolean 'active')", 200)
    return body


def process_revocation_response(response: HttpResponse) -> None:
    """Check an RFC 7009 §2.2 revocation answer: 200, whatever the body.

    Raises:
        OAuthServerError: the server refused (e.g. unsupported_token_type).
        ProtocolError: any other status.
    """
    raise_for_error(response)


def utc_from_timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def post_authenticated(
    transport: Transport, config: ClientConfig, url: str, form: list[tuple[str, str]], now: float
) -> HttpResponse:
    """POST `form` to `url`, authenticated as the client by its token_endpoint_auth_method.

    Raises:
        KeyMaterialError: the client lacks the secret or key its method needs.
        TransportError, ProtocolError, InsecureEndpointError.
    """
    credentials = authenticate(config.identity, now)
    # A member the authentication sets (client_id for `none` and `client_secret_post`) is sent once, its way.
    fields = [item for item in form if item[0] not in credentials.form]
    return transport.post_form(url, [*fields, *credentials.form.items()], headers=credentials.headers)


def _post_token(
    config: ClientConfig,
    transport: Transport,
    endpoint: str,
    token: str,
    now: float,
    hint: str = "access_token",
) -> HttpResponse:
    """POST `token` to the client's `endpoint` (a member of its Endpoints), authenticated as the client.

    Raises:
        ProtocolError: the server definition has no such endpoint.
    """
    url = getattr(config.endpoints, endpoint)
    if not url:
        raise ProtocolError(config.endpoints.issuer, f"the server definition has no {endpoint}")
    return post_authenticated(transport, config, url, [("token", token), ("token_type_hint", hint)], now)


def introspect_token(config: ClientConfig, transport: Transport, token: str, now: float) -> dict[str, Any]:
    """RFC 7662 introspection of `token`, authenticated as the client.

    Raises:
        ProtocolError: the server has no introspection endpoint, or answered out of spec.
        OAuthServerError, TransportError.
    """
    return process_introspection_response(_post_token(config, transport, "introspection_endpoint", token, now))


def revoke_token(
    config: ClientConfig,
    transport: Transport,
    token: str,
    now: float,
    hint: str = "access_token",
) -> None:
    """RFC 7009 revocation of `token` (`hint`: access_token or refresh_token), authenticated as the client.

    Raises:
        ProtocolError: the server has no revocation endpoint, or answered out of spec.
        OAuthServerError, TransportError.
    """
    process_revocation_response(_post_token(config, transport, "revocation_endpoint", token, now, hint))


def build_authorization_code_form(code: str, redirect_uri: str, code_verifier: str | None) -> list[tuple[str, str]]:
    """The form exchanging an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.5): the same redirect_uri as sent."""
    form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect_uri)]
    if code_verifier is not None:
        form.append(("code_verifier", code_verifier))
    return form


def build_refresh_token_form(refresh_token: str) -> list[tuple[str, str]]:
    """The form of a refresh (RFC 6749 §6); like IRIS `GetAccessTokenRefresh`, no scope: the grant's is kept."""
    return [("grant_type", "refresh_token"), ("refresh_token", refresh_token)]


@dataclass(frozen=True)
class UserTokens:
    """A token response for a user: the access token, and the refresh and ID tokens when the server sent them."""

    token: Token
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    #: The response's other members (no token among them), kept as IRIS `ResponseProperties`.
    properties: dict[str, Any] = field(default_factory=dict)


_TOKEN_MEMBERS = frozenset({"access_token", "refresh_token", "id_token", "token_type", "scope"})


def process_user_token_response(
    response: HttpResponse,
    *,
    now: datetime,
    requested_scope: str | None,
    default_lifetime: timedelta = DEFAULT_LIFETIME,
    unstorable: Callable[[str, str | None], list[Problem]] = lambda token_type, scope: [],
) -> UserTokens:
    """A successful token response of the authorization code or refresh grant (RFC 6749 §5.1, OIDC Core 3.1.3.3).

    Raises:
        OAuthServerError: the server refused (e.g. invalid_grant: a used or expired code or refresh token).
        ProtocolError: the answer is not a valid token response.
    """
    token = process_token_response(
        response, now=now, requested_scope=requested_scope, default_lifetime=default_lifetime, unstorable=unstorable
    )
    body = response.json_object() or {}
    refresh_token, id_token = body.get("refresh_token"), body.get("id_token")
    for name, value in (("refresh_token", refresh_token), ("id_token", id_token)):
        if value is not None and (not isinstance(value, str) or not value or not _VSCHAR.fullmatch(value)):
            raise ProtocolError(response.url, f"the token response's {name} is not a token", response.status_code)
    properties = {name: value for name, value in body.items() if name not in _TOKEN_MEMBERS}
    return UserTokens(token, refresh_token, id_token, properties)

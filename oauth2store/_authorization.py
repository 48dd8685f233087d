"""The authorization code request and response on plain values (RFC 6749 §4.1, RFC 7636, RFC 9126, RFC 9207).

IRIS `%SYS.OAuth2.Authorization`'s internals (`CreateState`, `CreateNonce`, `MakeCodeVerifier`,
`MakeAuthorizationCodeURL`) and the parsing half of its `OAuth2.Response` page, without I/O: a pushed authorization
request is POSTed by the caller (`_tokens.post_authenticated`, with the client's authentication) and its answer
read here. Secrets made here (state, nonce, code verifier) are random, single use, and never appear in a message
or a repr.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from ._errors import AuthorizationError, CallbackError, ProtocolError, ValidationError
from ._errors import Problem as _Problem
from ._http.values import HttpResponse
from ._jwx import base64url
from ._tokens import raise_for_error

#: The response modes a framework-neutral callback can take: the query string, or a POSTed form.
RESPONSE_MODES = ("query", "form_post")
#: Request parameters oauth2store sets itself: `properties` may not replace them.
RESERVED = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "response_mode",
        "request_uri",
    }
)
#: The longest callback parameter read: anything longer is not an answer of a real server.
_MAX_PARAMETER = 8192


def random_value(size: int = 32) -> str:
    """A random base64url value of `size` bytes (state, nonce, logout state)."""
    return secrets.token_urlsafe(size)


def new_code_verifier() -> str:
    """An RFC 7636 §4.1 code verifier: 43 characters of the unreserved set, from 32 random bytes."""
    return secrets.token_urlsafe(32)


def code_challenge(verifier: str) -> str:
    """The S256 code challenge of `verifier` (RFC 7636 §4.2)."""
    return base64url.encode(hashlib.sha256(verifier.encode("ascii")).digest())


def digest(value: str) -> str:
    """The stored form of a state: a SHA-256 hex digest, looked up by index, never the state itself."""
    return hashlib.sha256(value.encode()).hexdigest()


def has_openid(scope: str | None) -> bool:
    """True when the scope asks for OpenID Connect (and so for an ID token)."""
    return "openid" in (scope or "").split()


def _parameter_value(name: str, value: object) -> list[str]:
    """A property as request parameter values: a dict is JSON (e.g. `claims`), a list repeats the parameter."""
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, dict):
        return [json.dumps(value, separators=(",", ":"))]
    if isinstance(value, str | int):
        return [str(value)]
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ValidationError("AuthorizationRequest", None, [_Problem(name, "must be text, a number, a list or a dict")])


@dataclass(frozen=True)
class PendingRequest:
    """What an authorization request sends and its callback must check, as plain values.

    `state`, `nonce` and `code_verifier` are secrets: they are left out of the repr.
    """

    client_id: str
    redirect_uri: str
    scope: str | None
    response_mode: str
    state: str = field(repr=False)
    nonce: str | None = field(repr=False)
    code_verifier: str | None = field(repr=False)
    #: `max_age` as sent, when it was: the ID token's `auth_time` is then checked against it.
    max_age: int | None = None
    extra: tuple[tuple[str, str], ...] = field(default=(), repr=False)


def new_request(
    *,
    client_id: str,
    redirect_uri: str,
    scope: str | None,
    response_mode: str = "query",
    properties: Mapping[str, Any] | None = None,
) -> PendingRequest:
    """A new authorization request: fresh state, a nonce when `openid` is asked for, and a PKCE verifier unless
    `properties` holds IRIS's `code_verifier=""` (PKCE off: unsafe, see the README).

    Raises:
        ValidationError: an unknown response mode, or a property that is not a request parameter.
    """
    problems: list[_Problem] = []
    if response_mode not in RESPONSE_MODES:
        problems.append(_Problem("response_mode", f"must be one of {', '.join(RESPONSE_MODES)}"))
    properties = dict(properties or {})
    verifier: str | None = new_code_verifier()
    if "code_verifier" in properties:
        if properties.pop("code_verifier") != "":
            problems.append(_Problem("code_verifier", 'only "" (PKCE off) may be given; the verifier is made here'))
        verifier = None
    reserved = sorted(RESERVED & set(properties))
    if reserved:
        problems.append(_Problem(reserved[0], "is set by oauth2store, not by properties"))
    max_age = properties.get("max_age")
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0):
        problems.append(_Problem("max_age", "must be a whole number of seconds, 0 or more"))
    if problems:
        raise ValidationError("AuthorizationRequest", None, problems)
    extra = tuple((name, text) for name, value in properties.items() for text in _parameter_value(name, value))
    return PendingRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        response_mode=response_mode,
        state=random_value(),
        nonce=random_value() if has_openid(scope) else None,
        code_verifier=verifier,
        max_age=max_age,
        extra=extra,
    )


def request_parameters(request: PendingRequest) -> list[tuple[str, str]]:
    """The authorization request's parameters (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1)."""
    parameters = [
        ("response_type", "code"),
        ("client_id", request.client_id),
        ("redirect_uri", request.redirect_uri),
    ]
    if request.scope:
        parameters.append(("scope", request.scope))
    parameters.append(("state", request.state))
    if request.nonce is not None:
        parameters.append(("nonce", request.nonce))
    if request.code_verifier is not None:
        parameters += [("code_challenge", code_challenge(request.code_verifier)), ("code_challenge_method", "S256")]
    if request.response_mode != "query":
        parameters.append(("response_mode", request.response_mode))
    return parameters + list(request.extra)


def loopback_redirect_uri(registered: str | None, port: object) -> str | None:
    """The redirect URI of a native app on `port` (RFC 8252 §7.3): the client's registered redirect URI with that
    port, when it is a loopback one (http on an IP literal such as 127.0.0.1 or [::1]; never `localhost`, §8.3),
    which the server must then accept on any port; None when the registered one is not.

    Raises:
        ValidationError: `port` is not a TCP port (1 to 65535).
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValidationError("AuthorizationRequest", None, [_Problem("loopback_port", "must be from 1 to 65535")])
    if not registered:
        return None
    parts = urlsplit(registered)
    host = parts.hostname or ""
    try:
        loopback = parts.scheme == "http" and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return None
    if not loopback:
        return None
    literal = f"[{host}]" if ":" in host else host
    return urlunsplit(("http", f"{literal}:{port}", parts.path, parts.query, ""))


def with_query(endpoint: str, parameters: Sequence[tuple[str, str]]) -> str:
    """`endpoint` with `parameters` added to its query (an endpoint may carry a query of its own)."""
    parts = urlsplit(endpoint)
    query = urlencode(parameters)
    joined = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, ""))


def process_par_response(response: HttpResponse) -> str:
    """The `request_uri` of a pushed authorization request's answer (RFC 9126 §2.2).

    Raises:
        OAuthServerError: the server refused (RFC 9126 §2.3).
        ProtocolError: the answer is not a PAR response.
    """
    if response.status_code not in (200, 201):
        raise_for_error(response)
    body = response.json_object()
    request_uri = body.get("request_uri") if body is not None else None
    if not isinstance(request_uri, str) or not request_uri:
        raise ProtocolError(response.url, "the pushed authorization response has no request_uri", response.status_code)
    return request_uri


@dataclass(frozen=True)
class CallbackParameters:
    """An authorization response as received (RFC 6749 §4.1.2, RFC 9207): `code` is a secret, left out of the repr."""

    state: str = field(repr=False)
    code: str | None = field(repr=False)
    iss: str | None
    error: str | None
    error_description: str | None
    error_uri: str | None


def parse_callback(parameters: Mapping[str, Any]) -> CallbackParameters:
    """The members of a callback's query or form (each given once; a list of one value is taken as that value).

    Raises:
        CallbackError: no state, or a member given twice, not text, or too long.
    """

    def member(name: str) -> str | None:
        value = parameters.get(name)
        if isinstance(value, list | tuple):
            if len(value) != 1:
                raise CallbackError(f"{name} must be given once")
            value = value[0]
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > _MAX_PARAMETER:
            raise CallbackError(f"{name} is not a text of at most {_MAX_PARAMETER} characters")
        return value

    state = member("state")
    if not state:
        raise CallbackError("the callback has no state")
    return CallbackParameters(
        state,
        member("code") or None,
        member("iss"),
        member("error"),
        member("error_description"),
        member("error_uri"),
    )


def check_issuer(received: CallbackParameters, *, issuer: str, required: bool) -> None:
    """RFC 9207 §2.4: `iss`, when present, must be the issuer; it must be present when the server says it sends it.

    Raises:
        CallbackError: a mismatch (a mix-up attack, or a response meant for another server), or a missing `iss`.
    """
    if received.iss is None:
        if required:
            raise CallbackError("the authorization response has no iss, which this server always sends (RFC 9207)")
        return
    if received.iss != issuer:
        raise CallbackError(f"the authorization response comes from issuer {received.iss!r}, not {issuer!r}")


def raise_for_authorization_error(received: CallbackParameters) -> None:
    """Raise the error of an error response (RFC 6749 §4.1.2.1).

    Raises:
        AuthorizationError: `error` is set.
        CallbackError: neither `error` nor `code`.
    """
    if received.error is not None:
        raise AuthorizationError(received.error, received.error_description, received.error_uri)
    if received.code is None:
        raise CallbackError("the authorization response has neither code nor error")


@dataclass(frozen=True)
class SignInEndpoints:
    """What signing a user in needs of a client definition beyond a token request's `ClientConfig`, as plain values."""

    authorization_endpoint: str | None
    redirect_uri: str | None
    pushed_authorization_request_endpoint: str | None = None
    require_pushed_authorization_requests: bool = False
    #: RFC 9207: the server says it always sends `iss` in authorization responses.
    iss_parameter_supported: bool = False
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None
    id_token_signed_response_alg: str | None = None
    userinfo_signed_response_alg: str | None = None
    post_logout_redirect_uris: tuple[str, ...] = ()

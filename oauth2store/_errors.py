"""Every error oauth2store raises on purpose, under one root.

::

    OAuth2StoreError
    ├── ValidationError (ValueError)    .problems: every failing property and why (IRIS #5659/#7201/#7202/#7205)
    ├── NotFoundError (LookupError)     .kind, .key                             (IRIS #5809)
    ├── DuplicateError                  .kind, .key                             (IRIS #5808)
    ├── InUseError                      .kind, .key, .used_by: delete refused   (IRIS #5823)
    ├── SchemaVersionError              .current, .head: the database needs `oauth2store db upgrade`
    ├── StoreKeyError                   the store key for the encrypted secrets is missing or not the database's key
    ├── ReadOnlyStoreError (PermissionError) the store's database is read-only for this process: writes are refused
    ├── KeyMaterialError                .application_name: the client has no usable key pair (or cannot have one)
    ├── ClientNotUsableError            .application_name, .reason: disabled, or awaiting registration
    ├── InsecureEndpointError (ValueError) .url, .reason: a non-https endpoint that is not loopback, or an ambiguous URL
    ├── TransportError                  .url (no query): timeout, connection refused, TLS failure, retries spent
    ├── ProtocolError                   .url, .status_code, .reason: the server broke the spec (non-JSON, wrong status)
    │   └── DiscoveryError              .issuer: a discovery document oauth2store refuses to store
    ├── OAuthServerError                .error, .error_description, .error_uri, .status_code (RFC 6749 §5.2)
    │   └── RegistrationError           the server refused a registration request (RFC 7591 §3.2.2, RFC 7592)
    ├── AuthorizationError              .error, .error_description, .error_uri: an authorization response's error
    ├── CallbackError (ValueError)      .reason: a sign-in or logout callback refused (unknown, used or expired state)
    ├── JWKSError                       a JWKS that cannot be used (private or malformed keys)
    └── JWTValidationError              .check: which check a JWT failed (alg, kid, signature, exp, aud, ...)

Messages name the property and the rule and never include a secret's value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit


class OAuth2StoreError(Exception):
    """Base class for every error oauth2store raises on purpose."""

    #: The `oauth2store` command's exit status for this kind of error (README, "The command line"): what a
    #: script should do next. Subclasses override it; 1 is "any other error".
    exit_code: ClassVar[int] = 1


@dataclass(frozen=True)
class Problem:
    """One broken rule: the property (Python name), what is wrong, and the IRIS error number if IRIS has one."""

    field: str
    message: str
    code: int | None = None

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ValidationError(OAuth2StoreError, ValueError):
    """One or more properties broke their rules; `problems` lists them all, not only the first."""

    exit_code = 3

    def __init__(self, kind: str, key: object, problems: Iterable[Problem]) -> None:
        self.kind = kind
        self.key = key
        self.problems = tuple(problems)
        subject = kind if key is None else f"{kind} {key!r}"
        super().__init__(f"{subject} is invalid: " + "; ".join(str(p) for p in self.problems))

    @property
    def fields(self) -> tuple[str, ...]:
        """The names of the failing properties, in the order they were checked."""
        return tuple(dict.fromkeys(p.field for p in self.problems))


class NotFoundError(OAuth2StoreError, LookupError):
    """No stored object has that key."""

    exit_code = 4

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


class DuplicateError(OAuth2StoreError):
    """An object with that unique key is already stored."""

    exit_code = 5

    def __init__(self, kind: str, key: object, field: str) -> None:
        self.kind = kind
        self.key = key
        self.field = field
        super().__init__(f"{kind} {key!r} already exists ({field} must be unique)")


class InUseError(OAuth2StoreError):
    """A delete was refused because other stored objects still refer to the object."""

    exit_code = 5

    def __init__(self, kind: str, key: object, used_by: Iterable[str]) -> None:
        self.kind = kind
        self.key = key
        self.used_by = tuple(used_by)
        shown = ", ".join(repr(u) for u in self.used_by[:5])
        more = f" and {len(self.used_by) - 5} more" if len(self.used_by) > 5 else ""
        super().__init__(f"{kind} {key!r} is still used by {shown}{more}; delete or move those first")


class SchemaVersionError(OAuth2StoreError):
    """The database schema is not at the revision this version of oauth2store needs."""

    exit_code = 6

    def __init__(self, current: str | None, head: str) -> None:
        self.current = current
        self.head = head
        found = "no oauth2store schema" if current is None else f"schema revision {current}"
        super().__init__(
            f"the database has {found}, this oauth2store needs {head}: "
            "run `oauth2store db upgrade` (or Store.upgrade())"
        )


class JWKSError(OAuth2StoreError):
    """A JWKS document that cannot be used: not a key set, a malformed key, or private key material."""

    exit_code = 7


class JWTValidationError(OAuth2StoreError):
    """A JWT failed one check; `check` names it ("format", "alg", "kid", "signature", "exp", "nbf", "iat",
    "iss", "aud" or "jwks"), and the message never includes the token."""

    def __init__(self, check: str, problem: str) -> None:
        self.check = check
        self.problem = problem
        super().__init__(f"JWT {check}: {problem}")


class StoreKeyError(OAuth2StoreError):
    """The key that encrypts the stored secrets is missing, malformed, or not the one the database was written with.

    Nothing is read or written with a wrong key: configure the right one (`Store(url, key=...)`,
    `$OAUTH2STORE_KEY`, or the key file beside a SQLite database) and retry.
    """

    exit_code = 8


class ReadOnlyStoreError(OAuth2StoreError, PermissionError):
    """The store's database is read-only for this process (a `mode=ro` URI, a file or directory it cannot write):
    reading works, writing is refused. The message names the database file."""

    exit_code = 9


class KeyMaterialError(OAuth2StoreError):
    """A client has no usable key pair for what was asked (signing a JWT, rotating keys for an HMAC algorithm)."""

    exit_code = 8

    def __init__(self, application_name: str | None, reason: str) -> None:
        self.application_name = application_name
        self.reason = reason
        super().__init__(f"Client {application_name!r}: {reason}" if application_name is not None else reason)


def url_without_query(url: str) -> str:
    """The URL as shown in messages: no query, fragment or user info (they may carry secrets).

    A URL that cannot be parsed is not shown at all (its parts cannot be told apart).
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return "<unparsable URL>"
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class ClientNotUsableError(OAuth2StoreError):
    """The client definition cannot get tokens as it stands: it is disabled, or not registered yet."""

    exit_code = 3

    def __init__(self, application_name: str, reason: str) -> None:
        self.application_name = application_name
        self.reason = reason
        super().__init__(f"Client {application_name!r} cannot get tokens: {reason}")


_HTTPS_ONLY = "endpoints must use https (plain http only on loopback, or with allow_insecure_http=True)"


class InsecureEndpointError(OAuth2StoreError, ValueError):
    """An endpoint is not https and not on a loopback host (and insecure HTTP was not allowed explicitly)."""

    exit_code = 3

    def __init__(self, url: str, reason: str | None = None) -> None:
        self.url = url_without_query(url)
        self.reason = reason or _HTTPS_ONLY
        super().__init__(f"{self.url}: {self.reason}")


class TransportError(OAuth2StoreError):
    """The HTTP exchange itself failed (timeout, connection, TLS, the call's deadline, or a retryable status such
    as 503 after the last retry), after any retries.

    `status_code` is the last answer's status when there was one, and `retry_after` the seconds its Retry-After
    asked for (None when absent), so that a caller can wait that long before asking again.
    """

    exit_code = 7

    def __init__(
        self, url: str, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        self.url = url_without_query(url)
        self.reason = message
        self.status_code = status_code
        self.retry_after = retry_after
        super().__init__(f"{self.url}: {message}")


class ProtocolError(OAuth2StoreError):
    """The server answered, but not as the specification says (not JSON, unexpected status, oversized body)."""

    exit_code = 7

    def __init__(self, url: str, message: str, status_code: int | None = None) -> None:
        self.url = url_without_query(url)
        self.status_code = status_code
        self.reason = message
        status = f" (HTTP {status_code})" if status_code is not None else ""
        super().__init__(f"{self.url}{status}: {message}")


class DiscoveryError(ProtocolError):
    """A discovery document was refused (wrong issuer, no token endpoint, not JSON); nothing was stored."""

    def __init__(self, issuer: str, url: str, message: str, status_code: int | None = None) -> None:
        self.issuer = issuer
        super().__init__(url, message, status_code)


class OAuthServerError(OAuth2StoreError):
    """The server answered with an RFC 6749 §5.2 error (e.g. invalid_client); never retried."""

    exit_code = 7

    #: How the message says what the server did with the request.
    outcome: ClassVar[str] = "answered"

    def __init__(
        self,
        url: str,
        error: str,
        error_description: str | None = None,
        error_uri: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.url = url_without_query(url)
        self.error = error
        self.error_description = error_description
        self.error_uri = error_uri
        self.status_code = status_code
        detail = f": {error_description}" if error_description else ""
        super().__init__(f"{self.url} (HTTP {status_code}) {self.outcome} {error}{detail}")


class RegistrationError(OAuthServerError):
    """The server refused a dynamic registration request: RFC 7591 §3.2.2 (`invalid_redirect_uri`,
    `invalid_client_metadata`, `invalid_software_statement`, `unapproved_software_statement`) or an RFC 7592 /
    RFC 6750 answer (`invalid_token` for a wrong initial or registration access token). Nothing was stored."""

    outcome = "refused the registration request:"


class AuthorizationError(OAuth2StoreError):
    """The authorization server answered an authorization request with an error (RFC 6749 §4.1.2.1), e.g.
    `access_denied` when the user declined; the error is also stored on the session's row (IRIS `Error`)."""

    exit_code = 7

    def __init__(self, error: str, error_description: str | None = None, error_uri: str | None = None) -> None:
        self.error = error
        self.error_description = error_description
        self.error_uri = error_uri
        detail = f": {error_description}" if error_description else ""
        super().__init__(f"the authorization server refused the sign-in: {error}{detail}")


class CallbackError(OAuth2StoreError, ValueError):
    """A sign-in or logout callback was refused before anything was stored: an unknown, already used or expired
    `state`, another application's state, a wrong `iss` (RFC 9207), or a missing `code`."""

    exit_code = 3

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"callback refused: {reason}")

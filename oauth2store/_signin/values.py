"""What the sign-in calls return, and a session's stored row as plain values (`Stored`), read in a short session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from .._errors import Problem as _Problem
from .._errors import ValidationError
from .._token_cache.keys import SESSION_PREFIX
from .._tokens import Token
from ..models.access_token import AccessToken


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser (`url`), and whether the session already holds a token for the scope (IRIS's
    `isAuthorized` output of `GetAuthorizationCodeEndpoint`); `pushed` when the request went by PAR (RFC 9126)."""

    url: str = field(repr=False)
    is_authorized: bool
    pushed: bool = False


@dataclass(frozen=True)
class SignedIn:
    """A callback's outcome: the session now signed in, and where to send the browser (IRIS `RedirectURL`)."""

    session_id: str
    redirect_url: str | None
    scope: str | None = None


@dataclass(frozen=True)
class SessionTokens:
    """IRIS `IsAuthorized`'s outputs: whether the session holds a token for every requested scope, the access and
    ID tokens (left out of the repr), the token response's other members, and the last error (IRIS `Error`)."""

    is_authorized: bool
    access_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    response_properties: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    scope: str | None = None
    expires: datetime | None = None


@dataclass(frozen=True)
class Stored:
    """A session's row as read, secrets decrypted (left out of the repr)."""

    id: int
    version: str | None
    client_version: str
    access_token: str | None = field(repr=False)
    token_type: str | None
    scope: str | None
    expires: datetime | None
    refresh_token: str | None = field(repr=False)
    id_token: str | None = field(repr=False)
    response_properties: dict[str, Any]
    error: dict[str, Any] | None
    nonce: str | None = field(repr=False)

    @property
    def token(self) -> Token | None:
        """The access token as the token cache compares it (None when there is none, or it is of another
        definition version)."""
        if not self.access_token or self.expires is None or self.version != self.client_version:
            return None
        expires_in = self.response_properties.get("expires_in")
        issued = None
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
            issued = self.expires - timedelta(seconds=expires_in)
        return Token(self.access_token, self.token_type or "Bearer", self.expires, self.scope, issued)

    def tokens(self, is_authorized: bool, error: dict[str, Any] | None = None) -> SessionTokens:
        return SessionTokens(
            is_authorized,
            self.access_token if is_authorized else None,
            self.id_token if is_authorized else None,
            dict(self.response_properties),
            error if error is not None else self.error,
            self.scope,
            self.expires,
        )


def read_stored(session: Session, application_name: str, session_id: str, client_version: str) -> Stored | None:
    """The session's row, or None."""
    row = AccessToken.OpenForSession(session, application_name, session_id)
    if row is None:
        return None
    return Stored(
        row.id,
        row.definition_version,
        client_version,
        row.access_token,
        row.token_type,
        row.scope,
        row.expires,
        row.refresh_token,
        row.id_token,
        dict(row.response_properties or {}),
        row.error,
        row.nonce,
    )


def check_session_id(session_id: object) -> str:
    """A user session id: text, 1 to 256 characters, not one of the agent's keys.

    Raises:
        ValidationError: any other value.
    """
    if not isinstance(session_id, str) or not 1 <= len(session_id) <= 256:
        raise ValidationError("AccessToken", None, [_Problem("session_id", "must be text of 1 to 256 characters")])
    if session_id.startswith(SESSION_PREFIX):
        problem = _Problem("session_id", f"ids starting with {SESSION_PREFIX!r} are the agent's")
        raise ValidationError("AccessToken", None, [problem])
    return session_id


def covers(granted: str | None, requested: str | None) -> bool:
    """True when every requested scope value was granted (IRIS `IsScopeContained`)."""
    return set((requested or "").split()) <= set((granted or "").split())

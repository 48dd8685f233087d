"""OAuth2.AccessToken: tokens a client obtained, keyed by (ApplicationName, SessionId) as in IRIS.

IRIS limits ApplicationName to 64 characters here (128 on the client) and the token to 2048; both are widened,
since the name must hold every client's name and JWT access tokens are often longer than 2048 characters.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, and_, delete, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.orm.attributes import get_history

from .._errors import Problem
from .._validation import Kind, check
from ._references import mapped_class, missing_reference
from ._validated import Validated
from .base import Base, UTCDateTime, iris_property
from .token_renewal import token_renewal

if TYPE_CHECKING:
    from .client import Client


#: The grant recorded on the tokens a client obtains for itself (the agent's).
CLIENT_CREDENTIALS = "client_credentials"
#: The grant recorded on a signed-in user's tokens.
AUTHORIZATION_CODE = "authorization_code"
#: How long an authorization request (or an RP-initiated logout) waits for its callback by default.
DEFAULT_PENDING_LIFETIME = timedelta(minutes=10)


def token_hash(access_token: str) -> str:
    """The digest stored in `AccessToken.hash`, to find a token (e.g. to revoke it) without comparing secrets."""
    return hashlib.sha256(access_token.encode()).hexdigest()


class AccessToken(Validated, Base):
    """IRIS OAuth2.AccessToken: one stored token response for one client and session."""

    __tablename__ = "OAuth2_AccessToken"
    __table_args__ = (
        UniqueConstraint("ApplicationName", "SessionId"),
        Index(None, "Hash"),
        Index(None, "StateHash"),
        Index(None, "LogoutState"),
    )
    kind = "AccessToken"

    #: IRIS `ID`.
    id: Mapped[int] = mapped_column("ID", primary_key=True, autoincrement=True)
    #: IRIS `ApplicationName`: the client that obtained the token.
    application_name: Mapped[str] = iris_property(
        "ApplicationName",
        Kind.STRING,
        ForeignKey("OAuth2_Client.ApplicationName", ondelete="CASCADE"),
        required=True,
        minlen=1,
        maxlen=128,
    )
    #: IRIS `SessionId`: a session's id, or a fixed id for tokens a service holds for itself.
    session_id: Mapped[str] = iris_property("SessionId", required=True, minlen=1, maxlen=256)
    #: IRIS `AccessToken`. Secret.
    access_token: Mapped[str | None] = iris_property("AccessToken", secret=True)
    #: IRIS `TokenType`, e.g. "Bearer".
    token_type: Mapped[str | None] = iris_property("TokenType", maxlen=64)
    #: IRIS `Scope`: the granted (or expected) scope, blank separated.
    scope: Mapped[str | None] = iris_property("Scope")
    #: IRIS `Expires` (epoch seconds in IRIS): an aware UTC datetime here.
    expires: Mapped[datetime | None] = mapped_column("Expires", UTCDateTime())
    #: IRIS `RefreshToken`. Secret.
    refresh_token: Mapped[str | None] = iris_property("RefreshToken", secret=True)
    #: IRIS `IDToken`. Secret.
    id_token: Mapped[str | None] = iris_property("IDToken", secret=True)
    #: IRIS `GrantType`: the RFC 6749 grant_type used.
    grant_type: Mapped[str | None] = iris_property("GrantType", maxlen=256)
    #: IRIS `ResponseType` and `ResponseMode` of the authorization request.
    response_type: Mapped[str | None] = iris_property("ResponseType", maxlen=256)
    response_mode: Mapped[str | None] = iris_property("ResponseMode", maxlen=64)
    #: IRIS `State` and `Nonce` of the authorization request. The sign-in flow keeps no plaintext state (only
    #: `state_hash`), so `state` stays empty on its rows; the nonce is kept to check the ID token against.
    state: Mapped[str | None] = iris_property("State", maxlen=256)
    nonce: Mapped[str | None] = iris_property("Nonce", maxlen=256)
    #: The SHA-256 digest of the pending authorization request's `state`, by which the callback finds the row
    #: (IRIS indexes `State` itself); cleared once the callback has used it. Not an IRIS property.
    state_hash: Mapped[str | None] = iris_property("StateHash", maxlen=64)
    #: IRIS `Stage`: "new" while an authorization request awaits its callback, "loggedin" once tokens are stored.
    stage: Mapped[str | None] = iris_property("Stage", valuelist=("new", "loggedin"))
    #: IRIS `CodeVerifier`: the PKCE (RFC 7636) verifier of the pending request. Secret.
    code_verifier: Mapped[str | None] = iris_property("CodeVerifier", secret=True)
    #: IRIS `RedirectURL`: the application's page the browser goes to after the callback.
    redirect_url: Mapped[str | None] = iris_property("RedirectURL", maxlen=2048)
    #: When the pending authorization request was made: it expires `pending_lifetime` later. Not an IRIS property.
    requested_at: Mapped[datetime | None] = mapped_column("RequestedAt", UTCDateTime())
    #: What the callback must check against what was sent (`redirect_uri`, `max_age`), none of it secret.
    request_parameters: Mapped[dict[str, Any] | None] = iris_property("RequestParameters", Kind.JSON)
    #: IRIS `LogoutState`, as the SHA-256 digest of the state sent with an RP-initiated logout (the plaintext is
    #: never stored), and IRIS `LogoutRedirectURL`, the page to go to once logged out.
    logout_state: Mapped[str | None] = iris_property("LogoutState", maxlen=64)
    logout_redirect_url: Mapped[str | None] = iris_property("LogoutRedirectURL", maxlen=2048)
    #: When the logout was started: an abandoned logout expires like a pending request. Not an IRIS property.
    logout_requested_at: Mapped[datetime | None] = mapped_column("LogoutRequestedAt", UTCDateTime())
    #: IRIS `Hash` and `IDHash`: digests for looking a token up without storing it in the clear.
    hash: Mapped[str | None] = iris_property("Hash", maxlen=128)
    id_hash: Mapped[str | None] = iris_property("IDHash", maxlen=128)
    #: IRIS `ResponseProperties`: the other members of the token response.
    response_properties: Mapped[dict[str, Any] | None] = iris_property("ResponseProperties", Kind.JSON)
    #: IRIS `Error`: the last RFC 6749 §5.2 error, as {error, error_description, error_uri}.
    error: Mapped[dict[str, Any] | None] = iris_property("Error", Kind.JSON)
    #: IRIS `TemporarySession`.
    temporary_session: Mapped[bool] = iris_property("TemporarySession", Kind.BOOLEAN, required=True, initial=False)

    #: The client's `definition_version` the token was obtained under: it is never handed out for another one.
    definition_version: Mapped[str | None] = mapped_column("DefinitionVersion", String(32), nullable=True)

    client: Mapped[Client] = relationship(back_populates="access_tokens")

    @property
    def identity(self) -> object:
        return (self.application_name, self.session_id)

    def reference_problems(self, session: Session) -> list[Problem]:
        if not get_history(self, "application_name").added:
            return []
        return missing_reference(session, "application_name", mapped_class("Client"), self.application_name)

    def normalize(self) -> None:
        if self.application_name is None and self.client is not None:
            self.application_name = self.client.application_name
        super().normalize()

    def IsExpired(self, now: datetime | None = None, leeway: timedelta = timedelta(0)) -> bool:
        """True when the token has expired, or will within `leeway` (IRIS `IsExpired`); no expiry means never."""
        if self.expires is None:
            return False
        return self.expires <= (now or datetime.now(UTC)) + leeway

    @classmethod
    def token_problems(cls, token_type: str, scope: str | None) -> list[Problem]:
        """What of a token response these columns could not keep (checked before a token is handed out)."""
        rules = cls.property_rules()
        return check("token_type", rules["token_type"][1], token_type) + check("scope", rules["scope"][1], scope)

    @classmethod
    def delete_token(cls, session: Session, application_name: str, access_token: str) -> int:
        """Delete the client's stored rows holding `access_token` (after it was revoked); the number deleted.

        Rows are deleted through the session, one by one, so that the token cache of this process hears of each.
        """
        statement = select(cls).where(cls.application_name == application_name, cls.hash == token_hash(access_token))
        rows = list(session.scalars(statement))
        for row in rows:
            session.delete(row)
        session.flush()
        return len(rows)

    @classmethod
    def OpenForSession(cls, session: Session, application_name: str, session_id: str) -> AccessToken | None:
        """The token stored for that client and session, or None (IRIS `OpenForSession`)."""
        return session.scalars(
            select(cls).where(cls.application_name == application_name, cls.session_id == session_id)
        ).one_or_none()

    @classmethod
    def Cleanup(
        cls,
        session: Session,
        now: datetime | None = None,
        *,
        pending_lifetime: timedelta = DEFAULT_PENDING_LIFETIME,
        application_name: str | None = None,
    ) -> int:
        """Remove expired tokens that cannot be refreshed and abandoned authorization requests (IRIS `Cleanup`).

        A row goes when its access token has expired and it holds no refresh token, or when it holds no access
        token and its authorization request is older than `pending_lifetime`; a row with tokens keeps them, and
        an abandoned re-authorization or logout on it is only forgotten. Rows are deleted through the session,
        one by one, so this process's token cache hears of each. Returns the number of rows deleted.
        """
        moment = now or datetime.now(UTC)
        abandoned = moment - pending_lifetime
        expired = and_(cls.access_token.is_not(None), cls.expires <= moment, cls.refresh_token.is_(None))
        unanswered = and_(cls.access_token.is_(None), or_(cls.requested_at.is_(None), cls.requested_at <= abandoned))
        statement = select(cls).where(or_(expired, unanswered))
        stale = select(cls).where(
            cls.access_token.is_not(None),
            or_(cls.requested_at <= abandoned, cls.logout_requested_at <= abandoned),
        )
        if application_name is not None:
            statement = statement.where(cls.application_name == application_name)
            stale = stale.where(cls.application_name == application_name)
        rows = list(session.scalars(statement))
        for row in rows:
            session.delete(row)
        for row in session.scalars(stale):
            if row.requested_at is not None and row.requested_at <= abandoned:
                row.forget_request()
            if row.logout_requested_at is not None and row.logout_requested_at <= abandoned:
                row.logout_state = row.logout_redirect_url = row.logout_requested_at = None
        session.flush()
        _drop_idle_renewals(session, moment, application_name)
        return len(rows)

    def forget_request(self) -> None:
        """End the pending authorization request: its state, verifier and times are no longer kept."""
        self.state_hash = None
        self.code_verifier = None
        self.requested_at = None
        self.request_parameters = None


def _drop_idle_renewals(session: Session, now: datetime, application_name: str | None) -> None:
    """Delete the renewal rows (OAuth2_TokenRenewal) of keys that hold no token any more and no live lease."""
    renewal = token_renewal.c
    tokens = AccessToken.__table__.c
    holds_token = (
        select(tokens.ID)
        .where(tokens.ApplicationName == renewal.ApplicationName, tokens.SessionId == renewal.SessionId)
        .exists()
    )
    idle = and_(~holds_token, or_(renewal.LeaseExpires.is_(None), renewal.LeaseExpires < now.timestamp()))
    if application_name is not None:
        idle = and_(idle, renewal.ApplicationName == application_name)
    session.execute(delete(token_renewal).where(idle))

"""A client's own key pairs (IRIS keeps them as the client's private and public JWKS), one row per key.

Lifecycle, derived from timestamps alone so concurrent rotations never have to update each other's rows:
- published: `now < active_from`. The public key is in the client's JWKS, so servers that cache the JWKS learn it
  before it signs anything.
- active: the newest key of its use (`sig` or `enc`) whose `active_from` has passed. It signs (or is the one
  offered for encryption).
- retired: a newer key of the same use became active at `retired_at`. It no longer signs, but stays published
  for `retention` so assertions it signed (and servers' cached JWKS) stay valid; then RotateKeys drops it.
The active key is never dropped, whatever its age.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.orm.attributes import get_history

from .._errors import Problem
from .._validation import Kind
from ._references import mapped_class, missing_reference
from ._validated import Validated
from .base import Base, UTCDateTime, iris_property

if TYPE_CHECKING:
    from .client import Client


class KeyState(StrEnum):
    """Where a key is in its lifecycle at a given time."""

    PUBLISHED = "published"
    ACTIVE = "active"
    RETIRED = "retired"


class ClientKey(Validated, Base):
    """One key pair of a client: its JWK thumbprint, use and algorithm, the private JWK (encrypted) and public JWK."""

    __tablename__ = "OAuth2_ClientKey"
    __table_args__ = (UniqueConstraint("ApplicationName", "Kid"),)
    kind = "ClientKey"

    id: Mapped[int] = mapped_column("ID", primary_key=True, autoincrement=True)
    #: The client the key belongs to; the key is deleted with it (ON DELETE CASCADE).
    application_name: Mapped[str] = iris_property(
        "ApplicationName",
        Kind.STRING,
        ForeignKey("OAuth2_Client.ApplicationName", ondelete="CASCADE"),
        required=True,
        minlen=1,
        maxlen=128,
        index=True,
    )
    #: RFC 7638 thumbprint (SHA-256, base64url) of the public key.
    kid: Mapped[str] = iris_property("Kid", required=True, minlen=1, maxlen=64)
    #: JWK `use`: "sig" signs client assertions, "enc" decrypts responses encrypted to the client.
    use: Mapped[str] = iris_property("Use", required=True, valuelist=("enc", "sig"))
    #: JWA algorithm the key is for, e.g. RS256, ES256, RSA-OAEP.
    alg: Mapped[str] = iris_property("Alg", required=True, minlen=1, maxlen=16)
    #: The private JWK as JSON text. Secret (encrypted at rest).
    private_jwk: Mapped[str] = iris_property("PrivateJWK", required=True, secret=True)
    #: The public JWK (kty and key members, kid, use, alg), ready to publish.
    public_jwk: Mapped[dict[str, Any]] = iris_property("PublicJWK", Kind.JSON, required=True)
    #: When RotateKeys made the key; it is published from then on.
    created: Mapped[datetime] = mapped_column("Created", UTCDateTime(), nullable=False)
    #: When the key starts to sign (or to be offered for encryption).
    active_from: Mapped[datetime] = mapped_column("ActiveFrom", UTCDateTime(), nullable=False)
    #: Seconds the key stays published after it is retired.
    retention: Mapped[int] = iris_property("Retention", Kind.INTEGER, required=True, minval=0)

    client: Mapped[Client] = relationship(back_populates="keys")

    def reference_problems(self, session: Session) -> list[Problem]:
        if not get_history(self, "application_name").added:
            return []
        return missing_reference(session, "application_name", mapped_class("Client"), self.application_name)

    def normalize(self) -> None:
        if self.application_name is None and self.client is not None:
            self.application_name = self.client.application_name
        super().normalize()

    def _order(self) -> tuple[datetime, datetime, int, str]:
        # Newest last: by activation, then creation, then insertion (an unsaved key is the newest).
        return (self.active_from, self.created, self.id if self.id is not None else sys.maxsize, self.kid)

    def retired_at(self, keys: Iterable[ClientKey], now: datetime) -> datetime | None:
        """When a newer key of the same use became active (by `now`), or None while this key is not superseded."""
        successors = [
            k.active_from
            for k in keys
            if k is not self and k.use == self.use and k.active_from <= now and k._order() > self._order()
        ]
        return min(successors) if successors and self.active_from <= now else None

    def state(self, keys: Iterable[ClientKey], now: datetime) -> KeyState:
        """The key's lifecycle state at `now`, among the client's `keys`."""
        if now < self.active_from:
            return KeyState.PUBLISHED
        return KeyState.RETIRED if self.retired_at(keys, now) is not None else KeyState.ACTIVE

    def is_expired(self, keys: Iterable[ClientKey], now: datetime) -> bool:
        """True once the key has been retired for longer than its retention: it is no longer published."""
        retired = self.retired_at(keys, now)
        return retired is not None and now >= retired + timedelta(seconds=self.retention)


def active_key(keys: Iterable[ClientKey], use: str, now: datetime) -> ClientKey | None:
    """The newest key of `use` whose activation time has passed, or None."""
    candidates = [k for k in keys if k.use == use and k.active_from <= now]
    return max(candidates, key=ClientKey._order, default=None)

"""What a cached token is filed under and when it stops being handed out: `session_id`, `Skew`, `Entry`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from .._tokens import Token

#: Session ids of agent tokens start with this.
SESSION_PREFIX = "agent:"
#: Tokens that live this long or longer are renewed at half their lifetime, long before they expire, so that a
#: server outage of up to half a lifetime goes unnoticed (the still-valid token is served meanwhile).
LONG_LIVED = 7200.0


def session_id(scope: str | None, resources: Sequence[str]) -> str:
    """The cache key of a token for that (normalized) scope and those resources."""
    material = json.dumps([scope or "", list(resources)], separators=(",", ":")).encode()
    return SESSION_PREFIX + hashlib.sha256(material).hexdigest()[:40]


@dataclass(frozen=True)
class Skew:
    """How long before its expiry a token is renewed: `fixed` seconds, else max(`minimum`, `fraction` x lifetime).

    Never more than half the lifetime, so that a short-lived token is still used for a while. A token of
    `LONG_LIVED` seconds or more is renewed at half its lifetime, and a server's `refresh_in` advice is followed
    when it asks for an earlier renewal.
    """

    fixed: float | None = None
    minimum: float = 60.0
    fraction: float = 0.1

    def seconds(self, lifetime: float) -> float:
        wanted = self.fixed if self.fixed is not None else max(self.minimum, self.fraction * lifetime)
        if lifetime >= LONG_LIVED:
            wanted = max(wanted, lifetime / 2)
        return min(wanted, lifetime / 2)

    def renew_at(self, token: Token) -> float:
        """Epoch seconds from which the token is no longer handed out without trying to renew it."""
        lifetime = token.lifetime
        expires = token.expires_at.timestamp()
        seconds = lifetime.total_seconds() if lifetime is not None else 2 * self.minimum
        renew = expires - self.seconds(max(seconds, 0.0))
        if token.refresh_in is not None and token.issued_at is not None:
            renew = min(renew, token.issued_at.timestamp() + token.refresh_in.total_seconds())
        return renew


@dataclass(frozen=True)
class Entry:
    """A token in the in-process layer: when it stops being handed out, and the client definition version it was
    obtained under (it is never handed out for another)."""

    token: Token
    renew_at: float
    version: str | None = None

"""A user session's refresh, single flight across threads and processes, safe under refresh-token rotation.

The agent's renewal lease (`_token_cache.renewal`, one row per (application, session) in OAuth2_TokenRenewal)
decides who refreshes; the refresh itself is the session's own:

1. The lease is taken in a short transaction; a session whose token another process refreshed meanwhile is used
   as it is (`USE`), a live lease of another process is waited for, serving the still-valid token if there is one.
2. Holding the lease, the row is read again: the refresh token sent is the one stored now, so a token another
   process rotated is never sent twice (a reused refresh token revokes the whole grant at servers that detect it).
3. The server is asked with no transaction open.
4. The result is written only while the lease is still this caller's and the row still holds the refresh token it
   sent: a newer token (another sign-in, a logout) is never overwritten with an older one.
5. `invalid_grant` signs the session out only if the row, read again under the lease, still holds the refresh token
   that was refused; otherwise the stored one is used.

Transport failures and other server errors are recorded for every process (`renewal.fail`), as the agent's are,
and the still-valid access token is served meanwhile.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from .._errors import OAuthServerError, StoreKeyError, TransportError
from .._store import Store
from .._token_cache import renewal
from .._token_cache.failures import RECORDED
from .._token_cache.keys import Skew
from .._token_cache.renewal import Decision
from .._tokens import Token, UserTokens
from ..models.access_token import AccessToken, token_hash
from .values import Stored

log = logging.getLogger("oauth2store")

#: How much longer than the call's deadline a refresher's lease lasts.
LEASE_MARGIN = 10.0
#: A token is served as "still valid" only while it has at least this many seconds left.
MINIMUM_REMAINING = 1.0
_FIRST_PAUSE, _MAX_PAUSE = 0.01, 0.5

#: `read(session_id)`: the session's row now (None when there is none).
Read = Callable[[str], Stored | None]
#: `ask(refresh_token, ends_by)`: the server's answer to a refresh, its ID token checked against the session's.
Ask = Callable[[str, str | None, float], UserTokens]


@dataclass(frozen=True)
class Outcome:
    """What a refresh left: the row to answer from, and the error to report when it holds no usable token."""

    stored: Stored | None
    error: dict[str, Any] | None = None


def _error_of(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, OAuthServerError):
        return {"error": exc.error, "error_description": exc.error_description, "error_uri": exc.error_uri}
    return {"error": "temporarily_unavailable", "error_description": str(exc), "error_uri": None}


class Refresher:
    """Refreshes of one store's user sessions of one application (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        application_name: str,
        *,
        skew: Skew,
        deadline: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.application_name = application_name
        self.skew = skew
        self.deadline = deadline
        self.lease = deadline + LEASE_MARGIN
        self.clock = clock
        self.sleep = sleep
        self.owner = renewal.new_owner()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def fresh(self, token: Token | None, now: float) -> bool:
        return token is not None and now < self.skew.renew_at(token)

    def usable(self, stored: Stored | None, now: float) -> bool:
        token = stored.token if stored is not None else None
        return token is not None and token.expires_at.timestamp() - now >= MINIMUM_REMAINING

    def _lock(self, session_id: str) -> threading.Lock:
        with self._guard:
            if len(self._locks) > 4096:
                self._locks = {key: lock for key, lock in self._locks.items() if lock.locked()}
            return self._locks.setdefault(session_id, threading.Lock())

    def refresh(self, session_id: str, read: Read, ask: Ask) -> Outcome:
        """The session's row after a refresh (by this caller or another), or what is left when it failed."""
        with self._lock(session_id):  # one thread per session in this process; the lease does processes
            stored = read(session_id)
            if stored is None or self.fresh(stored.token, self.clock()):
                return Outcome(stored)
            return self._with_lease(session_id, read, ask, time.monotonic() + self.deadline)

    def _claim(self, session_id: str, now: float) -> renewal.Claim:
        def claim() -> renewal.Claim:
            return renewal.claim(
                self.store.engine,
                self.application_name,
                session_id,
                owner=self.owner,
                now=now,
                lease=self.lease,
                fresh=lambda token: self.fresh(token, now),
            )

        try:
            return claim()
        except StoreKeyError:
            self.store.reload_key()
            return claim()

    def _with_lease(self, session_id: str, read: Read, ask: Ask, ends_by: float) -> Outcome:
        pause = _FIRST_PAUSE
        while True:
            if time.monotonic() >= ends_by:
                error = TransportError("", f"no refresh within the call's deadline ({self.deadline:g} s)")
                stored = read(session_id)
                return Outcome(stored, None if self.usable(stored, self.clock()) else _error_of(error))
            now = self.clock()
            claim = self._claim(session_id, now)
            if claim.decision is Decision.USE:
                return Outcome(read(session_id))
            if claim.decision is Decision.BACKOFF:
                assert claim.failure is not None and claim.retry_at is not None
                stored = read(session_id)
                failure = claim.failure.exception(claim.retry_at)
                return Outcome(stored, None if self.usable(stored, now) else _error_of(failure))
            if claim.decision is Decision.WAIT:
                stored = read(session_id)
                if self.usable(stored, now):
                    return Outcome(stored)
                jittered = pause * (0.5 + random.random() / 2)  # noqa: S311 -- jitter, not a secret
                self.sleep(min(jittered, max(ends_by - time.monotonic(), 0.0)))
                pause = min(pause * 2, _MAX_PAUSE)
                continue
            outcome = self._leased(session_id, read, ask, ends_by, claim.version, now)
            if outcome is not None:
                return outcome

    def _leased(
        self, session_id: str, read: Read, ask: Ask, ends_by: float, version: str, now: float
    ) -> Outcome | None:
        """Refresh holding the lease; the outcome, or None to claim again (the row changed meanwhile)."""
        engine, name = self.store.engine, self.application_name
        try:
            stored = read(session_id)  # again, under the lease: another process may have rotated the token
            if stored is None or stored.refresh_token is None or stored.version != version:
                renewal.release(engine, name, session_id, owner=self.owner)
                return Outcome(stored)
            if self.fresh(stored.token, now):
                renewal.release(engine, name, session_id, owner=self.owner)
                return Outcome(stored)
            sent = stored.refresh_token
            try:
                answer = ask(sent, stored.id_token, ends_by)
            except OAuthServerError as refused:
                if refused.error != "invalid_grant":
                    raise
                return self._refused(session_id, read, sent, version, refused)
        except RECORDED as exc:
            stored = read(session_id)
            valid_until = None
            if self.usable(stored, now) and stored is not None and stored.expires is not None:
                valid_until = stored.expires.timestamp() - MINIMUM_REMAINING
            renewal.fail(
                engine, name, session_id, owner=self.owner, version=version, error=exc, now=now, valid_until=valid_until
            )
            if valid_until is None:
                return Outcome(stored, _error_of(exc))
            log.warning("%s: refreshing a session failed (%s); serving its access token, still valid", name, exc)
            return Outcome(stored)
        except BaseException:
            renewal.release(engine, name, session_id, owner=self.owner)
            raise

        def write(session: Session) -> bool:
            row = AccessToken.OpenForSession(session, name, session_id)
            if row is None or row.refresh_token != sent:
                return False
            store_refreshed(row, answer, version)
            session.flush()
            return True

        if self._complete(session_id, version, write):
            return Outcome(read(session_id))
        renewal.release(engine, name, session_id, owner=self.owner)
        return None  # the row changed meanwhile: look again

    def _refused(
        self, session_id: str, read: Read, sent: str, version: str, refused: OAuthServerError
    ) -> Outcome | None:
        """`invalid_grant`: signed out, unless the row now holds another refresh token (then claim again)."""
        error = _error_of(refused)

        def sign_out(session: Session) -> bool:
            row = AccessToken.OpenForSession(session, self.application_name, session_id)
            if row is None or row.refresh_token != sent:
                return False
            row.access_token = row.refresh_token = row.id_token = None
            row.hash = row.id_hash = None
            row.expires = None
            row.stage = None
            row.error = error
            session.flush()
            return True

        if self._complete(session_id, version, sign_out):
            log.info("%s: the server refused the session's refresh token (invalid_grant): signed out", refused.url)
            return Outcome(read(session_id), error)
        renewal.release(self.store.engine, self.application_name, session_id, owner=self.owner)
        return None

    def _complete(self, session_id: str, version: str, write: Callable[[Session], bool]) -> bool:
        def complete() -> bool:
            return renewal.complete_with(
                self.store.engine, self.application_name, session_id, owner=self.owner, version=version, write=write
            )

        try:
            try:
                return complete()
            except StoreKeyError:  # re-keyed meanwhile: never write a secret with the old key
                self.store.reload_key()
                return complete()
        except BaseException:
            renewal.release(self.store.engine, self.application_name, session_id, owner=self.owner)
            raise


def store_refreshed(row: AccessToken, answer: UserTokens, version: str) -> None:
    """Write a token response onto the session's row: a refresh token or ID token the server did not send again
    is kept (RFC 6749 §6: the client keeps using the one it has)."""
    token = answer.token
    row.access_token = token.access_token
    row.token_type = token.token_type
    row.scope = token.scope
    row.expires = token.expires_at
    row.hash = token_hash(token.access_token)
    if answer.refresh_token is not None:
        row.refresh_token = answer.refresh_token
    if answer.id_token is not None:
        row.id_token = answer.id_token
        row.id_hash = token_hash(answer.id_token)
    properties = dict(answer.properties)
    if token.lifetime is not None:
        properties["expires_in"] = token.lifetime.total_seconds()
    row.response_properties = properties
    row.error = None
    row.definition_version = version


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)

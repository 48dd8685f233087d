"""Renewal without holding the store: a lease taken in one short transaction, the result written in another.

Who renews a key is decided in a short transaction on its renewal row (`claim`): a fresh stored token is used; a
recorded failure whose retry time has not come is shared (`BACKOFF`); a live lease of another renewer means
`WAIT`; otherwise the caller takes the lease (`RENEW`) and asks the server with no transaction open. Its result is
written in another short transaction (`complete`), only while the lease is still its own and the client's
definition is still the one the token was obtained under; a failure is recorded the same way (`fail`). A lease
ends at its expiry, or at once when its owner is a process of this machine that no longer runs (a renewer killed
mid-request), so a waiter takes over without waiting out the lease.

Locks: SQLite transactions begin IMMEDIATE (the database write lock, for a few statements only); elsewhere the
client row is locked FOR SHARE (a concurrent change to the definition waits for the few statements, and vice
versa) and the renewal row FOR UPDATE.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Engine, Row, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .._encryption.key_check import read_key_check, verify
from .._encryption.registry import require_cipher
from .._errors import ClientNotUsableError, NotFoundError, OAuth2StoreError
from .._sqlite import SQLITE_BEGIN_IMMEDIATE
from .._tokens import Token
from ..models.access_token import CLIENT_CREDENTIALS, AccessToken, token_hash
from ..models.client import Client
from ..models.token_renewal import token_renewal
from .failures import MAX_BACKOFF, Failure, retry_at
from .reader import token_from

_HOST = socket.gethostname()[:40]


def new_owner() -> str:
    """A renewer's id: this machine, this process, and a random part (at most 64 characters)."""
    return f"{_HOST}:{os.getpid()}:{secrets.token_hex(6)}"


def _owner_alive(owner: str) -> bool:
    """False only for an owner known to be gone: a process of this machine that no longer runs (or a zombie)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _HOST or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: alive
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class Decision(Enum):
    USE = "use"  # a fresh token is stored
    RENEW = "renew"  # the lease is the caller's: ask the server
    WAIT = "wait"  # another renewer holds a live lease
    BACKOFF = "backoff"  # a recorded failure says not to ask the server yet


@dataclass(frozen=True)
class Claim:
    """What `claim` decided, with the client's definition version and its stored token (fresh or not)."""

    decision: Decision
    version: str
    token: Token | None
    failure: Failure | None = None
    retry_at: float | None = None


@contextmanager
def _short_transaction(engine: Engine) -> Iterator[Session]:
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.execution_options(**{SQLITE_BEGIN_IMMEDIATE: True})
        with Session(connection, expire_on_commit=False) as session, session.begin():
            yield session


def _definition(session: Session, application_name: str) -> tuple[str, bool]:
    statement = select(Client.definition_version, Client.enabled).where(Client.application_name == application_name)
    if session.get_bind().dialect.name != "sqlite":
        statement = statement.with_for_update(read=True)
    row = session.execute(statement).first()
    if row is None:
        raise NotFoundError(Client.kind, application_name)
    return str(row[0]), bool(row[1])


def _renewal_row(session: Session, application_name: str, key: str) -> Row[Any]:
    """The key's renewal row, locked; created when missing."""
    columns = token_renewal.c
    statement = select(token_renewal).where(columns.ApplicationName == application_name, columns.SessionId == key)
    if session.get_bind().dialect.name != "sqlite":
        statement = statement.with_for_update()
    row = session.execute(statement).first()
    if row is None:
        try:
            with session.begin_nested():
                session.execute(insert(token_renewal).values(ApplicationName=application_name, SessionId=key))
        except IntegrityError:
            pass  # another process created it first
        row = session.execute(statement).one()
    return row


def _stored_token(session: Session, application_name: str, key: str, version: str) -> Token | None:
    row = AccessToken.OpenForSession(session, application_name, key)
    if row is None or row.definition_version != version:
        return None
    return token_from([row.access_token, row.token_type, row.scope, row.expires, row.response_properties])


def claim(
    engine: Engine,
    application_name: str,
    key: str,
    *,
    owner: str,
    now: float,
    lease: float,
    fresh: Callable[[Token], bool],
) -> Claim:
    """Decide, in one short transaction, whether the caller uses a stored token, renews, waits or backs off.

    Raises:
        NotFoundError: the client no longer exists.
        ClientNotUsableError: the client is disabled.
    """
    with _short_transaction(engine) as session:
        version, enabled = _definition(session, application_name)
        if not enabled:
            raise ClientNotUsableError(application_name, "the client is disabled")
        row = _renewal_row(session, application_name, key)
        # Read after the renewal row is locked: a renewer that just finished has committed its token by now.
        token = _stored_token(session, application_name, key, version)
        if token is not None and fresh(token):
            return Claim(Decision.USE, version, token)
        if row.FailureVersion == version and row.RetryAfter is not None and row.RetryAfter > now:
            return Claim(Decision.BACKOFF, version, token, Failure.from_json(row.Failure), row.RetryAfter)
        if row.LeaseOwner and (row.LeaseExpires or 0.0) > now and _owner_alive(row.LeaseOwner):
            return Claim(Decision.WAIT, version, token)
        _set_renewal(session, application_name, key, LeaseOwner=owner, LeaseExpires=now + lease)
        return Claim(Decision.RENEW, version, token)


def _set_renewal(session: Session, application_name: str, key: str, **values: Any) -> None:
    columns = token_renewal.c
    session.execute(
        update(token_renewal)
        .where(columns.ApplicationName == application_name, columns.SessionId == key)
        .values(**values)
    )


def _holds_lease(session: Session, application_name: str, key: str, owner: str) -> Row[Any] | None:
    row = _renewal_row(session, application_name, key)
    return row if row.LeaseOwner == owner else None


def complete(
    engine: Engine,
    application_name: str,
    key: str,
    *,
    owner: str,
    version: str,
    token: Token,
    resources: Sequence[str],
) -> bool:
    """Store the renewed token, if the lease is still `owner`'s and the definition still `version`; True if so.

    A renewer that lost its lease (it took longer than the lease) or whose client changed meanwhile drops its
    result: the token is not stored, nor handed out as the cached one.
    """

    def write(session: Session) -> bool:
        _save_token(session, application_name, key, token, resources, version)
        return True

    return complete_with(engine, application_name, key, owner=owner, version=version, write=write)


def complete_with(
    engine: Engine,
    application_name: str,
    key: str,
    *,
    owner: str,
    version: str,
    write: Callable[[Session], bool],
) -> bool:
    """Like `complete`, with the caller's `write(session)`, which stores the result (True), or finds the stored
    row changed meanwhile and leaves it (False: the lease stays the caller's, to `release`).

    A user session's refresh writes the rotated refresh token and the ID token with the access token, and only
    while the row still holds the refresh token it used: a newer token is never overwritten by an older one.
    """
    with _short_transaction(engine) as session:
        current, _ = _definition(session, application_name)
        if _holds_lease(session, application_name, key, owner) is None or current != version:
            return False
        _check_key(session)
        if not write(session):
            return False
        _set_renewal(
            session,
            application_name,
            key,
            LeaseOwner=None,
            LeaseExpires=None,
            Failures=0,
            Failure=None,
            FailureVersion=None,
            RetryAfter=None,
        )
        return True


def _check_key(session: Session) -> None:
    """Refuse to write a secret with a key the database no longer uses (another process re-keyed it).

    Raises:
        StoreKeyError: this process's key is not the database's.
    """
    connection = session.connection()
    verifier = read_key_check(connection, share=True)
    if verifier is not None:
        verify(require_cipher(connection.dialect), verifier)


def fail(
    engine: Engine,
    application_name: str,
    key: str,
    *,
    owner: str,
    version: str,
    error: OAuth2StoreError,
    now: float,
    valid_until: float | None = None,
    max_backoff: float = MAX_BACKOFF,
) -> float:
    """Record a failed renewal (and end the lease); the epoch second from which the server may be asked again.

    Without a Retry-After, the next attempt comes no later than `valid_until` (when the token still handed out
    expires): that is when a new one is needed most.
    """
    with _short_transaction(engine) as session:
        row = _holds_lease(session, application_name, key, owner)
        if row is None:
            return retry_at(error, 1, now)  # the lease was lost meanwhile: the new renewer records its own
        failures = row.Failures + 1 if row.FailureVersion == version else 1
        at = retry_at(error, failures, now, max_backoff=max_backoff)
        if valid_until is not None and getattr(error, "retry_after", None) is None:
            at = min(at, valid_until)
        _set_renewal(
            session,
            application_name,
            key,
            LeaseOwner=None,
            LeaseExpires=None,
            Failures=failures,
            Failure=Failure.of(error).as_json(),
            FailureVersion=version,
            RetryAfter=at,
        )
        return at


def release(engine: Engine, application_name: str, key: str, *, owner: str) -> None:
    """End `owner`'s lease without a result (the renewal stopped for a reason of its own, before any request)."""
    with _short_transaction(engine) as session:
        if _holds_lease(session, application_name, key, owner) is not None:
            _set_renewal(session, application_name, key, LeaseOwner=None, LeaseExpires=None)


def _save_token(
    session: Session, application_name: str, key: str, token: Token, resources: Sequence[str], version: str
) -> None:
    row = AccessToken.OpenForSession(session, application_name, key)
    if row is None:
        row = AccessToken(application_name=application_name, session_id=key)
        session.add(row)
    lifetime = token.lifetime
    properties: dict[str, Any] = {"resource": list(resources)}
    if lifetime is not None:
        properties["expires_in"] = lifetime.total_seconds()
    if token.refresh_in is not None:
        properties["refresh_in"] = token.refresh_in.total_seconds()
    row.access_token = token.access_token
    row.token_type = token.token_type
    row.scope = token.scope
    row.expires = token.expires_at
    row.grant_type = CLIENT_CREDENTIALS
    row.hash = token_hash(token.access_token)
    row.response_properties = properties
    row.error = None
    row.definition_version = version
    session.flush()

"""An authorization server's public JWKS: fetched from its `jwks_uri`, HTTP-cached, parsed once (IRIS RefreshJWKS).

Protocol code on plain values: a server definition's cached copy is read through `CachedJWKS`, and `refresh_jwks`
returns the next one as a `ServerJWKS`; the models read and write the columns. One GET per refresh through the
transport it is given, with `If-None-Match` when an ETag is known (transport rules apply: https unless loopback,
timeouts, 1 MiB, same-origin redirects only). What could poison the cache is refused before anything is returned:
a status other than 200/304, a content type that is not JSON, a body that is not a JWKS, malformed or private keys.

How long a fetched copy is cached (HTTP caching in IRIS's expiry convention) is oauth2store._cache_expiry.

Parsed key sets are content-addressed, so they are shared by the whole process. The unknown-`kid` refresh state is
not: it is per store (`state_of(session).get(UnknownKidRefreshes)`), since two stores may define one issuer apart.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ._cache_expiry import DEFAULT_POLICY, CachePolicy, expiry_from_headers, is_expired
from ._errors import JWKSError, url_without_query
from ._http.values import HttpResponse
from ._jwx.jwk import KeySet
from ._lru import LRUCache

if TYPE_CHECKING:
    from ._http.transport import Transport

#: Least time between two forced refreshes of one server's JWKS for an unknown `kid`.
UNKNOWN_KID_COOLDOWN = 30.0
_JSON_TYPES = ("application/json", "application/jwk-set+json")


class CachedJWKS(Protocol):
    """What a server definition holds about its server's JWKS (read only, and only the members asked for)."""

    @property
    def jwks_uri(self) -> str | None: ...
    @property
    def jwks(self) -> dict[str, Any] | None: ...
    @property
    def expires(self) -> int | None:
        """IRIS-style expiry (see `is_expired`)."""

    @property
    def etag(self) -> str | None: ...
    @property
    def fetched(self) -> datetime | None:
        """When the server last sent or confirmed `jwks`: a stale copy serves only so long after this."""


@dataclass(frozen=True)
class ServerJWKS:
    """A `CachedJWKS` as plain values: what `refresh_jwks` fetched, for the caller to keep."""

    jwks_uri: str | None
    jwks: dict[str, Any] | None
    expires: int | None
    etag: str | None
    fetched: datetime | None


def is_due(cached: CachedJWKS, now: float) -> bool:
    """True when the cached JWKS must be fetched (expired, or cleared) and there is somewhere to fetch it.

    A failed fetch records its backoff as the expiry, and puts off the next one even when there is no copy yet.
    """
    if not cached.jwks_uri:
        return False
    return (cached.jwks is None and cached.fetched is not None) or is_expired(cached.expires, now)


def is_usable_stale(cached: CachedJWKS, now: float, stale_limit: float) -> bool:
    """True when the cached JWKS may still serve while its server is unreachable."""
    fetched = cached.fetched
    return cached.jwks is not None and fetched is not None and now - fetched.timestamp() <= stale_limit


@dataclass(frozen=True)
class FetchedJWKS:
    """A JWKS the server sent (or confirmed unchanged), with its cache expiry and validator."""

    jwks: dict[str, Any] | None  # None when the server answered 304 Not Modified
    expires: int
    etag: str | None


def process_jwks_response(
    response: HttpResponse, *, etag: str | None, now: float, policy: CachePolicy = DEFAULT_POLICY
) -> FetchedJWKS:
    """The JWKS (or "not modified") a response carries, checked key by key.

    Raises:
        JWKSError: any answer that is not a usable public JWKS.
    """
    where = url_without_query(response.url)
    expires = expiry_from_headers(response.headers, now, policy)
    if response.status_code == 304 and etag:
        return FetchedJWKS(None, expires, response.headers.get("ETag", etag))
    if response.status_code != 200:
        raise JWKSError(f"JWKS at {where} answered HTTP {response.status_code}")
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type not in _JSON_TYPES:
        raise JWKSError(f"JWKS at {where} has content type {content_type or 'none'!r}, not JSON")
    try:
        document = json.loads(response.body)
    except (ValueError, RecursionError) as error:
        raise JWKSError(f"JWKS at {where} is not JSON") from error
    parsed_key_set(document)  # raises JWKSError for anything but well-formed public keys
    return FetchedJWKS(document, expires, response.headers.get("ETag"))


def fetch_jwks(
    transport: Transport, url: str, *, etag: str | None, now: float, policy: CachePolicy = DEFAULT_POLICY
) -> FetchedJWKS:
    """GET the JWKS at `url`; a known `etag` makes the request conditional.

    Raises:
        JWKSError, TransportError, ProtocolError, InsecureEndpointError.
    """
    headers = {"Accept": ", ".join(_JSON_TYPES)}
    if etag:
        headers["If-None-Match"] = etag
    return process_jwks_response(transport.get(url, headers=headers), etag=etag, now=now, policy=policy)


def refresh_jwks(
    current: CachedJWKS, transport: Transport, *, force: bool, now: float, policy: CachePolicy = DEFAULT_POLICY
) -> ServerJWKS | None:
    """What to cache after a fetch when one is due (or `force`); None when none is, or there is no `jwks_uri`.

    The key set changed when the result's `jwks` differs from `current.jwks`.

    Raises:
        JWKSError, TransportError, ProtocolError, InsecureEndpointError: `current` stays the cached copy.
    """
    jwks_uri = current.jwks_uri
    if not jwks_uri or not (force or is_due(current, now)):
        return None
    jwks = current.jwks
    fetched = fetch_jwks(transport, jwks_uri, etag=current.etag if jwks is not None else None, now=now, policy=policy)
    kept = jwks if fetched.jwks is None else fetched.jwks
    return ServerJWKS(jwks_uri, kept, fetched.expires, fetched.etag, datetime.fromtimestamp(now, UTC))


class _ParsedKeySets:
    """Parsed key sets by a digest of the JWKS, with a shortcut for a JWKS object seen before.

    The shortcut is keyed by the object's `id` but checked against a copy of its content, so a reused id or a JWKS
    edited in place never gets another JWKS's keys. It is a plain dict, emptied when full: no lock on the path of
    every validation (one dict operation is atomic).
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._by_digest: LRUCache[str, KeySet] = LRUCache(size)
        self._by_identity: dict[int, tuple[Any, KeySet]] = {}

    def get(self, jwks: Any) -> KeySet:
        seen = self._by_identity.get(id(jwks))
        if seen is not None and seen[0] == jwks:
            return seen[1]
        digest = hashlib.sha256(json.dumps(jwks, sort_keys=True).encode()).hexdigest()
        key_set = self._by_digest.get(digest)
        if key_set is None:
            key_set = KeySet(jwks)
            self._by_digest.put(digest, key_set)
        if len(self._by_identity) >= self._size:
            self._by_identity.clear()
        self._by_identity[id(jwks)] = (copy.deepcopy(jwks), key_set)
        return key_set

    def clear(self) -> None:
        self._by_digest.clear()
        self._by_identity.clear()


_key_sets = _ParsedKeySets(64)


def parsed_key_set(jwks: Any) -> KeySet:
    """The `KeySet` of a JWKS, parsed once per content in this process; JWKSError when it is not a usable JWKS."""
    return _key_sets.get(jwks)


def clear_parsed_key_sets() -> None:
    """Forget every parsed key set (tests, or to give the memory back)."""
    _key_sets.clear()


@dataclass
class _Refresh:
    """One issuer's forced refreshes: serialized, rate limited, and their keys shared with waiting callers."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    last: float = -math.inf
    keys: KeySet | None = None


class UnknownKidRefreshes:
    """A store's forced JWKS refreshes for unknown `kid`s: one per issuer per cooldown, shared by concurrent callers.

    The first caller refreshes; the others wait for it and use its keys. Get a store's one instance with
    `state_of(session).get(UnknownKidRefreshes)`. The table keeps the most recently used issuers only.
    """

    SIZE = 1024

    def __init__(self, cooldown: float = UNKNOWN_KID_COOLDOWN) -> None:
        self.cooldown = cooldown
        self._issuers: LRUCache[str, _Refresh] = LRUCache(self.SIZE)
        self._lock = threading.Lock()

    def _state(self, issuer: str) -> _Refresh:
        with self._lock:
            state = self._issuers.get(issuer)
            if state is None:
                state = _Refresh()
                self._issuers.put(issuer, state)
            return state

    def keys_for(self, issuer: str, kid: str, refresh: Callable[[], KeySet], now: float) -> KeySet | None:
        """Keys that know `kid` after at most one `refresh()` per cooldown; None when the cooldown forbids one.

        Raises whatever `refresh` raises; the cooldown counts the failed attempt too.
        """
        state = self._state(issuer)
        with state.lock:
            if state.keys is not None and kid in state.keys:
                return state.keys  # another caller's refresh already brought it
            if now - state.last < self.cooldown:
                return None
            state.last = now
            state.keys = refresh()
            return state.keys

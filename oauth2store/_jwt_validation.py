"""validate_jwt (IRIS %SYS.OAuth2.Validation.ValidateJWT): a JWT checked against the server's cached JWKS.

The accepted algorithms come from the client metadata (or the caller), never from the token. Parsed key sets are
kept in-process (keyed by the JWKS itself), so a validation costs a signature check, not a key parse. An unknown
`kid` triggers one forced refresh per server per cooldown, shared by concurrent callers: the first refreshes, the
others wait for it and use its keys. When the server cannot be reached, the last good JWKS keeps serving until
`STALE_LIMIT` after it was last fetched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ._errors import JWKSError, JWTValidationError, OAuth2StoreError
from ._jwks_cache import is_expired
from ._jwx import jws
from ._jwx.jwk import KeySet
from ._jwx.jwt import check_claims, unverified_header
from ._lru import LRUCache

if TYPE_CHECKING:
    from .models import Client, ServerDefinition

log = logging.getLogger("oauth2store")

DEFAULT_LEEWAY = 60.0
#: Least time between two forced refreshes of one server's JWKS for an unknown `kid`.
UNKNOWN_KID_COOLDOWN = 30.0
#: How long after its last successful fetch a JWKS may still serve while its server is unreachable.
STALE_LIMIT = timedelta(hours=24)
_KEY_SET_CACHE_SIZE = 64


class _KeySets:
    """Parsed key sets by content digest, with an identity shortcut for the JWKS object seen last per issuer."""

    def __init__(self) -> None:
        self._by_digest: LRUCache[str, KeySet] = LRUCache(_KEY_SET_CACHE_SIZE)
        self._last: dict[str, tuple[dict[str, Any], KeySet]] = {}

    def get(self, issuer: str, jwks: dict[str, Any]) -> KeySet:
        last = self._last.get(issuer)
        if last is not None and last[0] is jwks:  # the entry holds the dict, so its identity cannot be reused
            return last[1]
        digest = hashlib.sha256(json.dumps(jwks, sort_keys=True).encode()).hexdigest()
        key_set = self._by_digest.get(digest)
        if key_set is None:
            key_set = KeySet(jwks)
            self._by_digest.put(digest, key_set)
        self._last[issuer] = (jwks, key_set)
        return key_set

    def clear(self) -> None:
        self._by_digest.clear()
        self._last.clear()


@dataclass
class _UnknownKidRefresh:
    """One server's forced refreshes: serialized, rate limited, and their keys shared with waiting callers."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    last: float = float("-inf")
    keys: KeySet | None = None


KEY_SETS = _KeySets()
_refreshes: dict[str, _UnknownKidRefresh] = {}
_refreshes_lock = threading.Lock()


def _refresh_state(issuer: str) -> _UnknownKidRefresh:
    with _refreshes_lock:
        return _refreshes.setdefault(issuer, _UnknownKidRefresh())


def reset_caches() -> None:
    """Forget parsed key sets and refresh cooldowns (tests, or after editing a JWKS by hand)."""
    with _refreshes_lock:
        _refreshes.clear()
    KEY_SETS.clear()


def _current_keys(server: ServerDefinition, refresh: Callable[[bool, float], bool], now: float) -> KeySet:
    """The server's key set, refreshed first when expired; a stale one serves while the server is unreachable."""
    has_uri = server.server_metadata is not None and bool(server.server_metadata.jwks_uri)
    if has_uri and (server.public_jwks is None or is_expired(server.public_jwks_expires, now)):
        try:
            refresh(False, now)
        except OAuth2StoreError as error:
            fetched = server.public_jwks_fetched
            if server.public_jwks is None or fetched is None or now - fetched.timestamp() > STALE_LIMIT.total_seconds():
                raise JWTValidationError("jwks", f"no usable JWKS for {server.issuer_endpoint}: {error}") from error
            log.warning("JWKS refresh for %s failed (%s); serving the copy fetched at %s", server.issuer_endpoint,
                        type(error).__name__, fetched.isoformat())  # fmt: skip
    if server.public_jwks is None:
        raise JWTValidationError("jwks", f"the server definition {server.issuer_endpoint} has no JWKS (no jwks_uri)")
    try:
        return KEY_SETS.get(server.issuer_endpoint, server.public_jwks)
    except JWKSError as error:
        raise JWTValidationError("jwks", f"the stored JWKS cannot be used: {error}") from error


def _keys_for_unknown_kid(
    server: ServerDefinition, kid: str, refresh: Callable[[bool, float], bool], now: float
) -> KeySet | None:
    """Keys that know `kid` after at most one forced refresh per cooldown; None when the cooldown forbids one."""
    state = _refresh_state(server.issuer_endpoint)
    with state.lock:
        if state.keys is not None and kid in state.keys:
            return state.keys  # another caller's refresh already brought it
        if now - state.last < UNKNOWN_KID_COOLDOWN:
            return None
        state.last = now
        refresh(True, now)
        state.keys = KEY_SETS.get(server.issuer_endpoint, server.public_jwks or {"keys": []})
        return state.keys


def validate_jwt(
    client: Client,
    token: str,
    *,
    refresh: Callable[[bool, float], bool],
    audience: str | None,
    algorithms: Collection[str] | None = None,
    token_type: str = "access_token",  # noqa: S107 - a token kind, not a password
    leeway: float = DEFAULT_LEEWAY,
    now: float | None = None,
) -> dict[str, Any]:
    """The claims of `token` once its signature, algorithm and registered claims check out.

    `refresh(force, now)` refreshes (and saves) the server's JWKS. The accepted algorithms default to the client
    metadata's `<token_type>_signed_response_alg`.

    Raises:
        JWTValidationError: `check` names what failed.
    """
    moment = time.time() if now is None else now
    server = client.server_definition
    accepted = set(algorithms) if algorithms is not None else {_metadata_algorithm(client, token_type)}
    keys = _current_keys(server, refresh, moment)
    header = unverified_header(token)
    kid = header.get("kid")
    if isinstance(kid, str) and kid not in keys and server.server_metadata.jwks_uri:
        keys = _keys_for_unknown_kid(server, kid, refresh, moment) or keys
    claims = jws.verify(token, keys, accepted, header)
    check_claims(claims, issuer=server.issuer_endpoint, audience=audience, now=moment, leeway=leeway)
    return claims


def _metadata_algorithm(client: Client, token_type: str) -> str:
    members = {"access_token": "access_token_signed_response_alg", "id_token": "id_token_signed_response_alg"}
    if token_type not in members:
        raise ValueError(f"token_type must be one of {', '.join(members)}")
    alg = getattr(client.client_metadata, members[token_type])
    if not alg or alg == "none":
        raise JWTValidationError("alg", f"client_metadata.{members[token_type]} names no signing algorithm")
    return str(alg)

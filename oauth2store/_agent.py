"""AgentClient: client-credentials tokens for a service, cached until they expire (the OidcAgentClient port).

IRIS's counterpart is `GetAccessTokenClient` plus `IsAuthorized` on an (ApplicationName, SessionId) row; the
iModel.js OidcAgentClient gives the behaviour: reuse a token until shortly before it expires, then get a new one.
Here the token lives in the store, shared by all threads and processes (see `_token_cache`), renewals are single
flight, and the client authenticates by its `token_endpoint_auth_method` (see `_client_auth`).

`allow_insecure_http` is a keyword of the agent (and of `discover`), not a stored property: it is a decision of the
process running the code (a development setup), and a stored flag would let anyone who can write the database turn
off transport security for every process that reads it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from ._errors import ClientNotUsableError, NotFoundError, StoreKeyError, TransportError
from ._http.values import DEFAULT_DEADLINE, DEFAULT_TIMEOUT, RetryPolicy
from ._registration import secret_expiry_problem
from ._state import state_of
from ._store import Store
from ._token_cache import renewal
from ._token_cache.failures import MAX_BACKOFF, RECORDED
from ._token_cache.keys import Entry, Skew, session_id
from ._token_cache.process import process_cache
from ._token_cache.reader import Stored
from ._token_cache.renewal import Decision
from ._tokens import (
    DEFAULT_LIFETIME,
    ClientConfig,
    Endpoints,
    Token,
    build_client_credentials_form,
    introspect_token,
    normalize_resource,
    normalize_scope,
    post_authenticated,
    process_token_response,
    revoke_token,
    utc_from_timestamp,
)
from .models._client_config import client_config
from .models.access_token import AccessToken
from .models.client import Client
from .models.server_definition import ServerDefinition
from .models.ssl_configuration import transport_for

if TYPE_CHECKING:
    import requests

    from ._http.transport import Transport

Resource = str | Sequence[str] | None
_Key = tuple[tuple[str, str], str | None, tuple[str, ...]]

log = logging.getLogger("oauth2store")

#: How often (seconds) an agent looks at its client's stored definition, to follow changes made elsewhere.
DEFAULT_FOLLOW_INTERVAL = 5.0
#: How much longer than the call's deadline a renewer's lease lasts (a renewer never outlives its lease).
LEASE_MARGIN = 10.0
#: A token is handed out as "still valid" only while it has at least this many seconds left.
MINIMUM_REMAINING = 1.0
#: How long an agent waits between looks at a renewal another process is doing (doubling, with jitter).
_FIRST_PAUSE, _MAX_PAUSE = 0.01, 0.5


def _open_config(session: Session, application_name: str, now: float | None = None) -> tuple[ClientConfig, str]:
    client = Client.Open(session, application_name)
    if client is None:
        raise NotFoundError(Client.kind, application_name)
    return client_config(session, client, now), client.definition_version


class AgentClient:
    """Access tokens for the client definition `application_name`, by the client-credentials grant.

    ::

        agent = AgentClient(store, "orders-service")
        headers = {"Authorization": f"Bearer {agent.get_access_token()}"}

    A call returns within `deadline` seconds whatever the server does (waiting for another process's renewal
    included). When a renewal fails and the cached token has not expired, that token is returned (with a warning
    in the log) and the failure is recorded for every process, which then do not ask the server again before the
    retry time. A change to the client made by any process (credentials, server, scopes, `enabled`, deletion) is
    followed within `follow_interval` seconds.
    """

    def __init__(
        self,
        store: Store,
        application_name: str,
        *,
        skew: Skew | None = None,
        default_lifetime: timedelta = DEFAULT_LIFETIME,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        follow_interval: float = DEFAULT_FOLLOW_INTERVAL,
        max_backoff: float = MAX_BACKOFF,
        allow_insecure_http: bool = False,
        allow_private_network: bool = False,
        http_session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Check the client now (a missing or disabled one fails here); its whole definition is loaded at the
        first token request, so a process that finds its token in the store never loads it (short-lived processes
        get their token in a few milliseconds).

        Raises:
            NotFoundError, ClientNotUsableError: the client does not exist, or is disabled.
            SchemaVersionError, StoreKeyError: see `Store.session`.
        """
        self.store = store
        self.application_name = application_name
        self.skew = skew or Skew()
        self.default_lifetime = default_lifetime
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.deadline = deadline
        self.follow_interval = follow_interval
        #: The longest wait (seconds) after failed renewals before the server is asked again (without Retry-After).
        self.max_backoff = max_backoff
        #: Seconds a renewal lease lasts: longer than any renewal can take.
        self.lease = deadline + LEASE_MARGIN
        self.allow_insecure_http = allow_insecure_http
        self.allow_private_network = allow_private_network
        self.clock = clock
        self.sleep = sleep
        self._http_session = http_session
        self._cache = process_cache(store.engine)
        self._keys: dict[tuple[Any, Any], _Key] = {}
        self._lock = threading.Lock()
        self._owner = renewal.new_owner()
        self._config: ClientConfig | None = None
        self._transport: Transport | None = None
        #: The client definition version this agent follows (its configuration's, once loaded).
        self.version = ""
        self._default_scope: str | None = None
        store.prepare()
        self._follow(clock())

    def __repr__(self) -> str:
        return f"AgentClient({self.application_name!r})"

    @property
    def config(self) -> ClientConfig:
        """The client's definition as plain values, loaded at first use (and again after it changed)."""
        if self._config is None:
            self._reload()
            assert self._config is not None
        return self._config

    @property
    def transport(self) -> Transport:
        """The HTTP transport for the client's server and TLS configuration."""
        if self._transport is None:
            self._reload()
            assert self._transport is not None
        return self._transport

    def _reload(self) -> None:
        """Load the client's definition (and its version) from the store.

        Raises:
            NotFoundError, ClientNotUsableError, KeyMaterialError: see `client_config`.
        """
        with self.store.session() as session:
            config, version = _open_config(session, self.application_name, self.clock())
        self._use(config, version)

    def _use(self, config: ClientConfig, version: str) -> None:
        # The HTTP stack is imported when a request is about to be made: a process whose token is stored never
        # loads it (start-up cost).
        from ._http.connections import SessionPool
        from ._http.transport import Transport

        with self._lock:
            self._config = config
            self.version = version
            self._default_scope = config.default_scope
            self._transport = Transport(
                config.tls,
                session=self._http_session,
                pool=state_of(self.store.engine).get(SessionPool),
                timeout=self.timeout,
                deadline=self.deadline,
                retry=self.retry,
                allow_insecure_http=self.allow_insecure_http,
                issuer=config.endpoints.issuer,
                allow_private_network=self.allow_private_network,
                sleep=self.sleep,
                clock=self.clock,
            )
            self._keys = {}

    # -- tokens --------------------------------------------------------------------------------------

    def get_access_token(self, scope: str | Sequence[str] | None = None, *, resource: Resource = None) -> str:
        """A valid access token for `scope` (default: the client's default_scope) and RFC 8707 `resource`.

        Raises:
            OAuthServerError: the server refused (invalid_client, invalid_scope, ...); never retried.
            TransportError: the server could not be reached, after retries, or not within the deadline.
            NotFoundError, ClientNotUsableError: the client was deleted or disabled.
            ProtocolError, KeyMaterialError, StoreKeyError.
        """
        return self.get_token(scope, resource=resource).access_token

    def get_token(self, scope: str | Sequence[str] | None = None, *, resource: Resource = None) -> Token:
        """Like `get_access_token`, with the token's type, expiry and granted scope."""
        now = self.clock()
        if now >= self._next_check:
            self._follow(now)
        memo = (
            scope if scope is None or isinstance(scope, str) else tuple(scope),
            resource if resource is None or isinstance(resource, str) else tuple(resource),
        )
        known = self._keys.get(memo)
        if known is None:
            known = self._key(scope, resource)
            self._keys[memo] = known
        entry = self._cache.entries.get(known[0])
        if entry is not None and now < entry.renew_at and entry.version == self.version:
            return entry.token
        return self._renew(*known)

    def invalidate(self, token: Token | str) -> bool:
        """Stop handing out `token`, a token of this client a resource server refused (a 401 `invalid_token`)
        although it looked fresh: the next call renews it. True when it was still cached here or stored.

        Only that token is dropped: the in-process entries holding it, and the stored row only while it still holds
        it, so callers that were all refused the same token renew it once, not once each.

        Raises:
            ReadOnlyStoreError, StoreKeyError: see `Store.session`.
        """
        value = token.access_token if isinstance(token, Token) else token
        held = False
        for key, entry in list(self._cache.entries.items()):
            # A renewal racing this may have replaced the entry meanwhile: dropping it costs one read of the store.
            if key[0] == self.application_name and entry.token.access_token == value:
                held = self._cache.entries.pop(key, None) is not None or held
        with self.store.session(write=True) as session:  # SQLite: read and delete under the write lock at once
            deleted = AccessToken.delete_token(session, self.application_name, value)
        return held or deleted > 0

    def _key(self, scope: Any, resource: Any) -> _Key:
        wanted = normalize_scope(scope if scope is not None else self._default_scope)
        resources = normalize_resource(resource)
        return (self.application_name, session_id(wanted, resources)), wanted, resources

    def _follow(self, now: float) -> None:
        """Look at the stored definition: follow a change, refuse a deleted or disabled client."""
        self._next_check = now + self.follow_interval
        self._check(self._read(""))

    def _check(self, stored: Stored | None) -> None:
        if stored is None:
            self._cache.forget(self.application_name)
            raise NotFoundError(Client.kind, self.application_name)
        if not stored.enabled:
            self._cache.forget(self.application_name)
            raise ClientNotUsableError(self.application_name, "it is disabled (enabled is False)")
        if stored.version != self.version:
            self._cache.forget(self.application_name)
            with self._lock:  # loaded again when next needed
                self._config = self._transport = None
                self.version = stored.version
                self._default_scope = stored.default_scope
                self._keys = {}

    def _read(self, key: str) -> Stored | None:
        """The stored definition and token, taking up a new store key once if the secrets were re-keyed."""
        reader = self._cache.reader(self.store.engine)
        try:
            return reader.read(self.application_name, key)
        except StoreKeyError:
            self.store.reload_key()
            return reader.read(self.application_name, key)

    def _fresh(self, token: Token | None, now: float) -> bool:
        return token is not None and now < self.skew.renew_at(token)

    def _keep(self, key: tuple[str, str], token: Token, version: str, until: float | None = None) -> Token:
        """Hand out `token`, cached in this process until its renewal time; or, for a token kept past its renewal
        time (a renewal failed, or another process is renewing), until `until` or shortly before it expires, so
        that calls meanwhile cost no query."""
        renew_at = self.skew.renew_at(token)
        if until is not None:
            renew_at = min(until, token.expires_at.timestamp() - MINIMUM_REMAINING)
        self._cache.entries[key] = Entry(token, renew_at, version)
        return token

    def _usable(self, token: Token | None, now: float) -> Token | None:
        """`token` if it has not expired (it may be due for renewal)."""
        if token is None or token.expires_at.timestamp() - now < MINIMUM_REMAINING:
            return None
        return token

    def _renew(self, key: tuple[str, str], scope: str | None, resources: tuple[str, ...]) -> Token:
        with self._cache.lock(key):
            now = self.clock()
            entry = self._cache.entries.get(key)
            if entry is not None and now < entry.renew_at and entry.version == self.version:
                return entry.token  # another thread renewed it while we waited
            stored = self._read(key[1])
            self._check(stored)
            assert stored is not None
            if stored.token is not None:
                renew_at = self.skew.renew_at(stored.token)
                if now < renew_at:  # another process renewed it
                    self._cache.entries[key] = Entry(stored.token, renew_at, stored.version)
                    return stored.token
            ends_by = time.monotonic() + self.deadline
            if self._config is None:
                self._reload()
            return self._renew_with_lease(key, scope, resources, ends_by)

    def _claim(self, key: tuple[str, str], now: float) -> renewal.Claim:
        def claim() -> renewal.Claim:
            return renewal.claim(
                self.store.engine,
                self.application_name,
                key[1],
                owner=self._owner,
                now=now,
                lease=self.lease,
                fresh=lambda token: self._fresh(token, now),
            )

        try:
            return claim()
        except StoreKeyError:
            self.store.reload_key()
            return claim()

    def _renew_with_lease(
        self, key: tuple[str, str], scope: str | None, resources: tuple[str, ...], ends_by: float
    ) -> Token:
        """Renew `key` in turn with the other processes: see oauth2store._token_cache.renewal."""
        pause = _FIRST_PAUSE
        while True:
            if time.monotonic() >= ends_by:
                raise TransportError(
                    self.config.endpoints.token_endpoint,
                    f"no token within the call's deadline ({self.deadline:g} s): another process is renewing it",
                )
            now = self.clock()
            claim = self._claim(key, now)
            if claim.version != self.version or self._config is None:
                # Load the definition holding no lease (loading can fail), then decide again.
                if claim.decision is Decision.RENEW:
                    renewal.release(self.store.engine, self.application_name, key[1], owner=self._owner)
                self._cache.forget(self.application_name)
                self._reload()
                continue
            fallback = self._usable(claim.token, now)
            if claim.decision is Decision.USE:
                assert claim.token is not None
                return self._keep(key, claim.token, claim.version)
            if claim.decision is Decision.BACKOFF:
                assert claim.failure is not None and claim.retry_at is not None
                if fallback is None:
                    raise claim.failure.exception(claim.retry_at)
                log.info(  # the renewer that failed logged a warning; this is its failure, shared
                    "%s: renewal failed (%s); serving the cached token, which has not expired",
                    self.application_name,
                    claim.failure.message,
                )
                return self._keep(key, fallback, claim.version, until=claim.retry_at)
            if claim.decision is Decision.WAIT:
                if fallback is not None:
                    return self._keep(key, fallback, claim.version, until=now + _MAX_PAUSE)
                jittered = pause * (0.5 + random.random() / 2)  # noqa: S311 -- jitter, not a secret
                self.sleep(min(jittered, max(ends_by - time.monotonic(), 0.0)))
                pause = min(pause * 2, _MAX_PAUSE)
                continue
            token = self._renew_leased(key, scope, resources, ends_by, claim, fallback, now)
            if token is not None:
                return token

    def _renew_leased(
        self,
        key: tuple[str, str],
        scope: str | None,
        resources: tuple[str, ...],
        ends_by: float,
        claim: renewal.Claim,
        fallback: Token | None,
        now: float,
    ) -> Token | None:
        """Ask the server, holding the lease; the token, or None when the result was dropped (claim again)."""
        engine, name = self.store.engine, self.application_name
        try:
            token = self._request(scope, resources, ends_by)
        except RECORDED as exc:
            valid_until = fallback.expires_at.timestamp() - MINIMUM_REMAINING if fallback is not None else None
            at = renewal.fail(
                engine,
                name,
                key[1],
                owner=self._owner,
                version=claim.version,
                error=exc,
                now=now,
                valid_until=valid_until,
                max_backoff=self.max_backoff,
            )
            if fallback is None:
                raise
            log.warning("%s: renewal failed (%s); serving the cached token, which has not expired", name, exc)
            return self._keep(key, fallback, claim.version, until=at)
        except BaseException:
            renewal.release(engine, name, key[1], owner=self._owner)
            raise

        def complete() -> bool:
            return renewal.complete(
                engine, name, key[1], owner=self._owner, version=claim.version, token=token, resources=resources
            )

        try:
            try:
                stored = complete()
            except StoreKeyError:  # re-keyed meanwhile: never write a secret with the old key
                self.store.reload_key()
                stored = complete()
        except BaseException:
            renewal.release(engine, name, key[1], owner=self._owner)
            raise
        return self._keep(key, token, claim.version) if stored else None

    def _request(self, scope: str | None, resources: tuple[str, ...], ends_by: float) -> Token:
        config = self.config
        now = self.clock()
        expired = secret_expiry_problem(config.secret_expires_at, config.identity.method, now)
        if expired:
            raise ClientNotUsableError(self.application_name, expired)
        form = build_client_credentials_form(scope, resources)
        transport = self.transport.bounded(ends_by)
        response = post_authenticated(transport, config, config.endpoints.token_endpoint, form, now)
        return process_token_response(
            response,
            now=utc_from_timestamp(now),
            requested_scope=scope,
            default_lifetime=self.default_lifetime,
            unstorable=AccessToken.token_problems,
        )

    # -- state, as OidcAgentClient defines it (this process, the default scope, no I/O) ---------------

    def _default_entry(self) -> Entry | None:
        entry = self._cache.entries.get(self._key(None, None)[0])
        return entry if entry is not None and entry.version == self.version else None

    @property
    def has_signed_in(self) -> bool:
        """True once a token for the default scope is held in this process, valid or not."""
        return self._default_entry() is not None

    @property
    def has_expired(self) -> bool:
        """True when the held default-scope token is expired or within its renewal skew; False without one."""
        entry = self._default_entry()
        return entry is not None and self.clock() >= entry.renew_at

    @property
    def is_authorized(self) -> bool:
        """True when a default-scope token is held and not expired."""
        return self.has_signed_in and not self.has_expired

    # -- discovery, introspection, revocation -------------------------------------------------------

    def discover_endpoints(self) -> Endpoints:
        """Discover the server's metadata again (updating the stored definition) and use its endpoints.

        Raises:
            DiscoveryError, TransportError, InsecureEndpointError.
        """
        with self.store.session() as session:
            client = Client.Open(session, self.application_name)
            if client is None:
                raise NotFoundError(Client.kind, self.application_name)
            server = client.server_definition
            transport = transport_for(
                session,
                server.ssl_configuration,
                allow_insecure_http=self.allow_insecure_http,
                issuer=server.issuer_endpoint,
                allow_private_network=self.allow_private_network,
                http_session=self._http_session,
                timeout=self.timeout,
                retry=self.retry,
                sleep=self.sleep,
                clock=self.clock,
            )
            ServerDefinition.discover(session, server.issuer_endpoint, transport=transport)
            session.flush()
            config = client_config(session, client)
            version = client.definition_version
        self._use(config, version)
        return config.endpoints

    def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 introspection of `token` (the claims, with `active`).

        Raises:
            OAuthServerError, TransportError, ProtocolError.
        """
        return introspect_token(self.config, self.transport, token, self.clock())

    def revoke(self, token: str) -> None:
        """RFC 7009 revocation of `token`; it leaves the cache, in the store and in this process.

        Raises:
            OAuthServerError, TransportError, ProtocolError.
        """
        revoke_token(self.config, self.transport, token, self.clock())
        with self.store.session() as session:
            AccessToken.delete_token(session, self.application_name, token)

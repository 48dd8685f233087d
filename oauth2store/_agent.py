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

import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import requests
from sqlalchemy.orm import Session

from . import _token_cache as token_cache
from ._errors import NotFoundError
from ._http.connections import SessionPool
from ._http.transport import DEFAULT_TIMEOUT, Transport
from ._http.values import RetryPolicy
from ._state import state_of
from ._store import Store
from ._token_cache import Entry, Skew
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

Resource = str | Sequence[str] | None


def _open_config(session: Session, application_name: str, now: float | None = None) -> ClientConfig:
    client = Client.Open(session, application_name)
    if client is None:
        raise NotFoundError(Client.kind, application_name)
    return client_config(session, client, now)


class AgentClient:
    """Access tokens for the client definition `application_name`, by the client-credentials grant.

    ::

        agent = AgentClient(store, "orders-service")
        headers = {"Authorization": f"Bearer {agent.get_access_token()}"}
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
        allow_insecure_http: bool = False,
        allow_private_network: bool = False,
        http_session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Load the client definition now, so a missing, disabled or unregistered client fails here.

        Raises:
            NotFoundError, ClientNotUsableError, KeyMaterialError: see `client_config`.
        """
        self.store = store
        self.application_name = application_name
        self.skew = skew or Skew()
        self.default_lifetime = default_lifetime
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.allow_insecure_http = allow_insecure_http
        self.allow_private_network = allow_private_network
        self.clock = clock
        self.sleep = sleep
        self._http_session = http_session
        self._cache = token_cache.process_cache(store.engine)
        self._keys: dict[tuple[Any, Any], tuple[tuple[str, str], str | None, tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        with store.session() as session:
            self._use(_open_config(session, application_name, clock()))

    def __repr__(self) -> str:
        return f"AgentClient({self.application_name!r})"

    def _use(self, config: ClientConfig) -> None:
        with self._lock:
            self.config = config
            self.transport = Transport(
                config.tls,
                session=self._http_session,
                pool=state_of(self.store.engine).get(SessionPool),
                timeout=self.timeout,
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
            TransportError: the server could not be reached, after retries.
            ProtocolError, ClientNotUsableError, KeyMaterialError.
        """
        return self.get_token(scope, resource=resource).access_token

    def get_token(self, scope: str | Sequence[str] | None = None, *, resource: Resource = None) -> Token:
        """Like `get_access_token`, with the token's type, expiry and granted scope."""
        memo = (
            scope if scope is None or isinstance(scope, str) else tuple(scope),
            resource if resource is None or isinstance(resource, str) else tuple(resource),
        )
        known = self._keys.get(memo)
        if known is None:
            known = self._key(scope, resource)
            self._keys[memo] = known
        entry = self._cache.entries.get(known[0])
        if entry is not None and self.clock() < entry.renew_at:
            return entry.token
        return self._renew(*known)

    def _key(self, scope: Any, resource: Any) -> tuple[tuple[str, str], str | None, tuple[str, ...]]:
        wanted = normalize_scope(scope if scope is not None else self.config.default_scope)
        resources = normalize_resource(resource)
        return (self.application_name, token_cache.session_id(wanted, resources)), wanted, resources

    def _fresh(self, token: Token | None) -> Entry | None:
        if token is None:
            return None
        entry = Entry(token, self.skew.renew_at(token))
        return entry if self.clock() < entry.renew_at else None

    def _renew(self, key: tuple[str, str], scope: str | None, resources: tuple[str, ...]) -> Token:
        with self._cache.lock(key):
            entry = self._cache.entries.get(key)
            if entry is not None and self.clock() < entry.renew_at:
                return entry.token  # another thread renewed it while we waited
            entry = self._fresh(self._cache.reader(self.store.engine).read(*key))
            if entry is None:
                with token_cache.locked_session(self.store, self.application_name) as session:
                    entry = self._fresh(token_cache.load(session, *key))  # another process renewed it
                    if entry is None:
                        self._use(_open_config(session, self.application_name, self.clock()))
                        token = self._request(scope, resources)
                        token_cache.save(session, self.application_name, key[1], token, resources)
                        entry = Entry(token, self.skew.renew_at(token))
            self._cache.entries[key] = entry
            return entry.token

    def _request(self, scope: str | None, resources: tuple[str, ...]) -> Token:
        config = self.config
        now = self.clock()
        form = build_client_credentials_form(scope, resources)
        response = post_authenticated(self.transport, config, config.endpoints.token_endpoint, form, now)
        return process_token_response(
            response,
            now=utc_from_timestamp(now),
            requested_scope=scope,
            default_lifetime=self.default_lifetime,
            unstorable=AccessToken.token_problems,
        )

    # -- state, as OidcAgentClient defines it (this process, the default scope, no I/O) ---------------

    def _default_entry(self) -> Entry | None:
        return self._cache.entries.get(self._key(None, None)[0])

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
            config = client_config(session, client)
        self._use(config)
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

"""SignIn: users signed in through a stored client definition (IRIS %SYS.OAuth2.Authorization, %SYS.OAuth2.AccessToken,
and the OAuth2.Response and OAuth2.PostLogoutRedirect pages), framework-neutral.

Each call reads what it needs in a short session, talks to the server with no transaction open, and writes its
result in another short transaction that first checks the row is still as it was read (the pending state, the
refresh token), so concurrent callbacks, refreshes and logouts of one session never overwrite each other. Nothing
is written for a refused callback; protocol rules live in `_authorization`, `_id_token`, `_logout` and `_userinfo`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import EllipsisType
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .._authorization import (
    CallbackParameters,
    SignInEndpoints,
    check_issuer,
    digest,
    has_openid,
    loopback_redirect_uri,
    new_request,
    parse_callback,
    process_par_response,
    raise_for_authorization_error,
    random_value,
    request_parameters,
    with_query,
)
from .._errors import (
    CallbackError,
    ClientNotUsableError,
    NotFoundError,
    OAuth2StoreError,
    ProtocolError,
)
from .._http.values import DEFAULT_DEADLINE, DEFAULT_TIMEOUT, RetryPolicy
from .._id_token import check_id_token, check_refreshed_id_token, unverified_claims
from .._logout import logout_url
from .._state import state_of
from .._store import Store
from .._token_cache.keys import Skew
from .._tokens import (
    DEFAULT_LIFETIME,
    ClientConfig,
    UserTokens,
    build_authorization_code_form,
    build_refresh_token_form,
    post_authenticated,
    process_user_token_response,
    revoke_token,
)
from .._userinfo import check_subject, process_userinfo_response
from ..models._client_config import client_config
from ..models._signin_config import signin_endpoints
from ..models.access_token import AUTHORIZATION_CODE, DEFAULT_PENDING_LIFETIME, AccessToken
from ..models.client import Client
from .refresh import Refresher, store_refreshed, utc
from .values import AuthorizationRequest, SessionTokens, SignedIn, Stored, check_session_id, covers, read_stored

log = logging.getLogger("oauth2store")

_SCOPE_SEPARATOR = " "
#: How many times `is_authorized` looks at a refresh whose result expired before it could be returned.
_REFRESH_LOOKS = 3


def _valid(stored: Stored, now: float) -> bool:
    """True when the row holds an access token of the client's current definition that has not expired."""
    token = stored.token
    return token is not None and token.expires_at.timestamp() > now


@dataclass(frozen=True)
class _Loaded:
    """A client definition as one call uses it."""

    config: ClientConfig
    endpoints: SignInEndpoints
    version: str


@dataclass(frozen=True)
class _Pending:
    """A pending authorization request as the callback found it (secrets left out of the repr)."""

    row_id: int
    session_id: str
    state_hash: str
    redirect_uri: str
    scope: str | None
    max_age: int | None
    redirect_url: str | None
    code_verifier: str | None
    nonce: str | None


def _scope_text(scope: str | Sequence[str] | None) -> str | None:
    if scope is None:
        return None
    values = scope.split() if isinstance(scope, str) else [v for part in scope for v in part.split()]
    return _SCOPE_SEPARATOR.join(dict.fromkeys(values)) or None


if TYPE_CHECKING:
    import requests

    from .._http.transport import Transport


class SignIn:
    """Users signed in through the client definition `application_name` (see the README, "Sign users in").

    ::

        signin = SignIn(store, "web-app")
        url = signin.authorization_url(session_id, scope="openid profile", redirect_url="/profile").url
        # ... the browser comes back to the client's redirection endpoint:
        done = signin.handle_callback(query_or_form)
        tokens = signin.is_authorized(session_id)

    Safe to share between threads; every process may have its own, on the same store.
    """

    def __init__(
        self,
        store: Store,
        application_name: str,
        *,
        pending_lifetime: timedelta = DEFAULT_PENDING_LIFETIME,
        skew: Skew | None = None,
        leeway: float = 60.0,
        default_lifetime: timedelta = DEFAULT_LIFETIME,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        allow_insecure_http: bool = False,
        allow_private_network: bool = False,
        http_session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.application_name = application_name
        self.pending_lifetime = pending_lifetime
        self.skew = skew or Skew()
        self.leeway = leeway
        self.default_lifetime = default_lifetime
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.deadline = deadline
        self.allow_insecure_http = allow_insecure_http
        self.allow_private_network = allow_private_network
        self.clock = clock
        self.sleep = sleep
        self._http_session = http_session
        self._refresher = Refresher(
            store, application_name, skew=self.skew, deadline=deadline, clock=clock, sleep=sleep
        )

    def __repr__(self) -> str:
        return f"SignIn({self.application_name!r})"

    # -- the client definition -------------------------------------------------------------------------------------

    def _client(self, session: Session) -> Client:
        client = Client.Open(session, self.application_name)
        if client is None:
            raise NotFoundError(Client.kind, self.application_name)
        return client

    def _load(self, session: Session, now: float) -> _Loaded:
        client = self._client(session)
        return _Loaded(client_config(session, client, now), signin_endpoints(client), client.definition_version)

    def _transport(self, config: ClientConfig, ends_by: float | None = None) -> Transport:
        # The HTTP stack is imported when a call is about to be made (start-up cost; see the agent).
        from .._http.connections import SessionPool
        from .._http.transport import Transport

        transport = Transport(
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
        return transport.bounded(ends_by) if ends_by is not None else transport

    def _read(self, session_id: str) -> Stored | None:
        with self.store.session() as session:
            version = session.scalar(
                select(Client.definition_version).where(Client.application_name == self.application_name)
            )
            if version is None:
                raise NotFoundError(Client.kind, self.application_name)
            return read_stored(session, self.application_name, session_id, version)

    # -- the authorization request (GetAuthorizationCodeEndpoint) --------------------------------------------------

    def authorization_url(
        self,
        session_id: str,
        *,
        scope: str | Sequence[str] | None = None,
        redirect_url: str | None = None,
        properties: Mapping[str, Any] | None = None,
        response_mode: str = "query",
        pushed: bool | None = None,
        loopback_port: int | None = None,
    ) -> AuthorizationRequest:
        """Where to send the browser to sign the session in (IRIS `GetAuthorizationCodeEndpoint`).

        Creates or updates the session's row: a new single-use state (its digest stored), a nonce when `openid`
        is asked for, a PKCE S256 verifier unless `properties={"code_verifier": ""}` (unsafe), `redirect_url` (the
        page to go to after the callback). `scope` defaults to the client's default_scope; `properties` are extra
        request parameters (prompt, login_hint, max_age, acr_values, claims, resource, ...). A pushed
        authorization request (RFC 9126) is made when the server requires one or `pushed` is True.
        `loopback_port` is for native apps (RFC 8252 §7.3, `oauth2store login`): the client's loopback
        redirection endpoint (http://127.0.0.1/...) is sent with that port, where the app listens.

        Raises:
            ValidationError: a bad session id, response mode, property or loopback port.
            ClientNotUsableError: the client has no redirection endpoint (a loopback one with `loopback_port`),
                its server no authorization endpoint (or no PAR endpoint when PAR is asked for), or it cannot
                get tokens (disabled, unregistered).
            NotFoundError: no such client.
            OAuthServerError, TransportError, ProtocolError: the pushed authorization request failed.
        """
        check_session_id(session_id)
        now = self.clock()
        with self.store.session() as session:
            loaded = self._load(session, now)
        config, endpoints = loaded.config, loaded.endpoints
        redirect_uri = endpoints.redirect_uri
        if loopback_port is not None:
            redirect_uri = loopback_redirect_uri(redirect_uri, loopback_port)
            if redirect_uri is None:
                reason = "its redirection_endpoint is not a loopback one (http://127.0.0.1/... or http://[::1]/...)"
                raise ClientNotUsableError(self.application_name, reason)
        if not redirect_uri:
            raise ClientNotUsableError(self.application_name, "it has no redirection_endpoint to sign users in with")
        if not endpoints.authorization_endpoint:
            raise ClientNotUsableError(self.application_name, "its server has no authorization_endpoint")
        wanted = _scope_text(scope) if scope is not None else _scope_text(config.default_scope)
        pending = new_request(
            client_id=config.identity.client_id,
            redirect_uri=redirect_uri,
            scope=wanted,
            response_mode=response_mode,
            properties=properties,
        )
        use_par = bool(pushed) or endpoints.require_pushed_authorization_requests
        if use_par:
            par_endpoint = endpoints.pushed_authorization_request_endpoint
            if not par_endpoint:
                reason = "its server has no pushed_authorization_request_endpoint (RFC 9126)"
                raise ClientNotUsableError(self.application_name, reason)
            answer = post_authenticated(self._transport(config), config, par_endpoint, request_parameters(pending), now)
            request_uri = process_par_response(answer)
            url = with_query(
                endpoints.authorization_endpoint,
                [("client_id", config.identity.client_id), ("request_uri", request_uri)],
            )
        else:
            url = with_query(endpoints.authorization_endpoint, request_parameters(pending))
        with self.store.session(write=True) as session:
            row = AccessToken.OpenForSession(session, self.application_name, session_id)
            if row is None:
                row = AccessToken(application_name=self.application_name, session_id=session_id)
                session.add(row)
            if row.access_token is None:
                row.scope = wanted  # IRIS: the expected scope until a token is granted
                row.error = None
            row.stage = "new"
            row.state_hash = digest(pending.state)
            row.nonce = pending.nonce
            row.code_verifier = pending.code_verifier
            row.redirect_url = redirect_url
            row.requested_at = utc(now)
            row.request_parameters = {
                "redirect_uri": pending.redirect_uri,
                "scope": wanted,
                "max_age": pending.max_age,
            }
            row.response_type = "code"
            row.response_mode = response_mode
            authorized = self._holds(row, loaded.version, wanted, now)
        return AuthorizationRequest(url, authorized, use_par)

    def _holds(self, row: AccessToken, version: str, scope: str | None, now: float) -> bool:
        return (
            row.access_token is not None
            and row.definition_version == version
            and not row.IsExpired(utc(now))
            and covers(row.scope, scope)
        )

    # -- the callback (OAuth2.Response) ----------------------------------------------------------------------------

    def handle_callback(self, parameters: Mapping[str, Any]) -> SignedIn:
        """Finish a sign-in from the callback's query or form parameters (IRIS's `OAuth2.Response` page).

        Finds the pending request by its state, checks `iss` (RFC 9207), exchanges the code (with the code
        verifier and the same redirect_uri), validates the ID token, and stores the tokens for the session.
        Until then nothing is written: a refused callback leaves every stored row as it was, except an error
        response, which is stored on the row (IRIS `Error`) and ends the pending request.

        Raises:
            CallbackError: no state, an unknown, used or expired state, another application's, a wrong or missing
                `iss`, neither code nor error.
            AuthorizationError: the server's error response (access_denied, ...).
            OAuthServerError: the code exchange was refused (e.g. invalid_grant: a code already used).
            JWTValidationError: the ID token failed a check (`check` names it).
            ProtocolError: no ID token although `openid` was asked for, or an answer out of spec.
            TransportError: the server could not be reached.
        """
        received = parse_callback(parameters)
        now = self.clock()
        state_hash = digest(received.state)
        with self.store.session() as session:
            pending = self._pending(session, state_hash, now)
            loaded = self._load(session, now)
        check_issuer(received, issuer=loaded.config.endpoints.issuer, required=loaded.endpoints.iss_parameter_supported)
        if received.error is not None:
            self._store_error(pending, received)
        raise_for_authorization_error(received)
        assert received.code is not None
        tokens = self._exchange(loaded.config, pending, received.code, now)
        if has_openid(pending.scope) or tokens.id_token is not None:
            if tokens.id_token is None:
                raise ProtocolError(
                    loaded.config.endpoints.token_endpoint, "the token response has no id_token, and openid was asked"
                )
            self.validate_id_token(
                tokens.id_token,
                access_token=tokens.token.access_token,
                nonce=pending.nonce,
                max_age=pending.max_age,
                now=now,
            )
        with self.store.session(write=True) as session:
            row = self._locked(session, pending.row_id)
            if row is None or row.state_hash != pending.state_hash:
                raise CallbackError("the authorization request was answered meanwhile (its state is used)")
            store_refreshed(row, tokens, loaded.version)
            if tokens.refresh_token is None:
                row.refresh_token = None  # a new sign-in: a refresh token of an earlier one is not this grant's
            if tokens.id_token is None:
                row.id_token = row.id_hash = None
            row.grant_type = AUTHORIZATION_CODE
            row.stage = "loggedin"
            row.forget_request()
        return SignedIn(pending.session_id, pending.redirect_url, tokens.token.scope)

    def _locked(self, session: Session, row_id: int) -> AccessToken | None:
        statement = select(AccessToken).where(AccessToken.id == row_id)
        if session.get_bind().dialect.name != "sqlite":
            statement = statement.with_for_update()
        return session.scalars(statement).one_or_none()

    def _pending(self, session: Session, state_hash: str, now: float) -> _Pending:
        row = session.scalars(select(AccessToken).where(AccessToken.state_hash == state_hash)).first()
        if row is None:
            raise CallbackError("unknown or already used state")
        if row.application_name != self.application_name:
            raise CallbackError("the state belongs to another application's authorization request")
        if row.requested_at is None or row.requested_at + self.pending_lifetime <= utc(now):
            raise CallbackError("the authorization request has expired; sign in again")
        sent = row.request_parameters or {}
        redirect_uri = sent.get("redirect_uri")
        if not isinstance(redirect_uri, str):
            raise CallbackError("the pending request has no redirect_uri")
        max_age = sent.get("max_age")
        return _Pending(
            row.id,
            row.session_id,
            state_hash,
            redirect_uri,
            sent.get("scope"),
            max_age if isinstance(max_age, int) else None,
            row.redirect_url,
            row.code_verifier,
            row.nonce,
        )

    def _store_error(self, pending: _Pending, received: CallbackParameters) -> None:
        with self.store.session(write=True) as session:
            row = self._locked(session, pending.row_id)
            if row is not None and row.state_hash == pending.state_hash:
                row.error = {
                    "error": received.error,
                    "error_description": received.error_description,
                    "error_uri": received.error_uri,
                }
                row.forget_request()

    def _exchange(self, config: ClientConfig, pending: _Pending, code: str, now: float) -> UserTokens:
        form = build_authorization_code_form(code, pending.redirect_uri, pending.code_verifier)
        answer = post_authenticated(self._transport(config), config, config.endpoints.token_endpoint, form, now)
        return process_user_token_response(
            answer,
            now=utc(now),
            requested_scope=pending.scope,
            default_lifetime=self.default_lifetime,
            unstorable=AccessToken.token_problems,
        )

    # -- ValidateIDToken -------------------------------------------------------------------------------------------

    def validate_id_token(
        self,
        id_token: str,
        *,
        access_token: str | None = None,
        nonce: str | EllipsisType | None = ...,
        max_age: int | None = None,
        now: float | None = None,
    ) -> dict[str, Any]:
        """The claims of an ID token from the client's server once OpenID Connect Core 3.1.3.7 holds (IRIS
        `ValidateIDToken`): the signature with the server's JWKS and the client's `id_token_signed_response_alg`
        (never the token's alg; none and HMAC refused), `iss`, `aud`, `azp`, `exp`, `iat`, `sub`, `nonce` (equal
        to `nonce`; absent when None; not checked when left out), `at_hash` (against `access_token`, when given),
        `auth_time` (when `max_age` is given).

        Raises:
            JWTValidationError: `check` names the failed check.
        """
        moment = self.clock() if now is None else now
        with self.store.session() as session:
            client = self._client(session)
            claims = client.validate_jwt(
                id_token,
                token_type="id_token",  # noqa: S106 - a token kind, not a password
                leeway=self.leeway,
                now=moment,
                allow_insecure_http=self.allow_insecure_http,
            )
            client_id = client.client_id or ""
            alg = str(client.client_metadata.id_token_signed_response_alg)
        check_id_token(
            claims,
            client_id=client_id,
            alg=alg,
            nonce=nonce,
            access_token=access_token,
            max_age=max_age,
            now=moment,
            leeway=self.leeway,
        )
        return claims

    # -- IsAuthorized ----------------------------------------------------------------------------------------------

    def is_authorized(
        self, session_id: str, scope: str | Sequence[str] | None = None, *, refresh: bool = True
    ) -> SessionTokens:
        """The session's tokens, and whether they cover every requested scope (IRIS `IsAuthorized`).

        An access token due for renewal is refreshed first when the session has a refresh token and `refresh`
        (single flight across threads and processes, see `_signin.refresh`); while a refresh fails, the access
        token is served until it expires. Server errors are reported in `error`, not raised.

        Raises:
            ValidationError: a bad session id.
            NotFoundError: no such client.
        """
        check_session_id(session_id)
        wanted = _scope_text(scope)
        stored = self._read(session_id)
        now = self.clock()
        error: dict[str, Any] | None = None
        # A still-valid token served while another process refreshes may expire before this call returns (a slow
        # machine): then the refresh is looked at again, a few times at most.
        looks = 0
        while (
            refresh
            and looks < _REFRESH_LOOKS
            and error is None
            and stored is not None
            and stored.refresh_token is not None
            and stored.token is not None
            and not self._refresher.fresh(stored.token, now)
            and not (looks and _valid(stored, now))
        ):
            outcome = self._refresher.refresh(session_id, self._read, self._ask_refresh)
            stored, error = outcome.stored, outcome.error
            now = self.clock()
            looks += 1
        if stored is None:
            return SessionTokens(False, error=error)
        return stored.tokens(_valid(stored, now) and covers(stored.scope, wanted), error)

    def _ask_refresh(self, refresh_token: str, id_token: str | None, ends_by: float) -> UserTokens:
        """The server's answer to a refresh; a new ID token must be valid and keep the session's `sub`."""
        now = self.clock()
        with self.store.session() as session:
            config = client_config(session, self._client(session), now)
        form = build_refresh_token_form(refresh_token)
        answer = post_authenticated(
            self._transport(config, ends_by), config, config.endpoints.token_endpoint, form, now
        )
        tokens = process_user_token_response(
            answer, now=utc(now), requested_scope=None, default_lifetime=self.default_lifetime
        )
        if tokens.id_token is not None and id_token is not None:
            first = unverified_claims(id_token)
            # OIDC Core 12.2: a refreshed ID token should carry no nonce; one that does carries the first one's.
            sent_nonce = first.get("nonce") if "nonce" in unverified_claims(tokens.id_token) else None
            claims = self.validate_id_token(
                tokens.id_token, access_token=tokens.token.access_token, nonce=sent_nonce, now=now
            )
            check_refreshed_id_token(first, claims)
        return tokens

    # -- userinfo --------------------------------------------------------------------------------------------------

    def get_userinfo(self, session_id: str) -> dict[str, Any]:
        """The signed-in user's claims from the server's userinfo endpoint (IRIS `GetUserinfo`): JSON, or a JWT
        checked against the server's JWKS with the client's `userinfo_signed_response_alg`; the `sub` must be the
        session's ID token's.

        Raises:
            NotFoundError: the session is not signed in.
            ProtocolError: the server has no userinfo endpoint, or answered out of spec.
            JWTValidationError: a signed answer failed a check, or `sub` is not the ID token's ("sub").
            OAuthServerError, TransportError.
        """
        tokens = self.is_authorized(session_id)
        if not tokens.is_authorized or tokens.access_token is None:
            raise NotFoundError("signed-in session", (self.application_name, session_id))
        now = self.clock()
        with self.store.session() as session:
            loaded = self._load(session, now)
        endpoint = loaded.endpoints.userinfo_endpoint
        if not endpoint:
            raise ProtocolError(loaded.config.endpoints.issuer, "the server definition has no userinfo_endpoint")
        headers = {"Authorization": f"Bearer {tokens.access_token}", "Accept": "application/json, application/jwt"}
        answer = process_userinfo_response(self._transport(loaded.config).get(endpoint, headers=headers))
        if answer.jwt is not None:
            alg = loaded.endpoints.userinfo_signed_response_alg
            with self.store.session() as session:
                claims = self._client(session).validate_jwt(
                    answer.jwt,
                    algorithms=[alg] if alg and alg != "none" else [],
                    leeway=self.leeway,
                    now=now,
                    allow_insecure_http=self.allow_insecure_http,
                )
        else:
            assert answer.claims is not None
            claims = answer.claims
        if tokens.id_token is not None:
            check_subject(claims, str(unverified_claims(tokens.id_token).get("sub", "")))
        return claims

    # -- logout (GetLogoutEndpoint, OAuth2.PostLogoutRedirect), RevokeToken, RemoveAccessToken, Cleanup ---------

    def logout_url(
        self, session_id: str, redirect_url: str | None = None, *, post_logout_redirect_uri: str | None = None
    ) -> str | None:
        """The server's RP-initiated logout URL for the session (IRIS `GetLogoutEndpoint`), with `id_token_hint`,
        `post_logout_redirect_uri` (the client's first registered one unless given) and a single-use state; None
        (IRIS: "") when the server has no end_session_endpoint or the session no ID token.

        `redirect_url` is where `handle_logout_callback` sends the browser at the end.
        """
        check_session_id(session_id)
        now = self.clock()
        with self.store.session(write=True) as session:
            loaded = self._load(session, now)
            endpoint = loaded.endpoints.end_session_endpoint
            row = AccessToken.OpenForSession(session, self.application_name, session_id)
            if not endpoint or row is None or not row.id_token:
                return None
            state = random_value()
            row.logout_state = digest(state)
            row.logout_redirect_url = redirect_url
            row.logout_requested_at = utc(now)
            target = post_logout_redirect_uri or next(iter(loaded.endpoints.post_logout_redirect_uris), None)
            return logout_url(
                endpoint,
                id_token_hint=row.id_token,
                client_id=loaded.config.identity.client_id,
                post_logout_redirect_uri=target,
                state=state,
            )

    def handle_logout_callback(self, parameters: Mapping[str, Any]) -> str | None:
        """Finish a logout from the post-logout redirect's parameters (IRIS's `OAuth2.PostLogoutRedirect` page):
        the state is checked once, the session's row removed and its tokens revoked at the server's revocation
        endpoint when it has one; returns the `redirect_url` given to `logout_url`.

        Raises:
            CallbackError: no state, an unknown, used or expired one, or another application's (nothing changed).
        """
        state = parse_callback(parameters).state
        now = self.clock()
        state_hash = digest(state)
        with self.store.session(write=True) as session:
            row = session.scalars(select(AccessToken).where(AccessToken.logout_state == state_hash)).first()
            if row is None:
                raise CallbackError("unknown or already used logout state")
            if row.application_name != self.application_name:
                raise CallbackError("the logout state belongs to another application")
            if row.logout_requested_at is None or row.logout_requested_at + self.pending_lifetime <= utc(now):
                raise CallbackError("the logout has expired")
            redirect = row.logout_redirect_url
            tokens = [(row.refresh_token, "refresh_token"), (row.access_token, "access_token")]
            session.delete(row)
        self._revoke(tokens, now)
        return redirect

    def _revoke(self, tokens: Sequence[tuple[str | None, str]], now: float) -> None:
        """Revoke each token at the revocation endpoint, if the server has one; failures are logged, not raised
        (the session is gone here already)."""
        with self.store.session() as session:
            config = client_config(session, self._client(session), now)
        if not config.endpoints.revocation_endpoint:
            return
        transport = self._transport(config)
        for token, hint in tokens:
            if not token:
                continue
            try:
                revoke_token(config, transport, token, now, hint)
            except OAuth2StoreError as error:
                log.warning("%s: revoking a %s failed (%s)", self.application_name, hint, type(error).__name__)

    def revoke_token(self, session_id: str) -> bool:
        """Revoke the session's tokens at the server and remove its row (IRIS `RevokeToken`); False when the
        session had no row. Revocation failures are logged: the row is removed all the same."""
        check_session_id(session_id)
        now = self.clock()
        with self.store.session(write=True) as session:
            row = AccessToken.OpenForSession(session, self.application_name, session_id)
            if row is None:
                return False
            tokens = [(row.refresh_token, "refresh_token"), (row.access_token, "access_token")]
            session.delete(row)
        self._revoke(tokens, now)
        return True

    def remove_access_token(self, session_id: str) -> bool:
        """Remove the session's row without telling the server (IRIS `RemoveAccessToken`); False when none."""
        check_session_id(session_id)
        with self.store.session(write=True) as session:
            row = AccessToken.OpenForSession(session, self.application_name, session_id)
            if row is None:
                return False
            session.delete(row)
            return True

    def cleanup(self) -> int:
        """`AccessToken.Cleanup` for this client's rows, with this object's pending lifetime."""
        with self.store.session(write=True) as session:
            return AccessToken.Cleanup(
                session,
                utc(self.clock()),
                pending_lifetime=self.pending_lifetime,
                application_name=self.application_name,
            )

"""httpx authentication with the store's tokens: `TokenAuth`, for `httpx.Client` and `httpx.AsyncClient`.

::

    from oauth2store.httpx_auth import TokenAuth

    agent = await AsyncAgentClient.open(store, "orders-service")
    async with httpx.AsyncClient(auth=TokenAuth(agent, scope="orders:read")) as http:
        orders = await http.get("https://api.example.com/orders")

The one module that imports httpx (`pip install 'oauth2store[httpx]'`); `import oauth2store` never does, so it is a
public module of its own rather than names of the package root. A token comes from a `TokenSource` (an
`AgentClient`) or an `AsyncTokenSource` (an `AsyncAgentClient`): anything with `get_token` and `invalidate` will do,
such as a signed-in session.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Generator, Sequence
from typing import Protocol, cast

try:
    import httpx
except ImportError as missing:  # pragma: no cover - exercised in a process without httpx
    raise ImportError("oauth2store.httpx_auth needs httpx: pip install 'oauth2store[httpx]'") from missing

from ._errors import ProtocolError
from ._tokens import Token
from ._www_authenticate import parse_challenges

__all__ = ["AsyncTokenSource", "TokenAuth", "TokenSource"]

Scope = str | Sequence[str] | None
Resource = str | Sequence[str] | None


class TokenSource(Protocol):
    """Where `TokenAuth` gets tokens for `httpx.Client`: an `AgentClient`, or anything shaped like one."""

    def get_token(self, scope: Scope = None, *, resource: Resource = None) -> Token:
        """A valid token for `scope` and `resource` (the source's defaults when None)."""
        ...

    def invalidate(self, token: Token | str) -> bool:
        """Stop handing out `token`, which a resource server refused: the next `get_token` returns another."""
        ...


class AsyncTokenSource(Protocol):
    """Where `TokenAuth` gets tokens for `httpx.AsyncClient`: an `AsyncAgentClient`, or anything shaped like one."""

    async def get_token(self, scope: Scope = None, *, resource: Resource = None) -> Token:
        """A valid token for `scope` and `resource` (the source's defaults when None)."""
        ...

    async def invalidate(self, token: Token | str) -> bool:
        """Stop handing out `token`, which a resource server refused: the next `get_token` returns another."""
        ...


class TokenAuth(httpx.Auth):
    """Sends every request with `Authorization: Bearer <token>` from `source`, for `scope` and RFC 8707 `resource`.

    When the resource server answers 401 with a Bearer challenge saying `error="invalid_token"` (RFC 6750 §3.1:
    expired, revoked or otherwise refused, though the token looked fresh here), the token is invalidated at the
    source, so every thread, task and process stops using it, and the request is sent once more with a new one; a
    second refusal is the answer. A sync source serves `httpx.Client`, an async one `httpx.AsyncClient` (the sync
    agent would block the event loop; `AsyncAgentClient.agent` is the sync agent of an async one). The request body
    is kept, to be sent again.

    Only bearer tokens are sent (RFC 6749 §7.1: a client uses no token whose type it does not understand). `authorize`
    (put the token on the request) and `refused` (whether an answer refuses it) are the seams for DPoP: a proof per
    request, and one retry on a `use_dpop_nonce` challenge.
    """

    def __init__(
        self, source: TokenSource | AsyncTokenSource, *, scope: Scope = None, resource: Resource = None
    ) -> None:
        self.source = source
        self.scope = scope
        self.resource = resource
        is_async = inspect.iscoroutinefunction(source.get_token)
        self._sync = None if is_async else cast(TokenSource, source)
        self._async = cast(AsyncTokenSource, source) if is_async else None

    def __repr__(self) -> str:
        return f"TokenAuth({self.source!r}, scope={self.scope!r}, resource={self.resource!r})"

    def authorize(self, request: httpx.Request, token: Token) -> httpx.Request:
        """`request` carrying `token`.

        Raises:
            ProtocolError: the token is not a bearer token (a DPoP-bound token needs a proof this version does not
                make).
        """
        if token.token_type.lower() != "bearer":
            raise ProtocolError(str(request.url), f"cannot send a token of type {token.token_type!r} (Bearer only)")
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        return request

    def refused(self, response: httpx.Response) -> bool:
        """Whether `response` refuses the token itself (401 with a Bearer `invalid_token` challenge)."""
        if response.status_code != 401:
            return False
        challenges = parse_challenges(response.headers.get_list("WWW-Authenticate"))
        return any(c.scheme == "bearer" and c.params.get("error") == "invalid_token" for c in challenges)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        source = self._sync
        if source is None:
            raise TypeError(f"{self.source!r} is async: use this TokenAuth with httpx.AsyncClient")
        request.read()
        token = source.get_token(self.scope, resource=self.resource)
        response = yield self.authorize(request, token)
        if self.refused(response):
            source.invalidate(token)
            renewed = source.get_token(self.scope, resource=self.resource)
            if renewed.access_token != token.access_token:
                yield self.authorize(request, renewed)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        source = self._async
        if source is None:
            raise TypeError(f"{self.source!r} would block the event loop: give TokenAuth an AsyncAgentClient")
        await request.aread()
        token = await source.get_token(self.scope, resource=self.resource)
        response = yield self.authorize(request, token)
        if self.refused(response):
            await source.invalidate(token)
            renewed = await source.get_token(self.scope, resource=self.resource)
            if renewed.access_token != token.access_token:
                yield self.authorize(request, renewed)

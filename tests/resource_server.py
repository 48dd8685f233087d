"""A protected resource on loopback, in front of the real oidc-provider: it publishes its RFC 9728 metadata naming
the provider as its authorization server, and answers under its path only to a token the provider says is active
(RFC 7662 introspection, with a client of its own). `revoke` revokes a token at the provider behind the store's back,
so the resource refuses a token the store still holds as fresh."""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
import urllib.request
from typing import Any

from local_servers import LocalServer, Reply, Seen
from oidc_provider import OidcProvider

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
WELL_KNOWN = "/.well-known/oauth-protected-resource"


def _post_form(url: str, form: dict[str, str], client_id: str, secret: str) -> dict[str, Any]:
    basic = base64.b64encode(f"{urllib.parse.quote(client_id)}:{urllib.parse.quote(secret)}".encode()).decode()
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(form).encode(),
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with _NO_PROXY.open(request, timeout=10) as answer:
        body = answer.read()
    return json.loads(body) if body else {}


class ResourceServer(LocalServer):
    """The resource `{url}/api`, whose tokens `op` issues; `seen_tokens` lists the bearer tokens it was sent."""

    SECRET = "the-resource-servers-own-secret-0123"

    def __init__(self, op: OidcProvider, path: str = "/api") -> None:
        self.op = op
        self.path = path
        self.client_id = op.register(client_secret=self.SECRET)["client_id"]
        with _NO_PROXY.open(f"{op.issuer}/.well-known/openid-configuration", timeout=10) as answer:
            discovered = json.loads(answer.read())
        self.introspection_endpoint: str = discovered["introspection_endpoint"]
        self.revocation_endpoint: str = discovered["revocation_endpoint"]
        self.seen_tokens: list[str] = []
        #: When set, every request with a token is refused with this WWW-Authenticate challenge.
        self.refusal: str | None = None
        self._lock = threading.Lock()
        super().__init__(self._answer)
        # socketserver listens with a backlog of 5: a hundred clients connecting at once would overflow it, and the
        # kernel's retries of the dropped handshakes can outlast a client's timeout on a loaded machine.
        self.httpd.socket.listen(256)

    @property
    def resource(self) -> str:
        return f"{self.url}{self.path}"

    @property
    def metadata_url(self) -> str:
        return f"{self.url}{WELL_KNOWN}{self.path}"

    def metadata(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "authorization_servers": [self.op.issuer],
            "scopes_supported": ["openid"],
            "bearer_methods_supported": ["header"],
            "resource_name": "the tests' resource",
        }

    def challenge(self, error: str | None = None) -> str:
        params = f'error="{error}", ' if error else ""
        return f'Bearer {params}resource_metadata="{self.metadata_url}"'

    def active(self, token: str) -> bool:
        answer = _post_form(self.introspection_endpoint, {"token": token}, self.client_id, self.SECRET)
        return answer.get("active") is True

    def revoke(self, token: str, client_id: str, secret: str) -> None:
        """Revoke `token` at the provider as its client (RFC 7009), leaving the store unaware."""
        _post_form(self.revocation_endpoint, {"token": token}, client_id, secret)

    def _answer(self, request: Seen) -> Reply:
        target = request.path.split("?")[0]
        if target == WELL_KNOWN + self.path:
            return Reply(200, self.metadata())
        if not target.startswith(self.path):
            return Reply(404, {})
        headers = {name.lower(): value for name, value in request.headers.items()}
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return Reply(401, {}, headers={"WWW-Authenticate": self.challenge()})
        with self._lock:
            self.seen_tokens.append(token)
        if self.refusal is not None:
            return Reply(401, {}, headers={"WWW-Authenticate": self.refusal})
        if not self.active(token):
            return Reply(401, {"error": "invalid_token"}, headers={"WWW-Authenticate": self.challenge("invalid_token")})
        return Reply(200, {"method": request.method, "path": target, "body": request.body.decode()})

    def __enter__(self) -> ResourceServer:
        super().__enter__()
        return self

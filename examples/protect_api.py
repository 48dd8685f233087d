"""A resource server that accepts only JWT access tokens its authorization server signed for it.

    python examples/protect_api.py ISSUER CLIENT_ID CLIENT_SECRET RESOURCE

The store (embedded SQLite default) learns the issuer by discovery, which also caches its JWKS. The handler calls
`client.validate_jwt` on each request: signature against the cached JWKS (refreshed when it expires, and once for an
unknown key id), the algorithm from the client's metadata, and exp / nbf / iat / iss / aud. Then, to show it
working, the script gets a token for RESOURCE as a service would (AgentClient) and calls its own endpoint with it,
with a tampered copy, and with none.
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from oauth2store import AgentClient, Client, JWTValidationError, ServerDefinition, Store


def define(store: Store, issuer: str, client_id: str, client_secret: str) -> None:
    """The resource server's own client definition: it introspects and validates, and gets demo tokens."""
    with store.session() as db:
        server = ServerDefinition.discover(db, issuer)  # http is refused unless the issuer is on loopback
        client = Client.Open(db, "orders-api") or Client(application_name="orders-api")
        client.client_type = "confidential"
        client.client_id, client.client_secret = client_id, client_secret
        client.server_definition = server
        client.client_metadata.grant_types = ["client_credentials"]
        db.add(client)


def make_handler(store: Store, resource: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            scheme, _, token = self.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token:
                return self.reply(401, {"error": "invalid_request"})
            try:
                with store.session() as db:  # a short session per request; the parsed keys stay cached
                    client = Client.Open(db, "orders-api")
                    assert client is not None
                    claims = client.validate_jwt(token, audience=resource)
            except JWTValidationError as error:
                # error.check says which check failed; the token itself never appears in the message.
                return self.reply(401, {"error": "invalid_token", "error_description": str(error)})
            self.reply(200, {"orders": [], "client": claims.get("client_id"), "scope": claims.get("scope")})

        def reply(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def call(url: str, token: str | None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def main(issuer: str, client_id: str, client_secret: str, resource: str) -> None:
    store = Store()
    store.upgrade()
    define(store, issuer, client_id, client_secret)
    api = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(store, resource))
    threading.Thread(target=api.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{api.server_address[1]}/orders"

    token = AgentClient(store, "orders-api").get_access_token(resource=resource)
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload[:-4]}AAAA.{signature}"
    for label, presented in (("valid token", token), ("tampered token", tampered), ("no token", None)):
        status, body = call(url, presented)
        print(f"{label:<15} -> {status} {json.dumps(body)}")
    api.shutdown()
    store.close()


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])

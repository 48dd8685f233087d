"""JWT validation throughput, as ratios against baselines measured in the same process.

    python bench/bench_jwt.py [--seconds 1.0]

- `client.validate_jwt` on a stored client whose server JWKS is cached (the public API, end to end)
- ours: `jws.verify` + `check_claims` with a parsed, cached `KeySet` (the core of validate_jwt)
- python-jose's own `jwt.decode` with a ready key object (aim: ours within 1.2x)
- a bare `cryptography` RS256 signature verification (the floor: the RSA math alone)
- faults: JWKS requests made by bad tokens once the cached set has expired, each validated in a session that rolls
  back, against a JWKS endpoint that answers and one that fails with 503 (a SQLite file store)
"""

from __future__ import annotations

import argparse
import base64
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jose import jwk, jws, jwt
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from oauth2store import Client, JWTValidationError, ServerDefinition, Store, generate_store_key
from oauth2store._jwx.jwk import KeySet
from oauth2store._jwx.jws import verify
from oauth2store._jwx.jwt import check_claims

ISSUER = "https://as.example.com"


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second over about `seconds`, best of three rounds."""
    best = 0.0
    for _ in range(3):
        calls, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds / 3:
            for _ in range(50):
                fn()
            calls += 50
        best = max(best, calls / elapsed)
    return best


def stored_client(public_jwk: dict[str, str]) -> tuple[Store, Client]:
    """A client in an in-memory store whose server definition holds the JWKS (no HTTP in the loop)."""
    store = Store("sqlite://", key=generate_store_key())
    store.upgrade()
    session = Session(store.engine, expire_on_commit=False)
    server = ServerDefinition(issuer_endpoint=ISSUER, public_jwks={"keys": [public_jwk]})
    server.server_metadata.token_endpoint = f"{ISSUER}/token"
    server.server_metadata.grant_types_supported = ["client_credentials"]
    client = Client(application_name="api", client_type="resource", client_id="api", client_secret="s",
                    server_definition=server)  # fmt: skip
    session.add(client)
    session.commit()
    return store, client


class _JWKSEndpoint(BaseHTTPRequestHandler):
    """GET /jwks: the JWKS, or 503 when `failing`; counts the requests."""

    jwks: bytes = b""
    failing = False
    requests = 0

    def do_GET(self) -> None:
        type(self).requests += 1
        status, body = (503, b"down") if self.failing else (200, self.jwks)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Retry-After", "0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def jwks_endpoint(jwks: dict[str, object], failing: bool) -> Iterator[type[_JWKSEndpoint]]:
    import json

    handler = type("Endpoint", (_JWKSEndpoint,), {"jwks": json.dumps(jwks).encode(), "failing": failing})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def fault_requests(public_jwk: dict[str, str], bad_token: str, tokens: int, failing: bool) -> int:
    """JWKS requests made by `tokens` bad tokens after the cached set expired, each in a session that rolls back."""
    jwks = {"keys": [public_jwk]}
    with tempfile.TemporaryDirectory() as directory, jwks_endpoint(jwks, failing) as endpoint:
        url = endpoint.url  # type: ignore[attr-defined]
        store = Store(f"sqlite:///{directory}/store.db", key=generate_store_key())
        store.upgrade()
        with store.session() as session:
            server = ServerDefinition(issuer_endpoint=url, public_jwks=jwks)
            server.server_metadata.token_endpoint = f"{url}/token"
            server.server_metadata.jwks_uri = f"{url}/jwks"
            server.server_metadata.grant_types_supported = ["client_credentials"]
            server.public_jwks_expires = int(time.time()) - 1  # the cached set has just expired
            server.public_jwks_fetched = datetime.fromtimestamp(time.time() - 600, UTC)
            session.add(Client(application_name="api", client_type="resource", client_id="api",
                               client_secret="s", server_definition=server))  # fmt: skip
        for _ in range(tokens):
            try:
                with store.session() as session:
                    client = Client.Open(session, "api")
                    assert client is not None
                    client.validate_jwt(bad_token, audience="api")
            except JWTValidationError:
                pass  # the caller's session rolled back
        store.close()
        return endpoint.requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.5)
    args = parser.parse_args()

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()  # fmt: skip
    public_jwk = {**jwk.construct(pem, "RS256").public_key().to_dict(), "kid": "k1", "alg": "RS256", "use": "sig"}
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "api", "sub": "svc", "iat": now, "exp": now + 3600, "scope": "a b"}
    token = jws.sign(claims, pem, algorithm="RS256", headers={"kid": "k1"})
    key_set = KeySet({"keys": [public_jwk]})
    ready_key = jwk.construct(public_jwk, "RS256")
    signing_input, signature = token.rsplit(".", 1)
    raw_signature = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    public_key = private.public_key()

    def ours() -> object:
        verified = verify(token, key_set, ["RS256"])
        check_claims(verified, issuer=ISSUER, audience="api", now=time.time(), leeway=60)
        return verified

    store, client = stored_client(public_jwk)

    def validate() -> object:
        return client.validate_jwt(token, audience="api")

    def jose_decode() -> object:
        return jwt.decode(token, ready_key, algorithms=["RS256"], audience="api", issuer=ISSUER)

    def bare() -> None:
        public_key.verify(raw_signature, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())

    assert ours() == jose_decode() == validate()
    measured = (("validate", validate), ("ours", ours), ("jose", jose_decode), ("bare", bare))
    results = {name: rate(fn, args.seconds) for name, fn in measured}
    store.close()
    print(f"client.validate_jwt              {results['validate']:9.0f} tokens/s   costs "
          f"{results['jose'] / results['validate']:.2f}x python-jose's decode time (aim <= 1.2x)")  # fmt: skip
    print(f"jws.verify + check_claims        {results['ours']:9.0f} tokens/s")
    print(f"python-jose jwt.decode (ready key) {results['jose']:7.0f} tokens/s   ours costs "
          f"{results['jose'] / results['ours']:.2f}x jose's time (aim <= 1.2x)")  # fmt: skip
    print(f"bare cryptography RS256 verify   {results['bare']:9.0f} /s        ours costs "
          f"{results['bare'] / results['ours']:.2f}x the bare signature check")  # fmt: skip

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()  # fmt: skip
    bad_token = jws.sign(claims, other_pem, algorithm="RS256", headers={"kid": "k1"})  # k1's kid, another key
    logging.getLogger("oauth2store").setLevel(logging.ERROR)  # one warning per stale copy served
    answering = fault_requests(public_jwk, bad_token, 200, failing=False)
    failing = fault_requests(public_jwk, bad_token, 20, failing=True)
    print(f"200 bad tokens, expired JWKS, endpoint answering  {answering:5d} JWKS requests")
    print(f" 20 bad tokens, expired JWKS, endpoint failing    {failing:5d} JWKS requests (503, 3 attempts a fetch)")


if __name__ == "__main__":
    main()

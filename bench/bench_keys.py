"""Costs of client keys and encrypted secrets, as ratios against baselines measured in the same process.

    python bench/bench_keys.py [--rounds N]

1. RotateKeys (generate, serialize, thumbprint, save) against a bare `cryptography` RSA-2048 generation.
2. signing_key() + an RS256 signature over a typical client assertion, against the same signature with a key
   object already in hand (parsed keys are cached, so the aim is within 1.2x).
3. Reading a client with every secret set (decrypting them) against reading one without secrets, same store.

Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from oauth2store import Client, Endpoint, ServerDefinition, Store, generate_store_key, signing_key


def per_call(function: Callable[[], object], rounds: int) -> float:
    """Median seconds per call over `rounds` timed runs (after one warm-up call)."""
    function()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def assertion(kid: str) -> bytes:
    """The signing input of a typical private_key_jwt client assertion (RFC 7523)."""

    def b64(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    claims = {
        "iss": "orders",
        "sub": "orders",
        "aud": "https://as.example.com/token",
        "jti": "4f1c0b6e-1d2a-4c39-9a77-0b9f3c8f2d11",
        "iat": 1767268800,
        "exp": 1767268860,
    }
    return f"{b64(header)}.{b64(claims)}".encode()


def report(name: str, measured: float, baseline: float, baseline_name: str) -> None:
    figures = f"{measured * 1e3:9.3f} ms   {baseline_name:<34} {baseline * 1e3:9.3f} ms"
    print(f"{name:<52} {figures}   {measured / baseline:6.2f}x")


def new_client(server: ServerDefinition, name: str, **values: object) -> Client:
    client = Client(
        application_name=name,
        client_type="confidential",
        client_id=name,
        server_definition=server,
        redirection_endpoint=Endpoint("app.example.com", None, "cb"),
        **values,
    )
    client.client_metadata.token_endpoint_auth_method = "private_key_jwt"
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    with (
        tempfile.TemporaryDirectory() as directory,
        Store(f"sqlite:///{directory}/bench.db", key=generate_store_key()) as store,
    ):
        store.upgrade()
        with store.session() as db:
            server = ServerDefinition(issuer_endpoint="https://as.example.com")
            server.server_metadata.issuer = "https://as.example.com"
            server.server_metadata.token_endpoint = "https://as.example.com/token"
            server.server_metadata.authorization_endpoint = "https://as.example.com/authorize"
            db.add(server)
            db.flush()
            db.add(new_client(server, "plain"))
            secret = new_client(server, "secret", client_secret="s" * 43, client_password="p" * 32)
            secret.client_metadata.registration_access_token = "r" * 43
            db.add(secret)
            db.flush()
            secret.RotateKeys()

        print(f"{'measured':<52} {'':>12}   {'baseline':<34} {'':>12}   ratio")

        # 1. RotateKeys against bare generation (RotateKeys rolls back, so the client keeps one key).
        def rotate() -> None:
            with store.engine.connect() as connection, Session(connection) as db:
                client = db.get(Client, "secret")
                assert client is not None
                client.RotateKeys()
                db.rollback()

        bare_generation = per_call(lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), rounds)
        report("RotateKeys (RSA-2048, flushed, rolled back)", per_call(rotate, rounds), bare_generation,
               "rsa.generate_private_key(2048)")  # fmt: skip

        # 2. signing_key + RS256 signature against a signature with a ready key object.
        with store.session() as db:
            client = db.get(Client, "secret")
            assert client is not None
        ready = signing_key(client).private_key
        assert isinstance(ready, rsa.RSAPrivateKey)
        message = assertion(signing_key(client).kid)

        def sign_ready() -> bytes:
            return ready.sign(message, padding.PKCS1v15(), hashes.SHA256())

        def sign_via_store() -> bytes:
            key = signing_key(client).private_key
            assert isinstance(key, rsa.RSAPrivateKey)
            return key.sign(message, padding.PKCS1v15(), hashes.SHA256())

        bare_signature = per_call(sign_ready, rounds * 10)
        report("signing_key() + RS256 signature", per_call(sign_via_store, rounds * 10), bare_signature,
               "RS256 signature, key in hand")  # fmt: skip

        # 3. Reading a client with secrets against one without, same store and same query.
        def read(name: str) -> Callable[[], object]:
            def run() -> object:
                with store.session() as db:
                    return db.get(Client, name)

            return run

        plain = per_call(read("plain"), rounds * 10)
        report("read client with secrets (+1 key, decrypted)", per_call(read("secret"), rounds * 10), plain,
               "read client without secrets")  # fmt: skip


if __name__ == "__main__":
    main()

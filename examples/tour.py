"""The whole story in under a minute, as the `oauth2store` command (each step printed as you would type it).

    python examples/tour.py                        # against the local oidc-provider (needs Node.js and npm)
    OAUTH2STORE_TOUR_CLIENT_SECRET=... python examples/tour.py --issuer https://login.example.com --client-id ID

Creates a fresh store (a SQLite file in a temporary directory, or --db URL), defines a server by discovery and two
clients, rotates a client's keys, lists the clients and gets an access token. The local server is the pinned
oidc-provider in tests/oidc (the first run installs it with `npm ci`); its client authenticates with the key pair
just rotated (private_key_jwt). With --issuer, the client authenticates to that server with its secret
(client_secret_basic) from $OAUTH2STORE_TOUR_CLIENT_SECRET. Without either, the token step is skipped and says so.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

from oauth2store.cli import main as oauth2store

SERVICE, WEB = "tour-service", "tour-web"
TESTS = Path(__file__).resolve().parent.parent / "tests"
SECRET_VARIABLE = "OAUTH2STORE_TOUR_CLIENT_SECRET"


def run(*args: str, stdin: str | None = None, quiet: bool = False) -> str:
    """Run one `oauth2store` command in this process, print it and its output; stop the tour if it fails."""
    shown = ["--db", "$DB", *args[2:]] if args[:1] == ("--db",) else list(args)
    print("\n$ oauth2store " + " ".join(a if " " not in a else repr(a) for a in shown))
    output = io.StringIO()
    saved_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin or "")
    try:
        with redirect_stdout(output):
            code = oauth2store(list(args))
    finally:
        sys.stdin = saved_stdin
    if not quiet:
        print(output.getvalue(), end="")
    if code:
        sys.exit(f"the tour stopped: exit code {code}")
    return output.getvalue()


@contextmanager
def local_provider() -> Iterator[Any]:
    """The loopback oidc-provider of the test suite, with one client that signs its requests (private_key_jwt)."""
    sys.path.insert(0, str(TESTS))
    from oidc_provider import OidcProvider

    client = {"client_id": SERVICE, "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": []}}
    with OidcProvider(clients=[client]) as provider:
        yield provider


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT access token, unverified (only to show what the server issued)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="Database URL (default: a new SQLite file in a temporary directory).")
    parser.add_argument("--issuer", help="A real authorization server instead of the local one.")
    parser.add_argument("--client-id", help="With --issuer: a client_id allowed the client credentials grant.")
    options = parser.parse_args()
    if options.issuer and not (options.client_id and os.environ.get(SECRET_VARIABLE)):
        parser.error(f"--issuer needs --client-id and the client's secret in ${SECRET_VARIABLE}")
    url = options.db or f"sqlite:///{Path(tempfile.mkdtemp(prefix='oauth2store-tour-')) / 'tour.db'}"
    print(f"DB={url}")
    db = ("--db", url)

    with ExitStack() as stack:
        provider = None
        issuer = options.issuer
        if issuer is None and shutil.which("node") and shutil.which("npm"):
            provider = stack.enter_context(local_provider())
            issuer = provider.issuer
            print(f"(started the local oidc-provider at {issuer})")

        run(*db, "db", "upgrade")
        if issuer is not None:
            run(*db, "server", "discover", issuer)
        else:
            issuer = "https://login.example.com"
            run(*db, "server", "create", issuer, "--token-endpoint", f"{issuer}/token", "--grant-type",
                "client_credentials")  # fmt: skip
        # The local client signs with its key pair; a named server's client sends its secret (read from stdin,
        # never from argv).
        auth = ["--client-secret", "-"] if options.issuer else ["--auth-method", "private_key_jwt"]
        run(*db, "client", "create", SERVICE, "--type", "confidential", "--server", issuer, "--client-id",
            options.client_id or SERVICE, *auth, "--grant-type", "client_credentials",
            stdin=os.environ.get(SECRET_VARIABLE, "") + "\n")  # fmt: skip
        run(*db, "client", "create", WEB, "--type", "public", "--server", issuer, "--client-id", WEB,
            "--auth-method", "none", "--redirect-url", "https://web.example.com/oauth2/callback")  # fmt: skip
        run(*db, "keys", "rotate", SERVICE)
        jwks = json.loads(run(*db, "keys", "show", SERVICE))
        run(*db, "client", "list")

        if provider is not None:
            # Done once by an administrator: the server gets the public JWKS (never the private key).
            provider.restart(clients=[{"client_id": SERVICE, "token_endpoint_auth_method": "private_key_jwt",
                                       "jwks": jwks}])  # fmt: skip
            print(f"\n(registered {SERVICE}'s public JWKS with the local server)")
            token = run(*db, "token", SERVICE, "--resource", "urn:test:api", quiet=True).strip()
            claims = jwt_claims(token)
            print(f"{token[:24]}...  (a JWT: iss {claims['iss']}, aud {claims['aud']}, "
                  f"expires in {claims['exp'] - claims['iat']} s)")  # fmt: skip
            again = run(*db, "token", SERVICE, "--resource", "urn:test:api", quiet=True).strip()
            reused = "the same token: reused from the store" if again == token else "a new token"
            print(f"{again[:24]}...  ({reused})")
            print(f"\nthe server saw {provider.stats()['total']} token request(s)")
        elif options.issuer:
            token = run(*db, "token", SERVICE, quiet=True).strip()
            print(f"{token[:12]}... ({len(token)} characters)")
        else:
            print("\n(token step skipped: Node.js and npm are not installed, so there is no local server; run\n"
                  f" {SECRET_VARIABLE}=... python examples/tour.py --issuer URL --client-id ID\n"
                  " to get a token from an authorization server you name)")  # fmt: skip


if __name__ == "__main__":
    main()

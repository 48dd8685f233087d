"""One process of the shared-JWKS-refresh test: validates tokens with client `api`; prints a JSON list of outcomes.

It prints READY once its store is open, waits for a line on stdin (the common start), then validates each token in
a session of its own, which rolls back when the token is refused.
"""

from __future__ import annotations

import json
import sys

from oauth2store import Client, JWTValidationError, Store


def main(url: str, tokens: list[str]) -> None:
    store = Store(url)
    with store.session() as session:
        Client.Open(session, "api")
    print("READY", flush=True)
    sys.stdin.readline()
    outcomes = []
    for token in tokens:
        try:
            with store.session() as session:
                client = Client.Open(session, "api")
                assert client is not None
                outcomes.append(client.validate_jwt(token)["sub"])
        except JWTValidationError as error:
            outcomes.append(error.check)
    store.close()
    print(json.dumps(outcomes), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])

"""One process of the shared-refresh test: threads calling `is_authorized` on one signed-in session of a shared
store until a deadline; prints a JSON summary (every access token seen, every error).

It prints READY once loaded, waits for a line on stdin (the common start), then calls.
"""

from __future__ import annotations

import json
import sys
import threading
import time

from oauth2store import SignIn, Store


def main(url: str, application_name: str, session_id: str, threads: int, seconds: float) -> None:
    store = Store(url)
    signin = SignIn(store, application_name)
    print("READY", flush=True)
    sys.stdin.readline()
    end = time.time() + seconds
    tokens: set[str] = set()
    errors: list[str] = []
    calls = [0]
    guard = threading.Lock()

    def run() -> None:
        while time.time() < end:
            try:
                result = signin.is_authorized(session_id, "openid")
            except Exception as exc:  # reported, never hidden: the test fails on any
                with guard:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with guard:
                calls[0] += 1
                if not result.is_authorized or result.access_token is None:
                    errors.append(f"not authorized: {result.error}")
                else:
                    tokens.add(result.access_token)
            time.sleep(0.02)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    store.close()
    print(json.dumps({"calls": calls[0], "tokens": sorted(tokens), "errors": errors}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))

"""One process of the single-flight test: many get_token calls on a shared store; prints a JSON summary.

It prints READY once its agent is loaded, waits for a line on stdin (the common start), then calls.
"""

from __future__ import annotations

import json
import sys
import time

from oauth2store import AgentClient, Skew, Store


def main(url: str, application_name: str, calls: int, pause: float, skew: float) -> None:
    store = Store(url)
    agent = AgentClient(store, application_name, skew=Skew(fixed=skew))
    print("READY", flush=True)
    sys.stdin.readline()
    begin = time.time()
    expired = 0
    tokens: set[str] = set()
    slowest = 0.0
    for _ in range(calls):
        started = time.perf_counter()
        token = agent.get_token()
        slowest = max(slowest, time.perf_counter() - started)
        if token.expires_at.timestamp() <= time.time():
            expired += 1
        tokens.add(token.access_token)
        time.sleep(pause)
    store.close()
    end = time.time()
    counts = {"calls": calls, "expired": expired, "distinct": len(tokens)}
    summary = {**counts, "begin": begin, "end": end, "slowest": slowest}
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))

"""One process of the fault tests: threads calling `get_token` on a shared store for a while; prints a JSON summary.

Usage: fault_worker.py URL APPLICATION THREADS SECONDS DEADLINE [PAUSE [MAX_BACKOFF]]. It prints READY once its
agent is loaded, waits for a line on stdin (the common start), then calls from THREADS threads for SECONDS
seconds. The summary counts calls, errors by class (with one message of each), tokens handed out after their
expiry, the distinct tokens seen (by digest, never the tokens) and the slowest call.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from collections import Counter

from oauth2store import AgentClient, OAuth2StoreError, Store


def main(
    url: str, application_name: str, threads: int, seconds: float, deadline: float, pause: float, max_backoff: float
) -> None:
    store = Store(url)
    agent = AgentClient(store, application_name, deadline=deadline, follow_interval=0.5, max_backoff=max_backoff)
    print("READY", flush=True)
    sys.stdin.readline()
    calls = expired = 0
    errors: Counter[str] = Counter()
    messages: dict[str, str] = {}
    digests: set[str] = set()
    slowest = 0.0
    lock = threading.Lock()
    ends = time.monotonic() + seconds

    def call() -> None:
        nonlocal calls, expired, slowest
        while time.monotonic() < ends:
            started = time.monotonic()
            try:
                token = agent.get_token()
            except OAuth2StoreError as exc:
                with lock:
                    errors[type(exc).__name__] += 1
                    messages.setdefault(type(exc).__name__, str(exc))
            else:
                with lock:
                    calls += 1
                    expired += token.expires_at.timestamp() <= time.time()
                    digests.add(hashlib.sha256(token.access_token.encode()).hexdigest())
            with lock:
                slowest = max(slowest, time.monotonic() - started)
            time.sleep(pause)

    workers = [threading.Thread(target=call) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    store.close()
    summary = {
        "calls": calls,
        "expired": expired,
        "errors": dict(errors),
        "messages": messages,
        "distinct": len(digests),
        "slowest": slowest,
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    pause = float(sys.argv[6]) if len(sys.argv) > 6 else 0.02
    max_backoff = float(sys.argv[7]) if len(sys.argv) > 7 else 60.0
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), pause, max_backoff)

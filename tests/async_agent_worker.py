"""One process of the async single-flight test: `tasks` concurrent tasks ask for a token; prints the distinct tokens.

It prints READY once its agent is open, waits for a line on stdin (the common start), then asks.
"""

from __future__ import annotations

import asyncio
import json
import sys

from oauth2store import AsyncAgentClient, Store


async def main(url: str, application_name: str, tasks: int) -> None:
    store = Store(url)
    agent = await AsyncAgentClient.open(store, application_name)
    print("READY", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    tokens = await asyncio.gather(*(agent.get_access_token() for _ in range(tasks)))
    print(json.dumps(sorted(set(tokens))), flush=True)
    store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))

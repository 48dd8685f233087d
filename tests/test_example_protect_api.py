"""examples/protect_api.py runs as a user runs it, against the loopback oidc-provider."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from oidc_provider import OidcProvider

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "protect_api.py"


def test_protect_api(tmp_path: Path, oidc: OidcProvider) -> None:
    secret = "orders-api-secret-0123456789"
    client_id = oidc.register(client_secret=secret)["client_id"]
    env = {k: v for k, v in os.environ.items() if k not in ("OAUTH2STORE_URL", "OAUTH2STORE_KEY")}
    env["XDG_DATA_HOME"] = str(tmp_path)
    command = [sys.executable, str(EXAMPLE), oidc.issuer, client_id, secret, "urn:test:api"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("valid token     -> 200") and f'"client": "{client_id}"' in lines[0]
    assert lines[1].startswith("tampered token  -> 401") and "JWT signature" in lines[1]
    assert lines[2].startswith("no token        -> 401")

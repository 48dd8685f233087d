"""The examples run as a user runs them, in a fresh process, on the embedded SQLite default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OAUTH2STORE_URL"}
    env["XDG_DATA_HOME"] = str(tmp_path)
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_quickstart_runs_twice(tmp_path: Path) -> None:
    first = run_example("quickstart.py", tmp_path)
    assert "client_type: must be one of public, confidential, resource (got 'agent')" in first
    assert "after Client.DeleteId('scratch'): ['orders-service', 'orders-web']" in first
    assert (tmp_path / "oauth2store" / "oauth2store.db").exists()
    second = run_example("quickstart.py", tmp_path)
    assert second.splitlines()[-3:] == first.splitlines()[-3:]

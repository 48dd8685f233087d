"""Start-up: `import oauth2store` loads only what every call needs (short-lived processes pay it every time)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_import_loads_neither_alembic_nor_python_jose_nor_the_cli() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import json, sys, oauth2store; print(json.dumps(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    modules = json.loads(loaded)
    for lazy in ("alembic", "jose", "click", "oauth2store.cli", "oauth2store._migrations"):
        assert lazy not in modules, f"{lazy} is loaded by `import oauth2store`"

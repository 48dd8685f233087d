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


def test_the_command_line_loads_only_the_module_of_the_command_it_runs() -> None:
    """`oauth2store token` in a cron job pays for its own command's code, not for import/export or key rotation."""
    script = (
        "import json, sys\n"
        "from oauth2store.cli import cli\n"
        "import click\n"
        "cli.get_command(click.Context(cli), 'token')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('oauth2store.cli.'))))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    commands = {m.rsplit(".", 1)[1] for m in json.loads(loaded)} - {"_context", "_failures", "_output"}
    assert commands == {"tokens"}, commands

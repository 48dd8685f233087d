"""Start-up: `import oauth2store` loads only what every call needs (short-lived processes pay it every time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_import_loads_neither_alembic_nor_python_jose_nor_the_cli() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import json, sys, oauth2store; print(json.dumps(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    modules = json.loads(loaded)
    for lazy in ("alembic", "jose", "click", "oauth2store.cli", "oauth2store._migrations", "requests", "urllib3"):
        assert lazy not in modules, f"{lazy} is loaded by `import oauth2store`"


_SEED = """
import sys
from datetime import UTC, datetime, timedelta
sys.path.insert(0, sys.argv[2])
from factories import new_client, new_server
from oauth2store import AccessToken, Store
from oauth2store._token_cache import session_id

store = Store(sys.argv[1])
store.upgrade()
with store.session() as session:
    client = new_client(new_server(), application_name="cron")
    session.add(client)
    session.flush()
    client.access_tokens.append(AccessToken(
        session_id=session_id(None, ()), access_token="stored", token_type="Bearer",
        expires=datetime.now(UTC) + timedelta(hours=1), grant_type="client_credentials",
        definition_version=client.definition_version,
    ))
"""

_READ = """
import json, sys
from oauth2store import AgentClient, Store

token = AgentClient(Store(sys.argv[1]), "cron").get_access_token()
print(json.dumps({"token": token, "loaded": sorted(sys.modules)}))
"""


def test_a_stored_token_is_read_without_the_http_stack(tmp_path: Path) -> None:
    """A short-lived process whose token is stored (a cron job) loads neither requests nor python-jose."""
    url = f"sqlite:///{tmp_path / 'cron.db'}"
    subprocess.run([sys.executable, "-c", _SEED, url, str(Path(__file__).parent)], check=True)
    read = subprocess.run([sys.executable, "-c", _READ, url], check=True, capture_output=True, text=True)
    outcome = json.loads(read.stdout)
    assert outcome["token"] == "stored"
    assert not [m for m in outcome["loaded"] if m.split(".")[0] in ("requests", "urllib3", "jose", "alembic")]


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

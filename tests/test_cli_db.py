"""The `db` commands (migrations, rekey), and databases the command cannot use: one line on stderr, exit 9."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import pytest
from cli_shell import EXIT_DATABASE, EXIT_KEY, EXIT_SCHEMA, EXIT_USAGE, ISSUER, SVC, Shell

from oauth2store import generate_store_key
from oauth2store._encryption.registry import KEY_VARIABLE
from oauth2store._migrations import head_revision


def test_db_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = Shell(f"sqlite:///{tmp_path / 's.db'}", capsys)
    assert "schema" in run("client", "list", expect=EXIT_SCHEMA)
    assert f"schema at revision {head_revision()}" in run("db", "upgrade")
    assert f"current: {head_revision()}" in run("db", "current")
    assert "schema at revision base" in run("db", "downgrade", "base")
    assert "current: none" in run("db", "current")


# --- rekey -----------------------------------------------------------------------------------------------------


def test_rekey_from_a_file_and_from_stdin(shell: Shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    new_key = generate_store_key()
    key_file = tmp_path / "new.key"
    key_file.write_text(new_key + "\n")
    out = shell("db", "rekey", "--new-key-file", str(key_file))
    assert "re-encrypted every stored secret" in out and f"set ${KEY_VARIABLE}" in out and new_key not in out
    assert "wrong oauth2store key" in shell("client", "show", "svc", expect=EXIT_KEY)
    monkeypatch.setenv(KEY_VARIABLE, new_key)
    assert json.loads(shell("client", "show", "svc", "--json", "--reveal"))["client_secret"] == "sekret-value"
    third = generate_store_key()
    monkeypatch.setattr("sys.stdin", io.StringIO(third + "\n"))
    shell("db", "rekey", "--new-key-file", "-")
    monkeypatch.setenv(KEY_VARIABLE, third)
    assert json.loads(shell("client", "show", "svc", "--json", "--reveal"))["client_secret"] == "sekret-value"


def test_rekey_refusals(shell: Shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "exactly one of" in shell("db", "rekey", expect=EXIT_USAGE)
    assert "--save-key FILE" in shell("db", "rekey", "--generate", expect=EXIT_USAGE)
    bad = tmp_path / "bad.key"
    bad.write_text("not-a-fernet-key\n")
    assert "key" in shell("db", "rekey", "--new-key-file", str(bad), expect=EXIT_KEY)
    bad.write_text("\n")
    assert "empty" in shell("db", "rekey", "--new-key-file", str(bad), expect=EXIT_KEY)
    bad.write_bytes(b"\xff\xfe not text\n")
    assert "key" in shell("db", "rekey", "--new-key-file", str(bad), expect=EXIT_KEY)
    existing = tmp_path / "existing.key"
    existing.write_text("keep me\n")
    assert "never overwritten" in shell("db", "rekey", "--generate", "--save-key", str(existing), expect=EXIT_USAGE)
    assert existing.read_text() == "keep me\n"
    assert "No such option" in shell("db", "rekey", "--key", generate_store_key(), expect=EXIT_USAGE)
    monkeypatch.setenv(KEY_VARIABLE, generate_store_key())  # not this database's key: the rekey is refused
    saved = tmp_path / "generated.key"
    assert "wrong oauth2store key" in shell("db", "rekey", "--generate", "--save-key", str(saved), expect=EXIT_KEY)
    assert not saved.exists()  # a key the database does not use is not left behind
    monkeypatch.undo()
    # Nothing changed: the old key still reads the secrets.
    assert json.loads(shell("client", "show", "svc", "--json", "--reveal"))["client_secret"] == "sekret-value"


def test_rekey_generate_with_env_key_saves_it(shell: Shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saved = tmp_path / "generated.key"
    out = shell("db", "rekey", "--generate", "--save-key", str(saved))
    new_key = saved.read_text().strip()
    assert str(saved) in out and new_key not in out
    assert saved.stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv(KEY_VARIABLE, new_key)
    assert json.loads(shell("client", "show", "svc", "--json", "--reveal"))["client_secret"] == "sekret-value"


def test_rekey_generate_with_a_key_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VARIABLE)
    database = tmp_path / "s.db"
    run = Shell(f"sqlite:///{database}", capsys)
    run("db", "upgrade")
    run("server", "create", ISSUER, "--token-endpoint", f"{ISSUER}/token", "--grant-type", "client_credentials")
    run("client", "create", "svc", *SVC, "--type", "resource")
    key_file = tmp_path / "s.db.key"
    old = key_file.read_text()
    out = run("db", "rekey", "--generate")
    assert f"now in {key_file}" in out and KEY_VARIABLE not in out
    assert key_file.read_text() != old and key_file.read_text().strip() not in out
    assert json.loads(run("client", "show", "svc", "--json", "--reveal"))["client_secret"] == "sekret-value"


# --- databases the command cannot use ---------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_database_that_cannot_be_used_is_one_line_and_exit_9(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text_file = tmp_path / "notes.db"
    text_file.write_text("these are my notes, not a database\n")
    unusable = {
        f"sqlite:///{text_file}": "not a database",
        f"sqlite:///{text_file}/inside/store.db": "cannot create the database's directory",
        f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/test": "cannot reach",
        "mysql://someone@127.0.0.1/store": "driver",
        "nosuchdialect://somewhere/store": "no database dialect",
        "not a url at all": "not a database URL",
    }
    for url, expected in unusable.items():
        for command in (("client", "list"), ("db", "upgrade"), ("db", "current")):
            error = Shell(url, capsys)(*command, expect=EXIT_DATABASE)
            assert expected in error, (url, command, error)
            assert "[SQL" not in error and "sqlalche.me" not in error
    assert text_file.read_text() == "these are my notes, not a database\n"


def test_a_read_only_database_can_be_read_but_not_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = tmp_path / "s.db"
    writable = Shell(f"sqlite:///{database}", capsys)
    writable("db", "upgrade")
    writable("client", "list")  # the first session stores the key check
    read_only = Shell(f"sqlite:///file:{database}?mode=ro&uri=true", capsys)
    assert read_only("client", "list").startswith("APPLICATION")
    server = (ISSUER, "--token-endpoint", f"{ISSUER}/token", "--grant-type", "client_credentials")
    error = read_only("server", "create", *server, expect=EXIT_DATABASE)
    assert "read-only" in error

"""Input the command cannot use never ends in a traceback: one line `error: ...` on stderr, and an exit code from
README's table (3 for a value that breaks a rule, 4 for a reference to nothing)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_shell import EXIT_INVALID, EXIT_NOT_FOUND, SVC, Shell

from oauth2store import NotFoundError
from oauth2store.cli import main

ROOT = Path(__file__).resolve().parent.parent
#: How Python hands the program a command-line argument that is not UTF-8 (PEP 383 surrogate escapes).
NOT_UTF8 = b"caf\xe9".decode("utf-8", "surrogateescape")
#: Deeper than Python's recursion limit: json.loads itself fails on it.
DEEP = "[" * 100_000 + "]" * 100_000
#: Parsable, but nested beyond any document oauth2store reads.
NESTED = '{"a":' * 200 + "1" + "}" * 200


def test_arguments_that_are_not_utf8(shell: Shell) -> None:
    commands = [
        ("client", "show", NOT_UTF8),
        ("client", "create", NOT_UTF8, *SVC),
        ("client", "set", "svc", "--description", NOT_UTF8),
        ("server", "show", NOT_UTF8),
        ("keys", "rotate", "svc", "--retention", NOT_UTF8),
    ]
    for command in commands:
        assert "not valid UTF-8" in shell(*command, expect=EXIT_INVALID)
    assert "caf" not in json.loads(shell("client", "show", "svc", "--json")).get("description", "")


def test_secret_from_standard_input_that_is_not_utf8(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"caf\xe9\n"), encoding="utf-8"))
    assert "client_secret" in shell("client", "set", "svc", "--client-secret", "-", expect=EXIT_INVALID)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"caf\xe9\n"), encoding="utf-8"))
    assert "TOKEN" in shell("revoke", "svc", "-", expect=EXIT_INVALID)


def test_references_in_other_scripts_or_beyond_any_id(shell: Shell) -> None:
    """IDs are ASCII digits within SQL INTEGER; anything else is an issuer nobody defined."""
    for reference in ("99999999999999999999", "\u00b2", "\u0661", "+1", "0x1"):
        assert "not found" in shell("server", "show", reference, expect=EXIT_NOT_FOUND)
        shell("server", "delete", reference, expect=EXIT_NOT_FOUND)
        shell("client", "list", "--server", reference, expect=EXIT_NOT_FOUND)
        shell("client", "set", "svc", "--server", reference, expect=EXIT_NOT_FOUND)
    assert json.loads(shell("server", "show", "1", "--json"))["issuer_endpoint"] == "https://as.example.com"


def test_numbers_in_other_scripts_or_out_of_range(shell: Shell) -> None:
    for number in ("99999999999999999999", "\u00b2", "\u0661\u0662", "1e3", ""):
        assert "jwt_interval" in shell("client", "set", "svc", "--jwt-interval", number, expect=EXIT_INVALID)
        assert "retention" in shell("keys", "rotate", "svc", "--retention", number, expect=EXIT_INVALID)
    huge = "default_max_age=99999999999999999999"
    assert "default_max_age" in shell("client", "set", "svc", "--metadata", huge, expect=EXIT_INVALID)
    assert json.loads(shell("client", "show", "svc", "--json"))["jwt_interval"] == 60


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "is not valid JSON"),
        (b"\xff\xfe{}", "is not valid JSON"),
        (b"[1, 2]", "must be an object"),
        (DEEP.encode(), "nested too deeply"),
        (NESTED.encode(), "nested too deeply"),
    ],
    ids=["syntax", "not-utf8", "not-an-object", "deeper-than-python", "nested"],
)
def test_json_files_that_cannot_be_used(shell: Shell, tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "document.json"
    path.write_bytes(content)
    assert expected in shell("client", "create", "--from-json", str(path), expect=EXIT_INVALID)
    assert expected in shell("client", "create", "copy", "--from-json", str(path), expect=EXIT_INVALID)
    assert expected in shell("import", str(path), expect=EXIT_INVALID)
    assert [c["application_name"] for c in json.loads(shell("client", "list", "--json"))] == ["svc"]


def test_member_json_that_cannot_be_used(shell: Shell) -> None:
    for value in (DEEP, NESTED, '{"keys": [' + NESTED + "]}"):
        assert "metadata.jwks" in shell("client", "set", "svc", "--metadata", f"jwks={value}", expect=EXIT_INVALID)
    assert "NAME=VALUE" in shell("client", "set", "svc", "--metadata", "=1", expect=EXIT_INVALID)
    assert "jwks" not in json.loads(shell("client", "show", "svc", "--json"))["metadata"]


def test_an_unexpected_failure_is_one_line_without_its_message(
    shell: Shell, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a message that might hold anything")

    monkeypatch.setattr("oauth2store.models.Client.List", broken)
    error = shell("client", "list", expect=1)
    assert "RuntimeError" in error and "--debug" in error and "might hold" not in error
    with pytest.raises(RuntimeError):
        main(["--db", shell.url, "--debug", "client", "list"])
    with pytest.raises(NotFoundError):
        main(["--db", shell.url, "--debug", "client", "show", "ghost"])
    capsys.readouterr()


def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    """The real process: argv bytes that are not UTF-8, a file that is not JSON, a database that is not one."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    (tmp_path / "notes.txt").write_text("not json\n")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    commands: list[tuple[list[str | bytes], int]] = [
        (["--db", url, "db", "upgrade"], 0),
        (["--db", url, "client", "show", b"caf\xe9"], EXIT_INVALID),
        (["--db", url, "server", "show", "99999999999999999999"], EXIT_NOT_FOUND),
        (["--db", url, "import", str(tmp_path / "notes.txt")], EXIT_INVALID),
        (["--db", f"sqlite:///{tmp_path / 'notes.txt'}", "client", "list"], 9),
    ]
    for args, expected in commands:
        done = subprocess.run(
            [sys.executable, "-m", "oauth2store", *args], env=environment, cwd=ROOT, capture_output=True, timeout=60
        )
        err = done.stderr.decode(errors="replace")
        assert done.returncode == expected, (args, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == int(expected != 0), (args, err)

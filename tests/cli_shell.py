"""The `oauth2store` command run in-process, as the test_cli_* modules drive it, and the exit codes it documents."""

from __future__ import annotations

import pytest

from oauth2store.cli import main

# The exit codes of README's table ("The command line"), by what they tell a script.
EXIT_USAGE, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_SCHEMA, EXIT_SERVER, EXIT_KEY = 2, 3, 4, 5, 6, 7, 8
EXIT_DATABASE = 9

ISSUER = "https://as.example.com"
#: The client `svc` every seeded store holds: a confidential client-credentials service.
SVC = ("--type", "confidential", "--server", ISSUER, "--client-id", "svc", "--client-secret", "sekret-value")


class Shell:
    """Runs the command in-process against one database and keeps what it printed."""

    def __init__(self, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.url = url
        self.capsys = capsys

    def __call__(self, *args: str, expect: int = 0) -> str:
        code = main(["--db", self.url, *args])
        out, err = self.capsys.readouterr()
        assert code == expect, f"exit {code}: {err}"
        if expect:
            assert err.startswith("error: "), err
            assert len(err.strip().splitlines()) == 1, err
            return err
        return out


def seeded_shell(url: str, capsys: pytest.CaptureFixture[str]) -> Shell:
    """A shell on a migrated store with the server definition 1 (ISSUER) and the client `svc`."""
    run = Shell(url, capsys)
    run("db", "upgrade")
    run("server", "create", ISSUER, "--token-endpoint", f"{ISSUER}/token", "--grant-type", "client_credentials")
    run("client", "create", "svc", *SVC, "--grant-type", "client_credentials", "--scope", "a b")
    return run

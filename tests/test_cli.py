"""The `oauth2store` command, driven as a user drives it: arguments in, exit code and output out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oauth2store import Store
from oauth2store.cli import EXIT_CONFLICT, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_SCHEMA, EXIT_USAGE, main
from oauth2store.migrations import head_revision


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


@pytest.fixture
def shell(store_url: str, capsys: pytest.CaptureFixture[str]) -> Shell:
    run = Shell(store_url, capsys)
    run("db", "upgrade")
    run("server", "create", "https://as.example.com", "--token-endpoint", "https://as.example.com/token",
        "--grant-type", "client_credentials")  # fmt: skip
    run("client", "create", "svc", "--type", "confidential", "--server", "https://as.example.com", "--client-id",
        "svc", "--client-secret", "sekret-value", "--grant-type", "client_credentials", "--scope", "a b")  # fmt: skip
    return run


def test_db_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = Shell(f"sqlite:///{tmp_path / 's.db'}", capsys)
    assert "schema" in run("client", "list", expect=EXIT_SCHEMA)
    assert f"schema at revision {head_revision()}" in run("db", "upgrade")
    assert f"current: {head_revision()}" in run("db", "current")
    assert "schema at revision base" in run("db", "downgrade", "base")
    assert "current: none" in run("db", "current")


def test_client_list_show_and_json(shell: Shell) -> None:
    assert shell("client", "list").splitlines() == [
        "APPLICATION  TYPE          DEFAULT SCOPE",
        "svc          confidential  a b",
    ]
    assert json.loads(shell("client", "list", "--json")) == [
        {"application_name": "svc", "client_type": "confidential", "default_scope": "a b"}
    ]
    assert json.loads(shell("client", "list", "--server", "1", "--json"))[0]["application_name"] == "svc"
    shown = shell("client", "show", "svc")
    assert "client_secret: ********" in shown and "sekret-value" not in shown
    revealed = json.loads(shell("client", "show", "svc", "--json", "--reveal"))
    assert revealed["client_secret"] == "sekret-value"
    assert revealed["metadata"]["grant_types"] == ["client_credentials"]
    assert revealed["server"] == "https://as.example.com"


def test_client_set_and_validate(shell: Shell) -> None:
    shell("client", "set", "svc", "--description", "Orders", "--metadata", "contacts=[\"ops@example.com\"]",
          "--auth-method", "client_secret_post", "--jwt-interval", "30")  # fmt: skip
    shown = json.loads(shell("client", "show", "svc", "--json"))
    assert (shown["description"], shown["jwt_interval"]) == ("Orders", 30)
    assert shown["metadata"]["contacts"] == ["ops@example.com"]
    assert shown["metadata"]["token_endpoint_auth_method"] == "client_secret_post"
    assert "client svc is valid" in shell("client", "validate", "svc")


def test_secret_from_standard_input(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin\n"))
    shell("client", "set", "svc", "--client-secret", "-")
    assert json.loads(shell("client", "show", "svc", "--json", "--reveal"))["client_secret"] == "from-stdin"


def test_error_exit_codes(shell: Shell) -> None:
    assert "jwt_interval: must be at least 1" in shell(
        "client", "set", "svc", "--jwt-interval", "0", expect=EXIT_INVALID
    )
    assert "already exists" in shell(
        "client", "create", "svc", "--type", "public", "--server", "1", expect=EXIT_CONFLICT
    )
    assert "not found" in shell("client", "show", "ghost", expect=EXIT_NOT_FOUND)
    assert "not found" in shell("server", "show", "https://nowhere.example.com", expect=EXIT_NOT_FOUND)
    assert "still used by" in shell("server", "delete", "1", expect=EXIT_CONFLICT)
    assert "Invalid value for '--type'" in shell("client", "set", "svc", "--type", "agent", expect=EXIT_USAGE)
    assert "is not a client metadata member" in shell("client", "set", "svc", "--metadata", "colour=1",
                                                      expect=EXIT_INVALID)  # fmt: skip
    assert "No such command" in shell("frobnicate", expect=EXIT_USAGE)


def test_delete(shell: Shell) -> None:
    shell("client", "delete", "svc")
    shell("server", "delete", "https://as.example.com")
    assert json.loads(shell("server", "list", "--json")) == []


def test_export_import_round_trip_to_an_empty_postgresql_store(
    shell: Shell, tmp_path: Path, capsys: pytest.CaptureFixture[str], empty_postgres_url: str
) -> None:
    shell("client", "create", "web", "--type", "public", "--server", "1", "--client-id", "web",
          "--redirect-url", "https://web.example.com/cb", "--auth-method", "none")  # fmt: skip
    exported = tmp_path / "store.json"
    shell("export", "--include-secrets", "-o", str(exported))
    target = Shell(empty_postgres_url, capsys)
    target("db", "upgrade")
    assert "dry run: 3 created, 0 updated, 1 unchanged" in target("import", str(tmp_path / "store.json"), "--dry-run")
    assert json.loads(target("client", "list", "--json")) == []
    assert "3 created" in target("import", str(exported))
    again = tmp_path / "again.json"
    target("export", "--include-secrets", "-o", str(again))
    assert json.loads(again.read_text()) == json.loads(exported.read_text())
    assert "0 created, 0 updated, 4 unchanged" in target("import", str(exported))


def test_export_leaves_secrets_out_by_default(shell: Shell) -> None:
    document = json.loads(shell("export"))
    assert document["secrets_included"] is False
    assert "client_secret" not in document["clients"][0]
    assert "sekret-value" not in json.dumps(document)


def test_failed_import_changes_nothing(shell: Shell, tmp_path: Path) -> None:
    document = json.loads(shell("export", "--include-secrets"))
    document["clients"][0]["description"] = "changed"
    document["clients"].append({"application_name": "bad", "client_type": "agent", "server": "https://as.example.com",
                                "jwt_interval": 0, "colour": "blue"})  # fmt: skip
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    error = shell("import", str(path), expect=EXIT_INVALID)
    for expected in ("clients[1].client_type", "clients[1].jwt_interval", "clients[1].colour: is not a property"):
        assert expected in error
    assert "description" not in json.loads(shell("client", "show", "svc", "--json"))
    assert [c["application_name"] for c in json.loads(shell("client", "list", "--json"))] == ["svc"]
    path.write_text("{not json")
    assert "is not valid JSON" in shell("import", str(path), expect=EXIT_INVALID)


def test_create_from_json(shell: Shell, tmp_path: Path) -> None:
    document = json.loads(shell("client", "show", "svc", "--json", "--reveal"))
    path = tmp_path / "client.json"
    path.write_text(json.dumps(document))
    shell("client", "create", "svc-copy", "--from-json", str(path))
    copy = json.loads(shell("client", "show", "svc-copy", "--json", "--reveal"))
    assert {**copy, "application_name": "svc"} == document


def test_help_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("client", "db", "export", "import", "server"):
        assert command in out
    assert main(["client", "list", "--help"]) == 0
    assert "ListForServer" in capsys.readouterr().out


def test_store_is_untouched_by_a_usage_error(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", store.url.render_as_string(hide_password=False), "client", "create", "x"]) == EXIT_USAGE
    assert "--type and --server are required" in capsys.readouterr().err

"""The `oauth2store` command, driven as a user drives it: arguments in, exit code and output out.

The exit codes of the README's table, and the client and server commands that need no authorization server
(the runner, `Shell`, is in tests/cli_shell.py).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from cli_shell import (
    EXIT_CONFLICT,
    EXIT_DATABASE,
    EXIT_INVALID,
    EXIT_KEY,
    EXIT_NOT_FOUND,
    EXIT_SCHEMA,
    EXIT_SERVER,
    EXIT_USAGE,
    Shell,
)

from oauth2store import (
    AuthorizationError,
    CallbackError,
    ClientNotUsableError,
    DiscoveryError,
    DuplicateError,
    InsecureEndpointError,
    InUseError,
    JWKSError,
    JWTValidationError,
    KeyMaterialError,
    NotFoundError,
    OAuth2StoreError,
    OAuthServerError,
    ProtocolError,
    ReadOnlyStoreError,
    RegistrationError,
    SchemaVersionError,
    Store,
    StoreKeyError,
    TransportError,
    ValidationError,
)
from oauth2store.cli import main


def _subclasses(root: type[OAuth2StoreError]) -> set[type[OAuth2StoreError]]:
    """The public error classes under `root` (private ones are raised as their public base)."""
    found = {root}
    for child in root.__subclasses__():
        found |= {kind for kind in _subclasses(child) if not kind.__name__.startswith("_")}
    return found


def test_every_error_class_declares_its_exit_code() -> None:
    expected: dict[type[OAuth2StoreError], int] = {
        OAuth2StoreError: 1,
        JWTValidationError: 1,
        ValidationError: EXIT_INVALID,
        InsecureEndpointError: EXIT_INVALID,
        ClientNotUsableError: EXIT_INVALID,
        NotFoundError: EXIT_NOT_FOUND,
        DuplicateError: EXIT_CONFLICT,
        InUseError: EXIT_CONFLICT,
        SchemaVersionError: EXIT_SCHEMA,
        TransportError: EXIT_SERVER,
        ProtocolError: EXIT_SERVER,
        DiscoveryError: EXIT_SERVER,
        OAuthServerError: EXIT_SERVER,
        RegistrationError: EXIT_SERVER,
        AuthorizationError: EXIT_SERVER,
        CallbackError: EXIT_INVALID,
        JWKSError: EXIT_SERVER,
        StoreKeyError: EXIT_KEY,
        KeyMaterialError: EXIT_KEY,
        ReadOnlyStoreError: EXIT_DATABASE,
    }
    assert _subclasses(OAuth2StoreError) == set(expected)  # a new error class gets a row here
    assert {kind: kind.exit_code for kind in expected} == expected
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    documented = {int(code) for code in re.findall(r"^\| (\d) \| ", readme, re.MULTILINE)}
    assert set(expected.values()) | {EXIT_USAGE, EXIT_DATABASE} <= documented


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
    changes = ("--description", "Orders", "--metadata", 'contacts=["ops@example.com"]', "--jwt-interval", "30")
    shell("client", "set", "svc", *changes, "--auth-method", "client_secret_post")
    shown = json.loads(shell("client", "show", "svc", "--json"))
    assert (shown["description"], shown["jwt_interval"]) == ("Orders", 30)
    assert shown["metadata"]["contacts"] == ["ops@example.com"]
    assert shown["metadata"]["token_endpoint_auth_method"] == "client_secret_post"
    assert "client svc is valid" in shell("client", "validate", "svc")


def test_secret_from_standard_input(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
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
    # A value outside an option's list breaks the property's rule (3), it is not a usage error (2).
    assert "client_type: must be one of" in shell("client", "set", "svc", "--type", "agent", expect=EXIT_INVALID)
    unknown_member = ("client", "set", "svc", "--metadata", "colour=1")
    assert "is not a client metadata member" in shell(*unknown_member, expect=EXIT_INVALID)
    assert "No such command" in shell("frobnicate", expect=EXIT_USAGE)


@pytest.mark.parametrize(
    ("option", "prop"), [("--type", "client_type"), ("--auth-method", "token_endpoint_auth_method")]
)
def test_a_value_outside_an_enumerated_option_is_invalid_input(shell: Shell, option: str, prop: str) -> None:
    """Usage errors (2) are unknown options and missing arguments; a value the model refuses is invalid input."""
    create = ("client", "create", "x", "--type", "public", "--server", "1", "--client-id", "x", "--auth-method", "none")
    for command in (create, ("client", "set", "svc")):
        error = shell(*command, option, "nonsense", expect=EXIT_INVALID)
        assert f"{prop}: must be one of" in error and "'nonsense'" in error
    assert [c["application_name"] for c in json.loads(shell("client", "list", "--json"))] == ["svc"]
    assert "client_secret_basic" in json.loads(shell("client", "show", "svc", "--json"))["metadata"].values()


def test_numbers_the_model_refuses_are_invalid_input(shell: Shell) -> None:
    assert "jwt_interval: must be an integer (got 'soon')" in shell(
        "client", "set", "svc", "--jwt-interval", "soon", expect=EXIT_INVALID
    )
    refused = [("retention", "0"), ("publication-delay", "-1"), ("retention", "a day")]
    for option, value in refused:
        error = shell("keys", "rotate", "svc", f"--{option}", value, expect=EXIT_INVALID)
        assert option.replace("-", "_") in error
    assert json.loads(shell("keys", "show", "svc")) == {"keys": []}
    assert "Missing argument" in shell("keys", "rotate", expect=EXIT_USAGE)


def test_delete(shell: Shell) -> None:
    shell("client", "delete", "svc")
    shell("server", "delete", "https://as.example.com")
    assert json.loads(shell("server", "list", "--json")) == []


def test_create_from_json(shell: Shell, tmp_path: Path) -> None:
    document = json.loads(shell("client", "show", "svc", "--json", "--reveal"))
    path = tmp_path / "client.json"
    path.write_text(json.dumps(document))
    shell("client", "create", "svc-copy", "--from-json", str(path))
    copy = json.loads(shell("client", "show", "svc-copy", "--json", "--reveal"))
    assert {**copy, "application_name": "svc"} == document
    assert "already exists" in shell("client", "create", "--from-json", str(path), expect=EXIT_CONFLICT)


def test_help_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("client", "db", "export", "import", "server", "keys", "token", "introspect", "revoke"):
        assert command in out
    assert main(["client", "list", "--help"]) == 0
    assert "ListForServer" in capsys.readouterr().out
    assert main(["client", "set", "--help"]) == 0
    assert "client_secret_basic" in capsys.readouterr().out  # the values --auth-method takes


def test_store_is_untouched_by_a_usage_error(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", store.url.render_as_string(hide_password=False), "client", "create", "x"]) == EXIT_USAGE
    assert "--type and --server are required" in capsys.readouterr().err

"""The `oauth2store` command, driven as a user drives it: arguments in, exit code and output out."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from local_servers import Reply, RoutedServer
from oidc_provider import OidcProvider
from test_tls_configurations import make_pem_pair

from oauth2store import (
    Client,
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
    RegistrationError,
    SchemaVersionError,
    SecretKeyError,
    SSLConfiguration,
    Store,
    TransportError,
    ValidationError,
    X509Credentials,
    generate_key,
    signing_key,
)
from oauth2store._encryption import KEY_VARIABLE
from oauth2store._migrations import head_revision
from oauth2store.cli import main

# The exit codes of README's table ("The command line"), by what they tell a script.
EXIT_USAGE, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_SCHEMA, EXIT_SERVER, EXIT_KEY = 2, 3, 4, 5, 6, 7, 8


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


def _subclasses(root: type[OAuth2StoreError]) -> set[type[OAuth2StoreError]]:
    found = {root}
    for child in root.__subclasses__():
        found |= _subclasses(child)
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
        JWKSError: EXIT_SERVER,
        SecretKeyError: EXIT_KEY,
        KeyMaterialError: EXIT_KEY,
    }
    assert _subclasses(OAuth2StoreError) == set(expected)  # a new error class gets a row here
    assert {kind: kind.exit_code for kind in expected} == expected
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    documented = {int(code) for code in re.findall(r"^\| (\d) \| ", readme, re.MULTILINE)}
    assert set(expected.values()) <= documented


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
    for command in ("client", "db", "export", "import", "server", "keys", "token", "introspect", "revoke"):
        assert command in out
    assert main(["client", "list", "--help"]) == 0
    assert "ListForServer" in capsys.readouterr().out


def test_store_is_untouched_by_a_usage_error(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", store.url.render_as_string(hide_password=False), "client", "create", "x"]) == EXIT_USAGE
    assert "--type and --server are required" in capsys.readouterr().err


# --- keys, discovery and tokens against the real oidc-provider -----------------------------------------------

SECRET = "cli-client-secret-0123456789"


@pytest.fixture(scope="module")
def jwks_host() -> Iterator[RoutedServer]:
    """Serves the JWKS of the private_key_jwt client at /jwks, as its application would."""
    with RoutedServer() as served:
        yield served


@pytest.fixture(scope="module")
def op(jwks_host: RoutedServer) -> Iterator[OidcProvider]:
    clients = [
        {"client_id": "cli-svc", "client_secret": SECRET},
        {"client_id": "cli-pkjwt", "token_endpoint_auth_method": "private_key_jwt",
         "jwks_uri": f"{jwks_host.url}/jwks"},
    ]  # fmt: skip
    with OidcProvider(clients=clients) as provider:
        yield provider


@pytest.fixture
def agent_shell(shell: Shell, op: OidcProvider) -> Shell:
    """The store with the provider discovered and a client_secret_basic client `svc-op` defined for it."""
    assert "discovered" in shell("server", "discover", op.issuer)
    shell("client", "create", "svc-op", "--type", "confidential", "--server", op.issuer, "--client-id", "cli-svc",
          "--client-secret", SECRET, "--grant-type", "client_credentials")  # fmt: skip
    return shell


def test_server_discover(shell: Shell, op: OidcProvider) -> None:
    shown = json.loads(shell("server", "discover", op.issuer, "--json"))
    assert shown["is_discovery"] is True
    assert shown["metadata"]["token_endpoint"] == op.token_endpoint
    assert shown["metadata"]["introspection_endpoint"].startswith(op.issuer)
    listed = json.loads(shell("server", "list", "--json"))
    assert [s["issuer_endpoint"] for s in listed] == ["https://as.example.com", op.issuer]
    # Discovering again updates the same definition.
    assert json.loads(shell("server", "discover", op.issuer, "--json"))["id"] == shown["id"]
    assert "not found" in shell("server", "discover", op.issuer + "/x", "--ssl-configuration", "nope",
                                expect=EXIT_NOT_FOUND)  # fmt: skip


def test_discover_refusals(shell: Shell, op: OidcProvider) -> None:
    assert "must use https" in shell("server", "discover", "http://login.example.com", expect=EXIT_INVALID)
    assert "names issuer" in shell("server", "discover", op.issuer + "/", expect=EXIT_SERVER)
    assert len(json.loads(shell("server", "list", "--json"))) == 1  # nothing was stored


def test_transport_errors_exit_with_the_server_code(shell: Shell) -> None:
    with RoutedServer() as faulty:
        faulty.reply("/.well-known/openid-configuration", Reply(200, b"<html>maintenance</html>"))
        assert "not JSON" in shell("server", "discover", faulty.url, expect=EXIT_SERVER)
        faulty.reply("/.well-known/openid-configuration", Reply(503, b"busy"))
        faulty.reply("/.well-known/oauth-authorization-server", Reply(503, b"busy"))
        assert "HTTP 503 after 3 attempts" in shell("server", "discover", faulty.url, expect=EXIT_SERVER)
        shell("server", "create", faulty.url, "--token-endpoint", f"{faulty.url}/token", "--grant-type",
              "client_credentials")  # fmt: skip
        faulty.reply("/token", Reply(503, b"busy"))
        shell("client", "set", "svc", "--server", faulty.url)
        error = shell("token", "svc", expect=EXIT_SERVER)
        assert f"{faulty.url}/token: HTTP 503 after 3 attempts" in error
        assert "sekret-value" not in error
    closed = faulty.url  # the server is gone: connection refused
    assert closed in shell("token", "svc", expect=EXIT_SERVER)


def test_token_introspect_revoke(agent_shell: Shell, op: OidcProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    op.reset_stats()
    token = agent_shell("token", "svc-op").strip()
    assert token and "\n" not in token
    assert agent_shell("token", "svc-op").strip() == token  # the store's cache: one request for both
    assert op.stats()["token_requests"] == {"cli-svc": 1}
    claims = json.loads(agent_shell("introspect", "svc-op", token))
    assert claims["active"] is True and claims["client_id"] == "cli-svc"
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    assert agent_shell("revoke", "svc-op", "-").strip() == "revoked"
    assert json.loads(agent_shell("introspect", "svc-op", token))["active"] is False
    fresh = agent_shell("token", "svc-op").strip()
    assert fresh != token  # the revoked token left the cache


def test_token_for_a_resource_as_json(agent_shell: Shell) -> None:
    got = json.loads(agent_shell("token", "svc-op", "--resource", "urn:test:api", "--json"))
    assert got["token_type"].lower() == "bearer"
    assert got["access_token"].count(".") == 2  # a JWT for the resource
    assert datetime.fromisoformat(got["expires_at"]) > datetime.now(UTC)


def test_token_error_classes(agent_shell: Shell, op: OidcProvider) -> None:
    agent_shell("client", "set", "svc-op", "--client-secret", "wrong-secret")
    error = agent_shell("token", "svc-op", expect=EXIT_SERVER)
    assert "invalid_client" in error and "wrong-secret" not in error
    agent_shell("client", "set", "svc-op", "--disabled")
    assert "disabled" in agent_shell("token", "svc-op", expect=EXIT_INVALID)
    assert "not found" in agent_shell("token", "ghost", expect=EXIT_NOT_FOUND)
    assert "not found" in agent_shell("revoke", "ghost", "t", expect=EXIT_NOT_FOUND)
    assert "no introspection_endpoint" in agent_shell("introspect", "svc", "t", expect=EXIT_SERVER)
    assert "TOKEN" in agent_shell("introspect", "svc-op", "", expect=EXIT_USAGE)


def test_keys_rotate_show_and_sign(agent_shell: Shell, op: OidcProvider, jwks_host: RoutedServer) -> None:
    agent_shell("client", "create", "pk", "--type", "confidential", "--server", op.issuer, "--client-id",
                "cli-pkjwt", "--auth-method", "private_key_jwt", "--grant-type", "client_credentials")  # fmt: skip
    assert "call RotateKeys() first" in agent_shell("token", "pk", expect=EXIT_KEY)
    first = agent_shell("keys", "rotate", "pk").splitlines()
    assert first[0].split() == ["KID", "USE", "ALG", "STATE", "ACTIVE", "FROM", "NEW"]
    assert len(first) == 2 and first[1].split()[1:4] == ["sig", "RS256", "active"] and first[1].endswith("*")
    second = json.loads(agent_shell("keys", "rotate", "pk", "--json"))
    assert [(k["state"], k["new"]) for k in second] == [("active", False), ("published", True)]
    jwks = json.loads(agent_shell("keys", "show", "pk"))
    assert [k["kid"] for k in jwks["keys"]] == [k["kid"] for k in second]
    assert all("d" not in k for k in jwks["keys"])  # public only
    jwks_host.reply("/jwks", Reply(200, json.dumps(jwks).encode(), {"Content-Type": "application/json"}))
    op.restart()  # forget a JWKS fetched by an earlier run of this test (the other database)
    assert agent_shell("token", "pk").strip()  # signed with the active key, verified by the provider
    assert "retention" in agent_shell("keys", "rotate", "pk", "--retention", "1", expect=EXIT_INVALID)
    agent_shell("client", "set", "pk", "--metadata", "token_endpoint_auth_signing_alg=HS256")
    assert "HS* algorithms sign with the client secret" in agent_shell("keys", "rotate", "pk", expect=EXIT_KEY)
    assert "not found" in agent_shell("keys", "show", "ghost", expect=EXIT_NOT_FOUND)


# --- rekey -----------------------------------------------------------------------------------------------------


def test_rekey_from_a_file_and_from_stdin(shell: Shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    new_key = generate_key()
    key_file = tmp_path / "new.key"
    key_file.write_text(new_key + "\n")
    out = shell("db", "rekey", "--new-key-file", str(key_file))
    assert "re-encrypted every stored secret" in out and f"set ${KEY_VARIABLE}" in out and new_key not in out
    assert "wrong oauth2store key" in shell("client", "show", "svc", expect=EXIT_KEY)
    monkeypatch.setenv(KEY_VARIABLE, new_key)
    assert json.loads(shell("client", "show", "svc", "--json", "--reveal"))["client_secret"] == "sekret-value"
    third = generate_key()
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
    existing = tmp_path / "existing.key"
    existing.write_text("keep me\n")
    assert "never overwritten" in shell("db", "rekey", "--generate", "--save-key", str(existing), expect=EXIT_USAGE)
    assert existing.read_text() == "keep me\n"
    assert "No such option" in shell("db", "rekey", "--key", generate_key(), expect=EXIT_USAGE)
    monkeypatch.setenv(KEY_VARIABLE, generate_key())  # not this database's key: the rekey is refused
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


def test_rekey_generate_with_a_key_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.delenv(KEY_VARIABLE)
    database = tmp_path / "s.db"
    run = Shell(f"sqlite:///{database}", capsys)
    run("db", "upgrade")
    run("server", "create", "https://as.example.com", "--token-endpoint", "https://as.example.com/token",
        "--grant-type", "client_credentials")  # fmt: skip
    run("client", "create", "svc", "--type", "resource", "--server", "1", "--client-id", "svc", "--client-secret",
        "sekret-value")  # fmt: skip
    key_file = tmp_path / "s.db.key"
    old = key_file.read_text()
    out = run("db", "rekey", "--generate")
    assert f"now in {key_file}" in out and KEY_VARIABLE not in out
    assert key_file.read_text() != old and key_file.read_text().strip() not in out
    assert json.loads(run("client", "show", "svc", "--json", "--reveal"))["client_secret"] == "sekret-value"


# --- export/import with keys and encrypted columns ----------------------------------------------------------


def test_round_trip_carries_keys_credentials_and_tls(
    shell: Shell, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], empty_postgres_url: str
) -> None:
    certificate, key = make_pem_pair("pw")
    with Store(store_url) as source, source.session() as db:
        db.add(X509Credentials(alias="svc-cert", certificate=certificate, private_key=key, private_key_password="pw"))
        db.add(SSLConfiguration(name="mtls", certificate_authorities=certificate, certificate=certificate,
                                private_key=key, private_key_password="pw"))  # fmt: skip
    shell("client", "set", "svc", "--ssl-configuration", "mtls")
    shell("keys", "rotate", "svc")
    shell("keys", "rotate", "svc")
    exported = tmp_path / "store.json"
    shell("export", "--include-secrets", "-o", str(exported))
    document = json.loads(exported.read_text())
    keys = document["clients"][0]["keys"]
    assert [k["kid"] for k in keys] == [k["kid"] for k in document["clients"][0]["metadata"]["jwks"]["keys"]]
    assert all("d" in k["private_jwk"] for k in keys)
    assert document["x509_credentials"][0]["private_key"] == key
    without = json.loads(shell("export"))
    assert "keys" not in without["clients"][0] and "private_key" not in without["x509_credentials"][0]
    assert len(without["clients"][0]["metadata"]["jwks"]["keys"]) == 2  # the public JWKS stays
    target = Shell(empty_postgres_url, capsys)
    target("db", "upgrade")
    assert "4 created" in target("import", str(exported))
    again = tmp_path / "again.json"
    target("export", "--include-secrets", "-o", str(again))
    assert json.loads(again.read_text()) == document
    assert "0 created, 0 updated, 5 unchanged" in target("import", str(exported))
    # The imported key signs for real: the target's signing key is the source's active key.
    with Store(empty_postgres_url) as imported, imported.session() as db:
        client = Client.Open(db, "svc")
        assert client is not None
        assert signing_key(client).kid == keys[0]["kid"]


def test_import_refuses_keys_that_do_not_belong_together(shell: Shell, tmp_path: Path) -> None:
    shell("keys", "rotate", "svc")
    document = json.loads(shell("export", "--include-secrets"))
    key = document["clients"][0]["keys"][0]
    key["kid"] = "another-kid"
    key["created"] = "yesterday"
    document["clients"][0]["keys"].append("not an object")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    error = shell("import", str(path), expect=EXIT_INVALID)
    for expected in (
        "clients[0].keys[0].private_jwk: the private JWK, public JWK and kid do not belong together",
        "clients[0].keys[0].created: must be an ISO 8601 time",
        "clients[0].keys[1]: must be an object",
    ):
        assert expected in error  # fmt: skip
    assert len(json.loads(shell("keys", "show", "svc"))["keys"]) == 1


def test_keys_of_a_client_with_x509_credentials(shell: Shell, store_url: str) -> None:
    certificate, key = make_pem_pair()
    with Store(store_url) as store, store.session() as db:
        db.add(X509Credentials(alias="svc-cert", certificate=certificate, private_key=key))
    shell("client", "set", "svc", "--client-credentials", "svc-cert")
    assert "signs with the key of its X.509 credentials 'svc-cert': nothing to rotate" in shell("keys", "rotate", "svc")
    (published,) = json.loads(shell("keys", "show", "svc"))["keys"]
    assert published["kty"] == "EC" and len(published["x5c"]) == 1 and "d" not in published


def test_jwks_refresh(agent_shell: Shell, op: OidcProvider) -> None:
    shown = json.loads(agent_shell("jwks", "refresh", "svc-op", "--json"))
    assert shown["changed"] is False  # discovery stored the JWKS already
    assert {k["kid"] for k in shown["keys"]} == {k["kid"] for k in op.jwks["keys"]}
    forced = agent_shell("jwks", "refresh", "svc-op", "--force")
    assert forced.startswith("JWKS unchanged; cached until ")
    assert "not found" in agent_shell("jwks", "refresh", "ghost", expect=EXIT_NOT_FOUND)


def test_jwks_refresh_from_a_broken_server_exits_with_the_server_code(shell: Shell) -> None:
    with RoutedServer() as broken:
        broken.reply("/jwks", Reply(200, b"<html>maintenance</html>", {"Content-Type": "text/html"}))
        shell("server", "create", broken.url, "--token-endpoint", f"{broken.url}/token", "--jwks-uri",
              f"{broken.url}/jwks", "--grant-type", "client_credentials")  # fmt: skip
        shell("client", "create", "broken", "--type", "resource", "--server", broken.url, "--client-id", "b",
              "--client-secret", "s")  # fmt: skip
        assert "content type 'text/html'" in shell("jwks", "refresh", "broken", expect=EXIT_SERVER)


def test_register_then_get_a_token(shell: Shell, op: OidcProvider) -> None:
    shell("server", "discover", op.issuer)
    shell("client", "create", "reg", "--type", "confidential", "--server", op.issuer, "--grant-type",
          "client_credentials")  # fmt: skip
    registered = shell("register", "reg")
    assert registered.startswith("registered client reg: client_id ")
    shown = json.loads(shell("client", "show", "reg", "--json"))
    assert shown["client_id"] == registered.split()[-1] and shown["client_secret"] == "********"
    assert shell("token", "reg").count(".") in (0, 2)  # an opaque or JWT token, printed alone
    assert "client_id" in shell("register", "reg", expect=EXIT_INVALID)

"""`export` and `import`: the whole store as one JSON document, between databases and backends."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_shell import EXIT_CONFLICT, EXIT_INVALID, EXIT_USAGE, ISSUER, Shell
from factories import self_signed

from oauth2store import Client, SSLConfiguration, Store, X509Credentials, signing_key

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which a file created without an explicit mode is readable by everyone."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_export_import_round_trip_to_an_empty_postgresql_store(
    shell: Shell, tmp_path: Path, capsys: pytest.CaptureFixture[str], empty_postgres_url: str
) -> None:
    web = ("--type", "public", "--server", "1", "--client-id", "web", "--auth-method", "none")
    shell("client", "create", "web", *web, "--redirect-url", "https://web.example.com/cb")
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


def test_dry_run_writes_nothing_and_reports_what_would_change(shell: Shell, tmp_path: Path) -> None:
    document = json.loads(shell("export", "--include-secrets"))
    document["clients"][0]["description"] = "changed"
    document["clients"].append({**document["clients"][0], "application_name": "svc-2"})
    path = tmp_path / "changes.json"
    path.write_text(json.dumps(document))
    out = shell("import", str(path), "--dry-run", "--verbose")
    assert "would be created: Client svc-2" in out and "would be updated: Client svc" in out
    assert out.splitlines()[-1] == (
        "dry run: 1 created, 1 updated, 2 unchanged "
        "(created: 1 Client; updated: 1 Client; unchanged: 1 SSLConfiguration, 1 ServerDefinition)"
    )
    assert [c["application_name"] for c in json.loads(shell("client", "list", "--json"))] == ["svc"]
    assert "description" not in json.loads(shell("client", "show", "svc", "--json"))


def test_export_with_secrets_to_a_file_is_private_and_never_overwritten(
    shell: Shell, tmp_path: Path, umask_022: None
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    path = exports / "secrets.json"
    shell("export", "--include-secrets", "-o", str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = path.read_text()
    assert json.loads(written)["clients"][0]["client_secret"] == "sekret-value"
    shell("client", "set", "svc", "--description", "changed")
    assert "--force" in shell("export", "--include-secrets", "-o", str(path), expect=EXIT_USAGE)
    assert path.read_text() == written
    path.chmod(0o644)  # e.g. written by an older version: --force replaces the file, not only its content
    shell("export", "--include-secrets", "-o", str(path), "--force")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["clients"][0]["description"] == "changed"
    assert [p.name for p in exports.iterdir()] == ["secrets.json"]  # no temporary file left behind
    elsewhere = tmp_path / "elsewhere.json"
    (exports / "link.json").symlink_to(elsewhere)  # a dangling link is an existing name too
    shell("export", "--include-secrets", "-o", str(exports / "link.json"), expect=EXIT_USAGE)
    assert not elsewhere.exists()


def test_export_without_secrets_to_a_file(shell: Shell, tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "store.json"
    shell("export", "-o", str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert "--force" in shell("export", "-o", str(path), expect=EXIT_USAGE)
    shell("export", "-o", str(path), "--force")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert "cannot write" in shell("export", "-o", str(tmp_path / "missing" / "store.json"), expect=1)
    assert "cannot write" in shell("export", "-o", str(tmp_path), "--force", expect=1)


def test_failed_import_changes_nothing(shell: Shell, tmp_path: Path) -> None:
    document = json.loads(shell("export", "--include-secrets"))
    document["clients"][0]["description"] = "changed"
    bad = {"application_name": "bad", "client_type": "agent", "server": ISSUER, "jwt_interval": 0, "colour": "blue"}
    document["clients"].append(bad)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    error = shell("import", str(path), expect=EXIT_INVALID)
    for expected in ("clients[1].client_type", "clients[1].jwt_interval", "clients[1].colour: is not a property"):
        assert expected in error
    assert "description" not in json.loads(shell("client", "show", "svc", "--json"))
    assert [c["application_name"] for c in json.loads(shell("client", "list", "--json"))] == ["svc"]
    path.write_text("{not json")
    assert "is not valid JSON" in shell("import", str(path), expect=EXIT_INVALID)


def test_an_import_document_that_names_an_object_twice(shell: Shell, tmp_path: Path) -> None:
    """Whether the store has the object or not: a raw IntegrityError at flush used to be the answer for a new one."""
    document = json.loads(shell("export", "--include-secrets"))
    issuer = "https://new.example.com"
    metadata = {**document["servers"][0]["metadata"], "issuer": issuer}
    new_server = {**document["servers"][0], "issuer_endpoint": issuer, "metadata": metadata}
    document["ssl_configurations"] += [{"name": "tls-new"}, {"name": "tls-new"}]
    document["servers"] += [new_server, new_server]
    document["clients"].append(document["clients"][0])
    path = tmp_path / "twice.json"
    path.write_text(json.dumps(document))
    error = shell("import", str(path), expect=EXIT_INVALID)
    assert "ssl_configurations[2].name: 'tls-new' appears twice (first at ssl_configurations[1])" in error
    assert f"servers[2].issuer_endpoint: '{issuer}' appears twice (first at servers[1])" in error
    assert "clients[1].application_name: 'svc' appears twice (first at clients[0])" in error
    assert len(json.loads(shell("server", "list", "--json"))) == 1


def test_round_trip_carries_keys_credentials_and_tls(
    shell: Shell, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], empty_postgres_url: str
) -> None:
    certificate, key = self_signed("pw")
    with Store(store_url) as source, source.session() as db:
        db.add(X509Credentials(alias="svc-cert", certificate=certificate, private_key=key, private_key_password="pw"))
        tls = {"certificate_authorities": certificate, "certificate": certificate, "private_key": key}
        db.add(SSLConfiguration(name="mtls", **tls, private_key_password="pw"))
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
        assert expected in error
    assert len(json.loads(shell("keys", "show", "svc"))["keys"]) == 1


# --- concurrent imports ----------------------------------------------------------------------------------------

#: Runs the command with every import held back, after its reads and before its first write, until all the
#: racers got there: the imports then overlap for certain instead of by luck.
RACER = """
import os, sys, time
from pathlib import Path

import oauth2store.cli.transfer as transfer

barrier, parties = Path(sys.argv[1]), int(sys.argv[2])
imported = transfer.import_document


def racing(session, document, **options):
    flush = session.flush

    def flush_after_every_racer_read(*args, **kwargs):
        (barrier / str(os.getpid())).touch()
        deadline = time.monotonic() + 60
        while len(list(barrier.iterdir())) < parties and time.monotonic() < deadline:
            time.sleep(0.01)
        return flush(*args, **kwargs)

    session.flush = flush_after_every_racer_read
    return imported(session, document, **options)


transfer.import_document = racing
from oauth2store.cli import main

raise SystemExit(main(sys.argv[3:]))
"""


def _document() -> dict[str, Any]:
    server = {"issuer_endpoint": ISSUER, "metadata": {"issuer": ISSUER, "token_endpoint": f"{ISSUER}/token"}}
    server["metadata"]["grant_types_supported"] = ["client_credentials"]
    clients = [
        {
            "application_name": name,
            "client_type": "confidential",
            "client_id": name,
            "client_secret": f"{name}-secret",
            "server": ISSUER,
            "metadata": {"grant_types": ["client_credentials"]},
        }
        for name in ("one", "two")
    ]
    return {"format": "oauth2store/1", "servers": [server], "clients": clients}


def test_concurrent_imports_of_one_document(store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One import wins; the others exit 5 with one clear line, never `database is locked` or a raw SQL error."""
    target = Shell(store_url, capsys)
    target("db", "upgrade")
    target("client", "list")  # the first session stores the key check
    path = tmp_path / "document.json"
    path.write_text(json.dumps(_document()))
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    parties = 4
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", RACER, str(barrier), str(parties), "--db", store_url, "import", str(path)]
    racers = [
        subprocess.Popen(command, env=environment, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(parties)
    ]
    results = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        results.append((racer.returncode, out, err))
    winners = [out for code, out, _err in results if code == 0]
    assert len(winners) == 1 and "3 created" in winners[0], results
    for code, _out, err in results:
        if code:
            assert code == EXIT_CONFLICT, results
            assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
            assert "locked" not in err and "IntegrityError" not in err and "[SQL" not in err, err
    names = [c["application_name"] for c in json.loads(target("client", "list", "--json"))]
    assert names == ["one", "two"]


# --- output and scale -------------------------------------------------------------------------------------------


def _many_clients(count: int, *, issuer: str = ISSUER) -> dict[str, Any]:
    """A document of one server and `count` confidential clients, each with its own id and secret."""
    server = {
        "issuer_endpoint": issuer,
        "metadata": {
            "issuer": issuer,
            "token_endpoint": f"{issuer}/token",
            "grant_types_supported": ["client_credentials"],
        },
    }
    clients = [
        {
            "application_name": f"app-{i:05d}",
            "client_type": "confidential",
            "client_id": f"id-{i}",
            "client_secret": f"secret-{i}",
            "server": issuer,
            "default_scope": "api",
            "metadata": {"grant_types": ["client_credentials"], "contacts": [f"ops-{i}@example.com"]},
        }
        for i in range(count)
    ]
    return {"format": "oauth2store/1", "servers": [server], "clients": clients}


def test_import_prints_one_summary_line_and_the_objects_only_when_asked(shell: Shell, tmp_path: Path) -> None:
    path = tmp_path / "many.json"
    document = _many_clients(3)
    document["clients"][0]["application_name"] = "svc"  # the seeded client, changed
    path.write_text(json.dumps(document))
    out = shell("import", str(path))
    assert out.splitlines() == [
        "2 created, 1 updated, 1 unchanged (created: 2 Client; updated: 1 Client; unchanged: 1 ServerDefinition)"
    ]
    verbose = shell("import", str(path), "--verbose").splitlines()
    assert verbose == ["0 created, 0 updated, 4 unchanged (unchanged: 1 ServerDefinition, 3 Client)"]
    document["clients"][1]["description"] = "changed"
    document["clients"].append({**document["clients"][2], "application_name": "app-new"})
    path.write_text(json.dumps(document))
    verbose = shell("import", str(path), "--verbose").splitlines()
    assert verbose[:2] == ["created: Client app-new", "updated: Client app-00001"]
    kinds = "(created: 1 Client; updated: 1 Client; unchanged: 1 ServerDefinition, 2 Client)"
    assert verbose[2:] == [f"1 created, 1 updated, 3 unchanged {kinds}"]


def test_import_json_names_every_object_by_outcome(shell: Shell, tmp_path: Path) -> None:
    path = tmp_path / "many.json"
    path.write_text(json.dumps(_many_clients(2)))
    report = json.loads(shell("import", str(path), "--json", "--dry-run"))
    assert report == {
        "dry_run": True,
        "created": ["Client app-00000", "Client app-00001"],
        "updated": [],
        "unchanged": [f"ServerDefinition {ISSUER}"],
        "by_kind": {"created": {"Client": 2}, "updated": {}, "unchanged": {"ServerDefinition": 1}},
    }
    assert [c["application_name"] for c in json.loads(shell("client", "list", "--json"))] == ["svc"]
    assert json.loads(shell("import", str(path), "--json"))["dry_run"] is False
    assert len(json.loads(shell("client", "list", "--json"))) == 3


def test_import_refuses_a_large_document_whole_naming_each_bad_entry(shell: Shell, tmp_path: Path) -> None:
    document = _many_clients(300)
    document["clients"][17]["client_type"] = "agent"
    document["clients"][250]["client_secret"] = ""
    document["clients"][299]["server"] = "https://unknown.example.com"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    error = shell("import", str(path), expect=EXIT_INVALID)
    assert "clients[17].client_type" in error
    assert "clients[250].client_secret: is required" in error
    assert "clients[299].server: no server definition with issuer 'https://unknown.example.com'" in error
    assert "clients[18]" not in error
    assert [c["application_name"] for c in json.loads(shell("client", "list", "--json"))] == ["svc"]


def test_several_hundred_clients_round_trip_between_backends_byte_for_byte(
    shell: Shell, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], empty_postgres_url: str
) -> None:
    """Imported in bulk on one backend, exported, imported on the other: the second export is the same text."""
    shell("keys", "rotate", "svc")  # one client with key pairs, sealed to rows whose IDs the database assigns
    source = tmp_path / "source.json"
    source.write_text(json.dumps(_many_clients(400)))
    assert "400 created" in shell("import", str(source))
    exported = tmp_path / "exported.json"
    shell("export", "--include-secrets", "-o", str(exported))
    assert exported.read_text() == shell("export", "--include-secrets")  # a file and stdout: the same text
    other = empty_postgres_url if store_url.startswith("sqlite") else f"sqlite:///{tmp_path / 'other.db'}"
    target = Shell(other, capsys)
    target("db", "upgrade")
    assert target("import", str(exported)).startswith("402 created, 0 updated, 1 unchanged")
    again = tmp_path / "again.json"
    target("export", "--include-secrets", "-o", str(again))
    assert again.read_bytes() == exported.read_bytes()
    assert target("import", str(exported)).startswith("0 created, 0 updated, 403 unchanged")
    with Store(other) as imported, imported.session() as db:
        client = Client.Open(db, "app-00399")
        assert client is not None and client.client_secret == "secret-399"
        assert client.client_metadata.contacts == ["ops-399@example.com"]
        svc = Client.Open(db, "svc")
        assert svc is not None
        assert signing_key(svc).kid == json.loads(exported.read_text())["clients"][-1]["keys"][0]["kid"]

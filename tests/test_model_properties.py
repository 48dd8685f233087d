"""Property-based: any write of any property of any model is stored and read back equal, or refused as a
ValidationError with the database rows byte-identical, on SQLite and PostgreSQL; through the API, `client
create/set` and `import`.

Values are drawn around each property's declared rules and well beyond them: NUL, lone surrogates, integers past
the column's range, NaN, infinity, sets, bytes and tuples in JSON, wrong types, malformed and ambiguous URLs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from factories import TestCA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import String, Text, inspect, select, text
from sqlalchemy.orm import Session

from oauth2store import (
    AccessToken,
    Client,
    ClientKey,
    ClientMetadata,
    Endpoint,
    ServerDefinition,
    ServerMetadata,
    SSLConfiguration,
    Store,
    ValidationError,
    X509Credentials,
)
from oauth2store._validation import Kind, Rules
from oauth2store.cli import main
from oauth2store.models._validated import Validated
from oauth2store.models.base import Base

MODELS: list[type[Validated]] = [
    Client,
    ClientMetadata,
    ServerDefinition,
    ServerMetadata,
    SSLConfiguration,
    X509Credentials,
    AccessToken,
    ClientKey,
]
#: Derived from the client metadata on every save (the deprecated IRIS columns): a write there does not read back.
DERIVED = {"_authentication_type", "_signing_algorithm", "_encryption_algorithm", "_key_algorithm"}
EXAMPLES = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
FEW_EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# -- values ----------------------------------------------------------------------------------------------------

#: Every code point, lone surrogates and NUL included.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
nasty_text = st.sampled_from(["", "a\x00b", "\ud800", "x\udfff", "\x00", "é\u2028", " ", "\t"])
wrong_types = st.sampled_from([5, -1, 2.5, float("nan"), True, b"bytes", ["list"], {"a": 1}, {1, 2}, ("t",), object()])
big_ints = st.sampled_from([2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**53, 2**63 - 1, 2**63, -(2**63) - 1, 10**30])
urls = st.sampled_from(
    [
        "https://as.example.com/x",
        "http://127.0.0.1:8080/cb",
        "https://[::1]:9000/p?q=1",
        "https://app.example.com",
        "http://[::1",
        "https://as.example.com:99999/",
        "http://evil.example:1234\\@127.0.0.1/token",
        "https://user:pw@as.example.com/",
        "https://as.example.com/a b",
        "https://as.example.com:0/",
        "ftp://x/y",
        "https://\uff11\uff12\uff17.0.0.1/",
        "https://as.example.com/\x00",
        "https://as.example.com/\ud800",
        "not a url",
    ]
)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | any_text
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(any_text, inner, max_size=3)
        | st.tuples(inner)
        | st.frozensets(st.integers(), max_size=2)
    ),
    max_leaves=6,
)
datetimes = st.one_of(
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(timezones=st.sampled_from([timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])),
    st.datetimes(),  # naive
    st.just(datetime.min.replace(tzinfo=timezone(timedelta(hours=5)))),  # before year 1 in UTC
)


def values_for(rules: Rules, current: object) -> st.SearchStrategy[Any]:
    """Values for a property with `rules`: its own kind, valid and hostile, plus wrong types."""
    kind = rules.kind
    if kind in (Kind.STRING, Kind.URI):
        options = [any_text, nasty_text, urls, st.just(current)]
        if rules.valuelist:
            options.append(st.sampled_from(rules.valuelist))
        if rules.maxlen:
            options.append(st.sampled_from(["x" * rules.maxlen, "x" * (rules.maxlen + 1)]))
        return st.one_of(*options, wrong_types, st.none())
    if kind is Kind.INTEGER:
        return st.one_of(st.integers(-(2**70), 2**70), big_ints, st.integers(0, 100), wrong_types, st.none())
    if kind is Kind.BOOLEAN:
        return st.one_of(st.booleans(), wrong_types, st.none())
    if kind in (Kind.LIST, Kind.URI_LIST):
        item = st.one_of(any_text, urls, wrong_types)
        return st.one_of(
            st.lists(item, max_size=3),
            st.tuples(any_text),
            st.lists(urls, max_size=2),
            any_text,
            wrong_types,
            st.none(),
        )
    return st.one_of(st.dictionaries(any_text, json_values, max_size=3), json_values, wrong_types, st.none())


def column_values(column: Any, current: object) -> st.SearchStrategy[Any]:
    """Values for a mapped column without IRIS rules, by its SQL type."""
    name = type(column.type).__name__
    if name == "UTCDateTime":
        return st.one_of(datetimes, wrong_types, st.none(), st.just(current))
    if isinstance(column.type, String | Text):
        return st.one_of(any_text, nasty_text, st.text(max_size=300), wrong_types, st.none(), st.just(current))
    return st.one_of(st.integers(-(2**70), 2**70), big_ints, st.just(current), wrong_types, st.none())


endpoints = st.one_of(
    st.builds(
        Endpoint,
        st.one_of(st.sampled_from(["app.example.com", "[::1]", "bad host", "h%2f", "a\x00"]), any_text, wrong_types),
        st.one_of(st.none(), st.integers(-10, 70000), big_ints, wrong_types),
        st.one_of(st.sampled_from(["cb", "/a/b/", "a?b", "a\\b"]), any_text, wrong_types),
        st.one_of(st.booleans(), wrong_types),
    ),
    st.none(),
    urls,
    wrong_types,
)


# -- the store's rows --------------------------------------------------------------------------------------------


def raw_rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table as the driver returns it (secrets as their stored ciphertext)."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with store.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            found = connection.execute(text(f'SELECT * FROM "{table.name}"')).all()
            rows[table.name] = sorted((tuple(row) for row in found), key=repr)
    return rows


@pytest.fixture
def world(store: Store) -> Iterator[Store]:
    """One object of every model, all valid: a TLS configuration, X.509 credentials, a server, a client with
    metadata, a stored token and a key pair."""
    issued = TestCA().issue("svc", server=False)
    with store.session() as session:
        session.add(SSLConfiguration(name="tls"))
        session.add(X509Credentials(alias="cred", certificate=issued.certificate, private_key=issued.key_pem()))
        server = ServerDefinition(issuer_endpoint="https://as.example.com")
        server.server_metadata.issuer = "https://as.example.com"
        server.server_metadata.token_endpoint = "https://as.example.com/token"
        server.server_metadata.authorization_endpoint = "https://as.example.com/auth"
        endpoint = Endpoint("app.example.com", None, "cb")
        client = Client(
            application_name="app",
            client_type="confidential",
            client_id="app",
            client_secret="s",
            server_definition=server,
            redirection_endpoint=endpoint,
        )
        session.add(client)
        session.flush()
        client.RotateKeys()
        client.access_tokens.append(AccessToken(session_id="s1", access_token="t", expires=datetime.now(UTC)))
    yield store


def restore_token(store: Store) -> None:
    """Store the world's token again if an earlier example dropped it: changing a client's identity or credentials
    drops the tokens it obtained (they belong to the old definition)."""
    with store.session() as session:
        client = load(session, Client)
        assert isinstance(client, Client)
        if not client.access_tokens:
            client.access_tokens.append(AccessToken(session_id="s1", access_token="t", expires=datetime.now(UTC)))


def load(session: Session, model: type[Validated]) -> Validated:
    found = session.scalars(select(model)).first()
    assert found is not None
    return found


def expected_back(obj: Validated, key: str, value: Any) -> Any:
    """What a saved value reads back as: "" is stored as NULL for optional strings, a tuple list as a list."""
    rules = {k: r for k, r in type(obj).property_rules().values()}.get(key)
    if rules is not None and not rules.required and value == "":
        return None
    if isinstance(value, tuple):
        return list(value)
    return value


def attempt_write(store: Store, model: type[Validated], key: str, value: Any) -> None:
    """Write one value; a refusal must be a ValidationError leaving every row as it was, an acceptance must
    read back equal in a new session."""
    before = raw_rows(store)
    try:
        with store.session() as session:
            obj = load(session, model)
            identity = inspect(obj).identity
            setattr(obj, key, value)
    except ValidationError as refused:
        assert refused.problems, "a ValidationError names what is wrong"
        assert raw_rows(store) == before, f"{model.__name__}.{key}={value!r} was refused but rows changed"
        return
    if key in DERIVED:
        return
    with store.session() as session:
        again = session.get(model, identity)
        assert again is not None
        stored = getattr(again, key)
        wanted = expected_back(again, key, value)
        assert stored == wanted or (_both_nan(stored, wanted)), f"{model.__name__}.{key}: {stored!r} != {wanted!r}"


def _both_nan(a: Any, b: Any) -> bool:
    return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)


def properties_of(model: type[Validated]) -> list[str]:
    keys = [key for key, _rules in model.property_rules().values()]
    keys += [key for key, _column in model.plain_columns()]
    keys += [composite.key for composite in inspect(model).composites]
    return keys


def strategy_for(model: type[Validated], key: str, current: object) -> st.SearchStrategy[Any]:
    rules = {k: r for k, r in model.property_rules().values()}.get(key)
    if rules is not None:
        return values_for(rules, current)
    columns = dict(model.plain_columns())
    if key in columns:
        return column_values(columns[key], current)
    return endpoints


# -- through the Python API --------------------------------------------------------------------------------------


@EXAMPLES
@given(data=st.data())
def test_every_write_is_stored_exactly_or_refused_cleanly(world: Store, data: st.DataObject) -> None:
    restore_token(world)
    model = data.draw(st.sampled_from(MODELS), label="model")
    key = data.draw(st.sampled_from(properties_of(model)), label="property")
    with world.session() as session:
        current = getattr(load(session, model), key)
    value = data.draw(strategy_for(model, key, current), label="value")
    attempt_write(world, model, key, value)


@pytest.mark.parametrize(
    ("model", "key", "value"),
    [
        (Client, "description", "a\x00b"),
        (Client, "client_secret", "\ud800"),
        (Client, "jwt_interval", 2**31),
        (Client, "jwt_interval", 2**63),
        (Client, "client_type", 5),
        (Client, "redirection_endpoint", "https://app.example.com/cb"),
        (Client, "redirection_endpoint", Endpoint("app.example.com", 2**40, "cb")),
        (Client, "server_definition_id", 2**40),
        (Client, "server_definition", 5),
        (Client, "server_definition", None),
        (Client, "server_definition_id", None),
        (Client, "client_metadata", "x"),
        (AccessToken, "client", "app"),
        (ClientMetadata, "grant_types", "x"),
        (ClientMetadata, "grant_types", 5),
        (ClientMetadata, "token_endpoint_auth_method", ["client_secret_basic"]),
        (ClientMetadata, "jwks", {"keys": [float("nan")]}),
        (ClientMetadata, "jwks", {"keys": {1, 2}}),
        (ClientMetadata, "jwks", {"keys": b"raw"}),
        (ClientMetadata, "jwks_uri", "http://[::1"),
        (ClientMetadata, "client_id_issued_at", 10**30),
        (ServerDefinition, "public_jwks_expires", 2**64),
        (ServerDefinition, "public_jwks_etag", "\x00"),
        (ServerDefinition, "issuer_endpoint", "http://[::1"),
        (ServerMetadata, "grant_types_supported", 7),
        (ServerMetadata, "server_definition_id", 2**31),
        (ClientMetadata, "application_name", "a\x00"),
        (AccessToken, "expires", datetime(2030, 1, 1)),
        (AccessToken, "response_properties", {"expires_in": float("inf")}),
        (ClientKey, "retention", 2**31),
        (ClientKey, "public_jwk", {"n": ("a", "b")}),
        (SSLConfiguration, "certificate", 12),
        (X509Credentials, "description", "\udfff"),
    ],
)
def test_known_hostile_writes_are_validation_errors(world: Store, model: type[Validated], key: str, value: Any) -> None:
    before = raw_rows(world)
    with pytest.raises(ValidationError) as refused, world.session() as session:
        setattr(load(session, model), key, value)
    name = key.lstrip("_")
    assert any(name in field for field in refused.value.fields) or name in str(refused.value)
    assert raw_rows(world) == before


# -- through the command line -----------------------------------------------------------------------------------

CLI_OPTIONS = {
    "--description": st.one_of(any_text, nasty_text),
    "--client-id": st.one_of(any_text, nasty_text),
    "--jwt-interval": st.one_of(st.integers(-(2**70), 2**70), big_ints).map(str),
    "--jwt-audience": st.one_of(urls, any_text),
    "--redirect-url": urls,
    "--scope": any_text,
    "--metadata": st.one_of(
        st.builds(lambda v: f"jwks={v}", st.sampled_from(['{"a": NaN}', '{"a": Infinity}', '{"keys": []}', "[1]"])),
        st.builds(lambda v: f"grant_types={json.dumps(v)}", st.one_of(st.lists(any_text, max_size=2), any_text)),
        st.builds(lambda v: f"client_id_issued_at={v}", st.one_of(big_ints, st.integers(0, 10))),
        st.builds(lambda v: f"jwks_uri={v}", urls),
    ),
}


@FEW_EXAMPLES
@given(data=st.data())
def test_cli_client_set_refuses_with_exit_3_and_changes_nothing(
    world: Store, data: st.DataObject, capsys: pytest.CaptureFixture[str]
) -> None:
    option = data.draw(st.sampled_from(sorted(CLI_OPTIONS)), label="option")
    value = data.draw(CLI_OPTIONS[option], label="value")
    before = raw_rows(world)
    code = main(["--db", db_url(world), "client", "set", "app", option, value])
    capsys.readouterr()
    assert code in (0, 3), f"client set {option} {value!r} exited {code}"
    if code == 3:
        assert raw_rows(world) == before


@FEW_EXAMPLES
@given(description=st.one_of(any_text, nasty_text), interval=st.one_of(big_ints, st.integers(1, 100)))
def test_cli_client_create_refuses_with_exit_3_and_stores_nothing(
    world: Store, description: str, interval: int, capsys: pytest.CaptureFixture[str]
) -> None:
    before = raw_rows(world)
    code = main(
        [
            "--db",
            db_url(world),
            "client",
            "create",
            "second",
            "--type",
            "confidential",
            "--server",
            "https://as.example.com",
            "--client-id",
            "c2",
            "--client-secret",
            "s2",
            "--grant-type",
            "client_credentials",
            "--description",
            description,
            "--jwt-interval",
            str(interval),
        ]
    )
    capsys.readouterr()
    assert code in (0, 3)
    if code == 3:
        assert raw_rows(world) == before
    else:
        main(["--db", db_url(world), "client", "delete", "second"])
        capsys.readouterr()


@FEW_EXAMPLES
@given(data=st.data())
def test_import_of_a_hostile_document_exits_3_and_stores_nothing(
    world: Store, data: st.DataObject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = data.draw(st.sampled_from(["ssl", "server", "server_metadata", "client", "client_metadata"]))
    model = {
        "ssl": SSLConfiguration,
        "server": ServerDefinition,
        "server_metadata": ServerMetadata,
        "client": Client,
        "client_metadata": ClientMetadata,
    }[where]
    name, (_key, rules) = data.draw(st.sampled_from(sorted(model.property_rules().items())))
    value = data.draw(values_for(rules, None).filter(_json_writable))
    ssl: dict[str, Any] = {"name": "imported-tls"}
    server: dict[str, Any] = {
        "issuer_endpoint": "https://other.example.com",
        "metadata": {
            "issuer": "https://other.example.com",
            "token_endpoint": "https://other.example.com/token",
            "grant_types_supported": ["client_credentials"],
        },
    }
    client: dict[str, Any] = {
        "application_name": "imported",
        "client_type": "confidential",
        "client_id": "i",
        "client_secret": "s",
        "server": "https://other.example.com",
        "metadata": {"grant_types": ["client_credentials"]},
    }
    target = {
        "ssl": ssl,
        "server": server,
        "server_metadata": server["metadata"],
        "client": client,
        "client_metadata": client["metadata"],
    }[where]
    target[name] = value
    document = {"format": "oauth2store/1", "ssl_configurations": [ssl], "servers": [server], "clients": [client]}
    path = tmp_path / "document.json"
    try:
        path.write_text(json.dumps(document, allow_nan=True), encoding="utf-8", errors="surrogatepass")
    except (TypeError, ValueError):
        return  # not writable as a JSON file at all, so not a document anyone can import
    before = raw_rows(world)
    code = main(["--db", db_url(world), "import", str(path)])
    capsys.readouterr()
    assert code in (0, 3), f"import with {where}.{name}={value!r} exited {code}"
    if code == 3:
        assert raw_rows(world) == before
    else:
        back_to_the_world(world)


def back_to_the_world(store: Store) -> None:
    """Delete what an accepted import added, so the next example starts from the same store."""
    with store.session() as session:
        for client in session.scalars(select(Client).where(Client.application_name != "app")):
            session.delete(client)
        session.flush()
        for server in session.scalars(
            select(ServerDefinition).where(ServerDefinition.issuer_endpoint != "https://as.example.com")
        ):
            session.delete(server)
        session.flush()
        for tls in session.scalars(select(SSLConfiguration).where(SSLConfiguration.name.not_in(["default", "tls"]))):
            session.delete(tls)


def db_url(store: Store) -> str:
    return store.url.render_as_string(hide_password=False)


def _json_writable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return False
    return True

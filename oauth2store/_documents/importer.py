"""Import: create or update everything a document describes, checked whole before anything is written.

Existing objects are matched by their natural key and updated; nothing is deleted. Every problem of the document
is collected under its path (e.g. `clients[3].client_type`) and reported at once; the caller's transaction makes
the import all-or-nothing. A client key pair is stored only when its private JWK, public JWK and kid belong
together.

It scales with the document: the checks of every object share one index of the names the document and the store
hold (`models._flush.FlushIndex`), stored clients are looked up a chunk at a time, and the new clients (usually
nearly all of a migration) are written as bulk INSERTs of their checked column values (`rows`) instead of through
the unit of work; configurations, server definitions and changed stored objects go through the ORM's flush.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from .._errors import OAuth2StoreError, Problem, ValidationError
from .._validation import check
from ..models import Client, ClientKey, ClientMetadata, Endpoint, ServerDefinition, SSLConfiguration, X509Credentials
from ..models._flush import FlushIndex, flush_index
from ..models._validated import Validated
from .format import DERIVED, DOCUMENT_MEMBERS, FORMAT
from .key_pairs import import_keys
from .rows import CHUNK, NewRows, chunks

#: What happened to each object of an import, in the order the summary names them.
OUTCOMES = ("created", "updated", "unchanged")


@dataclass
class ImportReport:
    """What an import created, changed and left as it was, by kind and key (labels such as "Client orders")."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def by_kind(self) -> dict[str, dict[str, int]]:
        """{outcome: {kind: count}} for each outcome, kinds in the document's order of sections."""
        return {
            outcome: dict(Counter(label.split(" ", 1)[0] for label in getattr(self, outcome))) for outcome in OUTCOMES
        }

    def summary(self) -> str:
        """One line: the totals, then each outcome by kind, e.g.
        `2 created, 0 updated, 1 unchanged (created: 2 Client; unchanged: 1 ServerDefinition)`."""
        totals = ", ".join(f"{len(getattr(self, outcome))} {outcome}" for outcome in OUTCOMES)
        kinds = [
            f"{outcome}: " + ", ".join(f"{count} {kind}" for kind, count in counts.items())
            for outcome, counts in self.by_kind().items()
            if counts
        ]
        return f"{totals} ({'; '.join(kinds)})" if kinds else totals


class _Collector:
    """Gathers problems under their path in the document (e.g. `clients[3].client_type`)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self._first: dict[tuple[str, object], str] = {}

    def add(self, path: str, problems: Iterable[Problem]) -> None:
        self.problems += [Problem(f"{path}.{p.field}" if path else p.field, p.message, p.code) for p in problems]

    def first_time(self, section: str, key: object, path: str, field: str) -> bool:
        """True the first time the document names `key` in `section`; after that a problem, since two
        descriptions of one object would both be written (and a new one inserted twice)."""
        first = self._first.setdefault((section, key), path)
        if first != path:
            self.add(path, [Problem(field, f"{key!r} appears twice (first at {first})")])
        return first == path


def _assign(obj: Validated, values: dict[str, Any], path: str, collector: _Collector) -> bool:
    """Set the named properties on `obj`; True when anything changed. Unknown names are problems, not ignored."""
    rules = type(obj).property_rules()
    changed = False
    for name, value in values.items():
        entry = rules.get(name)
        if entry is None or name in DERIVED:
            collector.add(path, [Problem(name, f"is not a property of {type(obj).kind}")])
            continue
        if getattr(obj, entry[0]) != value:
            setattr(obj, entry[0], value)
            changed = True
    return changed


def _items(document: dict[str, Any], section: str, collector: _Collector) -> Iterator[tuple[str, dict[str, Any]]]:
    items = document.get(section, [])
    if not isinstance(items, list):
        collector.add("", [Problem(section, "must be a list")])
        return
    for index, item in enumerate(items):
        path = f"{section}[{index}]"
        if isinstance(item, dict):
            yield path, dict(item)
        else:
            collector.add("", [Problem(path, "must be an object")])


def import_document(
    session: Session, document: object, *, progress: Callable[[int], None] | None = None
) -> ImportReport:
    """Create or update everything the document describes, in the caller's transaction.

    Existing objects are matched by key and updated; nothing is deleted. Every object is checked before anything
    is written, and all problems are reported together. `progress` is called with a count of units done: one per
    object of the document when it is checked, and one more when it is written (so twice the objects in all).

    Raises:
        ValidationError: the document, or any object in it, is invalid (nothing has been written).
    """
    collector = _Collector()
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValidationError("document", None, [Problem("format", f"must be {FORMAT!r}")])
    unknown = set(document) - DOCUMENT_MEMBERS
    collector.add("", [Problem(name, "is not a section of the document") for name in sorted(unknown)])
    run = _Import(session, collector, progress or (lambda _done: None))
    with session.no_autoflush, flush_index(session, ()) as index:
        run.index = index
        run.named(document, SSLConfiguration, "ssl_configurations", "name")
        run.named(document, X509Credentials, "x509_credentials", "alias")
        run.servers(document)
        run.clients(document)
    if collector.problems:
        raise ValidationError("document", None, collector.problems)
    run.write()
    return run.report


class _Import:
    """One import under way: the objects checked so far, the new rows to write, and the report."""

    def __init__(self, session: Session, collector: _Collector, progress: Callable[[int], None]) -> None:
        self.session = session
        self.collector = collector
        self.progress = progress
        self.report = ImportReport()
        self.index: FlushIndex
        self.servers_by_issuer: dict[str, ServerDefinition | None] = {}
        self.new_clients = NewRows(Client)
        self.new_metadata = NewRows(ClientMetadata)
        self.new_keys = NewRows(ClientKey)

    def record(self, kind: str, key: object, created: bool, changed: bool) -> None:
        label = f"{kind} {key}"
        (self.report.created if created else self.report.updated if changed else self.report.unchanged).append(label)
        self.progress(1)

    def named(self, document: dict[str, Any], model: type[Validated], section: str, key_name: str) -> None:
        """TLS configurations and X.509 credentials: few, through the ORM."""
        for path, values in _items(document, section, self.collector):
            key = values.get(key_name)
            if not isinstance(key, str) or not key:
                self.collector.add(path, [Problem(key_name, "is required", 5659)])
                continue
            if _unusable_key(model, key_name, key, path, self.collector):
                continue
            if not self.collector.first_time(section, key, path, key_name):
                continue
            existing = self.session.get(model, key)
            obj = existing or model(**{key_name: key})
            changed = _assign(obj, values, path, self.collector)
            self.add(obj, existing is None)
            self.collector.add(path, obj.problems())
            self.record(model.kind, key, existing is None, changed)

    def add(self, obj: Validated, new: bool) -> None:
        self.session.add(obj)
        if new:
            self.index.count_new(obj)  # the index was built before the object joined the session

    def servers(self, document: dict[str, Any]) -> None:
        """Server definitions: few, through the ORM (clients name them by issuer)."""
        for path, values in _items(document, "servers", self.collector):
            issuer = values.get("issuer_endpoint")
            metadata = values.pop("metadata", {})
            if not isinstance(issuer, str) or not issuer:
                self.collector.add(path, [Problem("issuer_endpoint", "is required", 5659)])
                continue
            if _unusable_key(ServerDefinition, "issuer_endpoint", issuer, path, self.collector):
                continue
            if not self.collector.first_time("servers", issuer, path, "issuer_endpoint"):
                continue
            existing = ServerDefinition.OpenByIssuer(self.session, issuer)
            server = existing or ServerDefinition(issuer_endpoint=issuer)
            changed = _assign(server, values, path, self.collector)
            if isinstance(metadata, dict):
                changed = _assign(server.server_metadata, metadata, f"{path}.metadata", self.collector) or changed
            else:
                self.collector.add(path, [Problem("metadata", "must be an object")])
            self.servers_by_issuer[issuer] = server
            self.add(server, existing is None)
            self.collector.add(path, server.problems())
            self.record("ServerDefinition", issuer, existing is None, changed)

    def server(self, issuer: object) -> ServerDefinition | None:
        """The server definition a client names: from the document, else stored (looked up once per issuer)."""
        if not isinstance(issuer, str):
            return None
        if issuer not in self.servers_by_issuer:
            self.servers_by_issuer[issuer] = ServerDefinition.OpenByIssuer(self.session, issuer)
        return self.servers_by_issuer[issuer]

    def clients(self, document: dict[str, Any]) -> None:
        """Clients, a chunk at a time: the stored ones of a chunk are loaded by one query."""
        entries = list(_items(document, "clients", self.collector))
        for chunk in chunks(entries, CHUNK):
            names = [
                name
                for _path, values in chunk
                if isinstance(name := values.get("application_name"), str)
                and name
                and not check("application_name", Client.property_rules()["application_name"][1], name)
            ]
            query = select(Client).where(Client.application_name.in_(names))
            if any(values.get("keys") is not None for _path, values in chunk):
                query = query.options(selectinload(Client.keys))
            stored = {client.application_name: client for client in self.session.scalars(query)} if names else {}
            for path, values in chunk:
                self.client(path, values, stored)

    def client(self, path: str, values: dict[str, Any], stored: dict[str, Client]) -> None:
        collector = self.collector
        name = values.get("application_name")
        metadata = values.pop("metadata", {})
        issuer = values.pop("server", None)
        redirect = values.pop("redirection_endpoint", None)
        keys = values.pop("keys", None)
        if not isinstance(name, str) or not name:
            collector.add(path, [Problem("application_name", "is required", 5659)])
            return
        if _unusable_key(Client, "application_name", name, path, collector):
            return
        if not collector.first_time("clients", name, path, "application_name"):
            return
        if isinstance(issuer, str) and check("issuer_endpoint", _issuer_rules(), issuer):
            issuer = None  # not a storable issuer, so no stored one: reported as a missing server
        existing = stored.get(name)
        client = existing or Client(application_name=name)
        changed = _assign(client, values, path, collector)
        used = self.server(issuer)
        if used is None:
            collector.add(path, [Problem("server", f"no server definition with issuer {issuer!r}")])
        elif existing is None:
            # Without the backref: the server's `clients` must not carry a client the flush would insert again.
            set_committed_value(client, "server_definition", used)
        elif client.server_definition is not used:
            client.server_definition = used
            changed = True
        endpoint = _endpoint(redirect, path, collector)
        if endpoint != client.redirection_endpoint:
            client.redirection_endpoint = endpoint
            changed = True
        if isinstance(metadata, dict):
            changed = _assign(client.client_metadata, metadata, f"{path}.metadata", collector) or changed
        else:
            collector.add(path, [Problem("metadata", "must be an object")])
        touched: list[tuple[str, Validated]] = []
        if keys is not None:
            changed = import_keys(client, keys, path, collector.add, touched) or changed
        before = len(collector.problems)
        if existing is None:
            self.index.count_new(client)
            collector.add(path, client.problems() + client.reference_problems(self.session))
        else:
            collector.add(path, client.problems())
        for where, key in touched:
            collector.add(where, key.problems())
        if existing is None and len(collector.problems) == before and used is not None:
            self.keep_new_client(client, used, [key for _where, key in touched if isinstance(key, ClientKey)])
        self.record("Client", name, existing is None, changed)

    def keep_new_client(self, client: Client, server: ServerDefinition, keys: list[ClientKey]) -> None:
        """Keep a checked new client's rows for the bulk INSERTs, normalized as the check before a flush does."""
        client.normalize()
        name = client.application_name
        self.new_clients.add(client, server_definition_id=server)
        self.new_metadata.add(client.client_metadata, application_name=name)
        for key in keys:
            key.normalize()
            self.new_keys.add(key, application_name=name)

    def write(self) -> None:
        """Flush what goes through the ORM (checked again by the flush), then INSERT the new clients in bulk."""
        self.session.flush()
        self.progress(self._objects() - len(self.new_clients))
        self.new_clients.write(self.session, self.progress)
        self.new_metadata.write(self.session)
        self.new_keys.write(self.session)

    def _objects(self) -> int:
        return sum(len(labels) for labels in (self.report.created, self.report.updated, self.report.unchanged))


def _issuer_rules() -> Any:
    return ServerDefinition.property_rules()["issuer_endpoint"][1]


def _unusable_key(model: type[Validated], name: str, key: str, path: str, collector: _Collector) -> bool:
    """True (with the problems collected) when a key breaks its property's rules: it is not looked up, since a
    key the database cannot hold (NUL, a lone surrogate) fails the query itself on PostgreSQL."""
    problems = check(name, model.property_rules()[name][1], key)
    collector.add(path, problems)
    return bool(problems)


def _endpoint(url: object, path: str, collector: _Collector) -> Endpoint | None:
    if url is None:
        return None
    if not isinstance(url, str):
        collector.add(path, [Problem("redirection_endpoint", "must be a URL string")])
        return None
    try:
        return Endpoint.parse(url)
    except OAuth2StoreError:
        collector.add(path, [Problem("redirection_endpoint", "must be an absolute http(s) URL without query")])
        return None

"""Import: create or update everything a document describes, checked whole before anything is written.

Existing objects are matched by their natural key and updated; nothing is deleted. Every problem of the document
is collected under its path (e.g. `clients[3].client_type`) and reported at once; the caller's transaction makes
the import all-or-nothing. A client key pair is stored only when its private JWK, public JWK and kid belong
together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from .._errors import OAuth2StoreError, Problem, ValidationError
from .._validation import check
from ..models import Client, Endpoint, ServerDefinition, SSLConfiguration, X509Credentials
from ..models._validated import Validated
from .format import DERIVED, DOCUMENT_MEMBERS, FORMAT
from .key_pairs import import_keys

_ISSUER_RULES = ServerDefinition.property_rules()["issuer_endpoint"][1]


@dataclass
class ImportReport:
    """What an import created, changed and left as it was, by kind and key."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged"


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

    Existing objects are matched by key and updated; nothing is deleted. Every object is validated before the
    session is flushed, and all problems are reported together.

    Raises:
        ValidationError: the document, or any object in it, is invalid (nothing has been flushed).
    """
    collector = _Collector()
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValidationError("document", None, [Problem("format", f"must be {FORMAT!r}")])
    unknown = set(document) - DOCUMENT_MEMBERS
    collector.add("", [Problem(name, "is not a section of the document") for name in sorted(unknown)])
    report = ImportReport()
    touched: list[tuple[str, Validated]] = []

    def record(kind: str, key: object, obj: Validated, created: bool, changed: bool, path: str) -> None:
        label = f"{kind} {key}"
        (report.created if created else report.updated if changed else report.unchanged).append(label)
        touched.append((path, obj))
        if progress is not None:
            progress(1)

    with session.no_autoflush:
        named: list[tuple[type[Validated], str, str]] = [
            (SSLConfiguration, "ssl_configurations", "name"),
            (X509Credentials, "x509_credentials", "alias"),
        ]
        for model, section, key_name in named:
            for path, values in _items(document, section, collector):
                key = values.get(key_name)
                if not isinstance(key, str) or not key:
                    collector.add(path, [Problem(key_name, "is required", 5659)])
                    continue
                if _unusable_key(model, key_name, key, path, collector):
                    continue
                if not collector.first_time(section, key, path, key_name):
                    continue
                existing = session.get(model, key)
                obj = existing or model(**{key_name: key})
                changed = _assign(obj, values, path, collector)
                session.add(obj)
                record(model.kind, key, obj, existing is None, changed, path)
        servers: dict[str, ServerDefinition] = {}
        for path, values in _items(document, "servers", collector):
            issuer = values.get("issuer_endpoint")
            metadata = values.pop("metadata", {})
            if not isinstance(issuer, str) or not issuer:
                collector.add(path, [Problem("issuer_endpoint", "is required", 5659)])
                continue
            if _unusable_key(ServerDefinition, "issuer_endpoint", issuer, path, collector):
                continue
            if not collector.first_time("servers", issuer, path, "issuer_endpoint"):
                continue
            existing_server = ServerDefinition.OpenByIssuer(session, issuer)
            server = existing_server or ServerDefinition(issuer_endpoint=issuer)
            changed = _assign(server, values, path, collector)
            if isinstance(metadata, dict):
                changed = _assign(server.server_metadata, metadata, f"{path}.metadata", collector) or changed
            else:
                collector.add(path, [Problem("metadata", "must be an object")])
            servers[issuer] = server
            session.add(server)
            record("ServerDefinition", issuer, server, existing_server is None, changed, path)
        for path, values in _items(document, "clients", collector):
            name = values.get("application_name")
            metadata = values.pop("metadata", {})
            issuer = values.pop("server", None)
            redirect = values.pop("redirection_endpoint", None)
            keys = values.pop("keys", None)
            if not isinstance(name, str) or not name:
                collector.add(path, [Problem("application_name", "is required", 5659)])
                continue
            if _unusable_key(Client, "application_name", name, path, collector):
                continue
            if not collector.first_time("clients", name, path, "application_name"):
                continue
            if isinstance(issuer, str) and check("issuer_endpoint", _ISSUER_RULES, issuer):
                issuer = None  # not a storable issuer, so no stored one: reported as a missing server
            existing_client = Client.Open(session, name)
            client = existing_client or Client(application_name=name)
            changed = _assign(client, values, path, collector)
            used = servers.get(issuer) if isinstance(issuer, str) else None
            if used is None and isinstance(issuer, str):
                used = ServerDefinition.OpenByIssuer(session, issuer)
            if used is None:
                collector.add(path, [Problem("server", f"no server definition with issuer {issuer!r}")])
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
            if keys is not None:
                changed = import_keys(client, keys, path, collector.add, touched) or changed
            session.add(client)
            record("Client", name, client, existing_client is None, changed, path)
        for path, written in touched:
            collector.add(path, written.problems())
    if collector.problems:
        raise ValidationError("document", None, collector.problems)
    session.flush()
    return report


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

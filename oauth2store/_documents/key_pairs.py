"""A client's key pairs in a document: exported with their private JWKs, imported only when each pair holds together.

A key pair is a secret (its private JWK), so it travels only in documents with secrets. On import a pair is matched
to the client's keys by kid, and refused unless its public JWK and kid are those of its private JWK: a document
could otherwise make a client publish one key and sign with another. Both directions are here because they are
one format; the export and the import use this module and never each other.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from .._errors import Problem
from .._jwx import jwk
from ..models import Client, ClientKey
from ..models._validated import Validated
from .format import KEY_MEMBERS

#: Records problems under a path of the document (the import's collector).
AddProblems = Callable[[str, Iterable[Problem]], None]


def key_document(key: ClientKey) -> dict[str, Any]:
    """One key pair of a client, private JWK included (so only in documents with secrets)."""
    return {
        "kid": key.kid,
        "use": key.use,
        "alg": key.alg,
        "private_jwk": json.loads(key.private_jwk),
        "public_jwk": dict(key.public_jwk),
        "created": key.created.isoformat(),
        "active_from": key.active_from.isoformat(),
        "retention": key.retention,
    }


def import_keys(
    client: Client, keys: object, path: str, add: AddProblems, touched: list[tuple[str, Validated]]
) -> bool:
    """Add the document's key pairs the client lacks (matched by kid) and correct those that differ; True if any
    changed. A key whose private and public JWKs or kid do not belong together is a problem, never stored."""
    if not isinstance(keys, list):
        add(path, [Problem("keys", "must be a list")])
        return False
    changed = False
    for index, item in enumerate(keys):
        where = f"{path}.keys[{index}]"
        values = _key_values(item, where, add)
        if values is None:
            continue
        key = next((k for k in client.keys if k.kid == values["kid"]), None)
        if key is None:
            key = ClientKey(application_name=client.application_name, **values)
            client.keys.append(key)
            changed = True
        else:
            for name, value in values.items():
                current = json.loads(key.private_jwk) if name == "private_jwk" else getattr(key, name)
                if current != (json.loads(value) if name == "private_jwk" else value):
                    setattr(key, name, value)
                    changed = True
        touched.append((where, key))
    return changed


def _key_values(item: object, where: str, add: AddProblems) -> dict[str, Any] | None:
    """The ClientKey values of one key in a document, or None (with the problems collected)."""
    if not isinstance(item, dict):
        add("", [Problem(where, "must be an object")])
        return None
    problems: list[Problem] = []
    unknown = sorted(set(item) - KEY_MEMBERS)
    problems += [Problem(name, "is not a property of ClientKey") for name in unknown]
    times: dict[str, datetime] = {}
    for name in ("created", "active_from"):
        try:
            times[name] = datetime.fromisoformat(item[name])
            if times[name].tzinfo is None:
                raise ValueError
        except (KeyError, TypeError, ValueError):
            problems.append(Problem(name, "must be an ISO 8601 time with a UTC offset"))
    private, public = item.get("private_jwk"), item.get("public_jwk")
    if not isinstance(private, dict) or not isinstance(public, dict):
        problems.append(Problem("private_jwk", "the private and public JWKs must both be objects"))
    else:
        try:
            derived = jwk.public_jwk(jwk.load_private_jwk(private).public_key())
            matches = all(public.get(m) == v for m, v in derived.items()) and jwk.thumbprint(derived) == item.get("kid")
        except (ValueError, KeyError):
            matches = False
        if not matches:
            problems.append(Problem("private_jwk", "the private JWK, public JWK and kid do not belong together"))
    add(where, problems)
    if problems:
        return None
    return {
        "kid": item["kid"],
        "use": item.get("use"),
        "alg": item.get("alg"),
        "private_jwk": json.dumps(private, separators=(",", ":")),
        "public_jwk": public,
        "retention": item.get("retention"),
        **times,
    }

"""References between stored objects: a name that must point at a stored object, and who still points at one.

Models that refer to each other (a server definition and its clients) name each other by class name, found as
`relationship("Client")` finds it, instead of importing each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from .._errors import Problem
from ._flush import index_of, is_lookup_key
from ._validated import Validated
from .base import Base


def missing_reference(session: Session, field: str, model: type[Validated], key: object) -> list[Problem]:
    """A problem when `key` names no stored `model` (IRIS refuses a dangling name on save)."""
    if key is None or key == "" or not is_lookup_key(key):
        return []
    index = index_of(session)
    if index.new_count(model, key):
        return []  # saved by the same flush
    stored = index.stored(model, key)
    if stored is not None and stored not in session.deleted:
        return []
    return [Problem(field, f"no {model.kind} named {key!r} is stored")]


def mapped_class(name: str) -> type[Any]:
    """The model class named `name`, found as `relationship("Client")` finds it: by name, when it is used.

    Models that refer to each other (a server definition and its clients) name each other this way instead of
    importing each other.
    """
    for mapper in Base.registry.mappers:
        if mapper.class_.__name__ == name:
            return mapper.class_
    raise LookupError(f"no mapped class {name!r}")


def referencing(session: Session, key: object, references: Iterable[tuple[str, str, str]]) -> list[str]:
    """Labels of the stored objects whose reference column equals `key`, for a refused delete's message.

    `references` names, for each referring model, its class, its label attribute and its reference attribute.
    """
    users: list[str] = []
    for class_name, label_name, column_name in references:
        model = mapped_class(class_name)
        label, column = getattr(model, label_name), getattr(model, column_name)
        users += [f"{model.kind} {v}" for v in session.scalars(select(label).where(column == key).order_by(label))]
    return users

"""IRIS %Persistent behaviour for a mapped class: initial values, property checks, validate(), a safe repr, and the
check before every flush.

Every mapped column without IRIS rules is checked by its SQL type (`column_problems`), so no write of any attribute
reaches the database driver with a value it would refuse: a refused write is always a `ValidationError`, raised
before any SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    String,
    inspect,
)
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import get_history

from .._errors import Problem, ValidationError
from .._validation import (
    DATATYPE,
    INT32_RANGE,
    INT64_RANGE,
    REQUIRED,
    Rules,
    check,
    is_well_typed,
    json_problem,
    text_problem,
)
from .base import UTCDateTime


def column_problems(name: str, column: Column[Any], value: object) -> list[Problem]:
    """Why `value` cannot be written to `column` (a mapped column without IRIS rules), judged by its SQL type."""
    if value is None:
        defaulted = column.default is not None or column.server_default is not None
        needed = not column.nullable and not column.primary_key and not column.foreign_keys and not defaulted
        return [Problem(name, "is required", REQUIRED)] if needed else []
    sql = column.type
    message: str | None = None
    if isinstance(sql, UTCDateTime | DateTime):
        if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
            message = "must be an aware datetime (with a UTC offset)"
        else:
            try:
                value.astimezone(UTC)
            except OverflowError:
                message = "must be a datetime that exists in UTC"
    elif isinstance(sql, Integer):
        low, high = INT64_RANGE if isinstance(sql, BigInteger) else INT32_RANGE
        if not isinstance(value, int) or isinstance(value, bool):
            message = f"must be an integer (got {type(value).__name__})"
        elif not low <= value <= high:
            message = f"must be from {low} to {high} (the column's range)"
    elif isinstance(sql, Boolean):
        message = None if isinstance(value, bool) else "must be true or false"
    elif isinstance(sql, String):
        if not isinstance(value, str):
            message = f"must be a string (got {type(value).__name__})"
        else:
            message = text_problem(value)
            if message is None and sql.length is not None and len(value) > sql.length:
                message = f"must be at most {sql.length} characters (got {len(value)})"
    elif isinstance(sql, JSON):
        message = json_problem(value)
    return [Problem(name, message, DATATYPE)] if message is not None else []


class Validated:
    """IRIS %Persistent behaviour for a mapped class: initial values, property checks, validate(), and a safe repr."""

    #: The name used in error messages, e.g. "Client".
    kind: ClassVar[str]
    _rules_cache: ClassVar[dict[type, dict[str, tuple[str, Rules]]]] = {}
    _columns_cache: ClassVar[dict[type, list[tuple[str, Column[Any]]]]] = {}
    _references_cache: ClassVar[dict[type, dict[str, type]]] = {}

    def __init__(self, **values: Any) -> None:
        mapper = inspect(type(self))
        for name, (key, _rules) in self.property_rules().items():
            column = mapper.attrs[key].columns[0]
            if name not in values and "initial" in column.info:
                setattr(self, key, column.info["initial"])  # IRIS InitialExpression, set at %New
        for name, value in values.items():
            if not hasattr(type(self), name):
                raise TypeError(f"{name!r} is not a property of {type(self).__name__}")
            setattr(self, name, value)

    @classmethod
    def property_rules(cls) -> dict[str, tuple[str, Rules]]:
        """{public property name: (mapped attribute key, rules)} for every IRIS property of the class."""
        cached = Validated._rules_cache.get(cls)
        if cached is None:
            cached = {}
            for attr in inspect(cls).column_attrs:
                rules = attr.columns[0].info.get("rules")
                if rules is not None:
                    cached[attr.key.lstrip("_")] = (attr.key, rules)
            Validated._rules_cache[cls] = cached
        return cached

    def __setattr__(self, name: str, value: Any) -> None:
        # An object-valued property (a server definition, a metadata row, a client) takes only its own class:
        # anything else is refused here as the property's error, before SQLAlchemy reads attributes it lacks.
        expected = self.reference_types().get(name)
        if expected is not None and value is not None and not isinstance(value, expected):
            problem = Problem(name, f"must be a {expected.__name__} or None (got {type(value).__name__})")
            raise ValidationError(self.kind, None, [problem])
        super().__setattr__(name, value)

    @classmethod
    def reference_types(cls) -> dict[str, type]:
        """{attribute: class} of the object-valued (many-to-one and one-to-one) relationships one may set."""
        cached = Validated._references_cache.get(cls)
        if cached is None:
            relationships = inspect(cls).relationships
            cached = {r.key: r.mapper.class_ for r in relationships if not r.uselist and not r.viewonly}
            Validated._references_cache[cls] = cached
        return cached

    @classmethod
    def plain_columns(cls) -> list[tuple[str, Column[Any]]]:
        """(attribute key, column) of the mapped columns without IRIS rules (IDs, times, caches), composites' own
        columns excepted (the composite value checks them)."""
        cached = Validated._columns_cache.get(cls)
        if cached is None:
            mapper = inspect(cls)
            ruled = {key for key, _rules in cls.property_rules().values()}
            composed = {column for composite in mapper.composites for column in composite.columns}
            cached = [
                (attr.key, attr.columns[0])
                for attr in mapper.column_attrs
                if attr.key not in ruled and attr.columns[0] not in composed
            ]
            Validated._columns_cache[cls] = cached
        return cached

    @classmethod
    def validate_property(cls, name: str, value: object) -> None:
        """Check one value against one property's rules, without an instance (IRIS `<Prop>IsValid`).

        Raises:
            ValidationError: naming the property and every rule the value breaks.
        """
        entry = cls.property_rules().get(name)
        if entry is None:
            raise ValidationError(cls.kind, None, [Problem(name, f"is not a property of {cls.kind}")])
        problems = check(name, entry[1], value)
        if problems:
            raise ValidationError(cls.kind, None, problems)

    def validate(self) -> None:
        """Check every property and every cross-field rule of this object (IRIS %ValidateObject).

        Raises:
            ValidationError: listing every failing property and why.
        """
        problems = self.problems()
        if problems:
            raise ValidationError(self.kind, self.identity, problems)

    def problems(self) -> list[Problem]:
        """Every broken rule of this object; empty when it can be saved.

        Cross-field rules compare, hash and parse values, so they run only when every value of this object and of
        the parts it owns has the type its property needs; otherwise the parts' own problems are listed instead.
        """
        found = self.value_problems()
        if self.is_well_typed():
            found.extend(self.cross_field_problems())
        else:
            for name, part in self.owned_parts():
                found += [Problem(f"{name}.{p.field}", p.message, p.code) for p in part.value_problems()]
        session = object_session(self)
        if session is not None:
            with session.no_autoflush:
                found.extend(self.reference_problems(session))
        return found

    def value_problems(self) -> list[Problem]:
        """The problems of each value on its own: IRIS rules, SQL column types, and keys that changed."""
        found: list[Problem] = []
        for name, (key, rules) in self.property_rules().items():
            found.extend(check(name, rules, getattr(self, key)))
        for key, column in self.plain_columns():
            value = getattr(self, key)
            found.extend(column_problems(key.lstrip("_"), column, value))
            if value is None and not column.nullable and get_history(self, key).deleted:
                found.append(Problem(key.lstrip("_"), "is required (it cannot be cleared)", REQUIRED))
        return found + self.key_problems()

    def key_problems(self) -> list[Problem]:
        """A primary key changed after it was saved: checked before anything is looked up by the new value."""
        found: list[Problem] = []
        mapper = inspect(type(self))
        for column in mapper.primary_key:
            key = mapper.get_property_by_column(column).key
            before = get_history(self, key).deleted
            if before and before[0] is not None and getattr(self, key) != before[0]:
                found.append(Problem(key.lstrip("_"), f"cannot change once the {self.kind} is saved (it is its key)"))
        return found

    def is_well_typed(self) -> bool:
        """True when this object's and its owned parts' values all have the Python types their rules expect."""
        own = all(is_well_typed(rules, getattr(self, key)) for key, rules in self.property_rules().values()) and all(
            not column_problems(key, column, getattr(self, key)) for key, column in self.plain_columns()
        )
        return own and all(part.is_well_typed() for _name, part in self.owned_parts())

    def owned_parts(self) -> list[tuple[str, Validated]]:
        """The one-to-one parts this object owns and validates as its own (its metadata row)."""
        parts: list[tuple[str, Validated]] = []
        for relationship in inspect(type(self)).relationships:
            if not relationship.uselist and relationship.cascade.delete_orphan:
                part = getattr(self, relationship.key)
                if isinstance(part, Validated):
                    parts.append((relationship.key, part))
        return parts

    def cross_field_problems(self) -> list[Problem]:
        """Rules that involve more than one property; subclasses add theirs."""
        return []

    def reference_problems(self, session: Session) -> list[Problem]:
        """Names this object uses that no stored object has; checked when the object is in a session."""
        return []

    def check_unique(self, session: Session) -> None:
        """Raise DuplicateError when a unique key of this object is already stored by another."""

    @property
    def identity(self) -> object:
        """The key shown in messages: the primary key value(s), None before one is set."""
        mapper = inspect(type(self))
        values = [getattr(self, mapper.get_property_by_column(column).key) for column in mapper.primary_key]
        return values[0] if len(values) == 1 else tuple(values)

    def normalize(self) -> None:
        """IRIS keeps "" as no value: store NULL for empty optional strings, so VALUELIST CHECKs hold."""
        for key, rules in self.property_rules().values():
            if not rules.required and getattr(self, key) == "":
                setattr(self, key, None)

    def before_save(self, session: Session) -> None:
        """Runs before each flush that writes this object: normalize, validate, then refuse duplicates.

        Values of the wrong type are refused before `normalize`, which reads them as if they were right.
        """
        if not self.is_well_typed():
            raise ValidationError(self.kind, self.identity, self.problems())
        self.normalize()
        self.validate()
        self.check_unique(session)

    def has_secret_values(self) -> bool:
        """True when a secret property of this object holds a value (which needs the store's key to be written)."""
        return any(rules.secret and getattr(self, key) for key, rules in self.property_rules().values())

    def before_delete(self, session: Session) -> None:
        """Runs before each flush that deletes this object; subclasses refuse deletes that would orphan others."""

    def __repr__(self) -> str:
        # Only the key: a repr must never show a secret, and listing "safe" fields invites mistakes.
        return f"<{type(self).__name__} {self.identity!r}>"

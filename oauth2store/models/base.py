"""The declarative base, column helpers for IRIS-style properties, and validation on every flush.

Each IRIS property becomes a column made by `iris_property`, whose `info["rules"]` carries the IRIS parameters
(Required, MINLEN, MAXLEN, VALUELIST, InitialExpression). That one declaration feeds the SQL type, the per-property
check without an instance (IRIS's `<Prop>IsValid`), `validate()` on a whole object, and the check before every flush.
`secret=True` makes the column encrypted at rest (`EncryptedText`); its messages never show the value.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Enum,
    Integer,
    MetaData,
    String,
    Text,
    event,
    inspect,
    select,
)
from sqlalchemy.orm import DeclarativeBase, MappedColumn, Session, mapped_column, object_session
from sqlalchemy.types import TypeDecorator, TypeEngine

from .._encryption.columns import EncryptedText
from .._encryption.events import seal_secret_columns
from .._encryption.registry import require_cipher
from .._errors import Problem, ValidationError
from .._validation import Kind, Rules, check

#: Named constraints, so that alembic can alter and drop them on SQLite (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_UNSET: Any = object()


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend: SQLite keeps no offset, so it is dropped on write and restored on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: oauth2store stores aware UTC datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of every oauth2store table; its `metadata` is what the alembic migrations describe."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Secret columns are bound to their rows in the ORM's flush and load events (see oauth2store._encryption).
seal_secret_columns(Base)


def _sql_type(rules: Rules) -> TypeEngine[Any]:
    if rules.secret:
        # Encrypted at rest (see oauth2store._encryption); MAXLEN applies to the plaintext, the column holds a token.
        return EncryptedText()
    if rules.valuelist is not None:
        # A VARCHAR with a named CHECK on every backend: the schema refuses what validation refuses.
        return Enum(
            *rules.valuelist,
            name=rules.iris_name,
            native_enum=False,
            create_constraint=True,
            length=max(len(v) for v in rules.valuelist),
        )
    if rules.kind is Kind.INTEGER:
        return Integer()
    if rules.kind is Kind.BOOLEAN:
        return Boolean(create_constraint=False)
    if rules.kind in (Kind.LIST, Kind.URI_LIST, Kind.JSON):
        return JSON()
    return String(rules.maxlen) if rules.maxlen is not None else Text()


def iris_property(
    sql_name: str,
    kind: Kind = Kind.STRING,
    *schema_items: Any,
    required: bool = False,
    minlen: int | None = None,
    maxlen: int | None = None,
    valuelist: Iterable[str] | None = None,
    minval: int | None = None,
    initial: Any = _UNSET,
    secret: bool = False,
    **column_options: Any,
) -> MappedColumn[Any]:
    """A column for one IRIS property: SQL name, SQL type and NOT NULL all follow from the IRIS parameters."""
    rules = Rules(
        iris_name=sql_name,
        kind=kind,
        required=required,
        minlen=minlen,
        maxlen=maxlen,
        valuelist=tuple(str(value) for value in valuelist) if valuelist is not None else None,
        minval=minval,
        secret=secret,
    )
    info: dict[str, Any] = {"rules": rules}
    if initial is not _UNSET:
        info["initial"] = initial
    column_options.setdefault("nullable", not required)
    return mapped_column(sql_name, _sql_type(rules), *schema_items, info=info, **column_options)


def missing_reference(session: Session, field: str, model: type[Validated], key: object) -> list[Problem]:
    """A problem when `key` names no stored `model` (IRIS refuses a dangling name on save)."""
    if key is None or key == "":
        return []
    if any(isinstance(obj, model) and obj.identity == key for obj in session.new):
        return []  # saved by the same flush
    stored = session.get(model, key)
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


class Validated:
    """IRIS %Persistent behaviour for a mapped class: initial values, property checks, validate(), and a safe repr."""

    #: The name used in error messages, e.g. "Client".
    kind: ClassVar[str]
    _rules_cache: ClassVar[dict[type, dict[str, tuple[str, Rules]]]] = {}

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
        """Every broken rule of this object; empty when it can be saved."""
        found: list[Problem] = []
        for name, (key, rules) in self.property_rules().items():
            found.extend(check(name, rules, getattr(self, key)))
        found.extend(self.cross_field_problems())
        session = object_session(self)
        if session is not None:
            with session.no_autoflush:
                found.extend(self.reference_problems(session))
        return found

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
        """Runs before each flush that writes this object: normalize, validate, then refuse duplicates."""
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


@event.listens_for(Session, "before_flush")
def _check_before_flush(session: Session, flush_context: object, instances: object) -> None:
    """Validate oauth2store objects in any session, the application's own included.

    A Session-class listener reaches sessions we did not create; it only acts on our own model instances, and
    raising here (before any SQL is sent) leaves the session usable, so the caller can fix the value and flush again.
    """
    with session.no_autoflush:
        for obj in list(session.deleted):
            if isinstance(obj, Validated):
                obj.before_delete(session)
        for obj in list(session.new) + list(session.dirty):
            if isinstance(obj, Validated):
                obj.before_save(session)
                if obj.has_secret_values():
                    # Refuse a write without a key here, as our own error, rather than deep inside the flush.
                    require_cipher(session.get_bind(mapper=inspect(type(obj))).dialect)

"""Secrets bound to their rows in the ORM's events: the flush says where each value belongs, loads open them.

Where the row key comes from: a column type (`EncryptedText`) sees one value and the dialect, never the row, and
for rows whose primary key the database assigns (tokens, client keys, server definitions) the key does not exist
until the INSERT has run. So the ORM's flush events, which know the object and its primary key, say where each
value belongs, and the column type does the cryptography:

- writing: `before_insert` / `before_update` replace each secret being written by a `Bound` (a `str` equal to the
  plaintext, carrying its Binding), which the type's bind step seals; a row whose key the database assigns is
  inserted with a placeholder and sealed by an UPDATE in `after_insert`, in the same flush.
- reading: the type marks what it reads as `Sealed`; the `load` / `refresh` events open it with the identity the
  row was loaded under.

The events keep the object's attribute the plaintext, even after a failed flush.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Column, Connection, event, inspect, update
from sqlalchemy.orm import InstanceState, Mapper, Session
from sqlalchemy.orm.attributes import flag_modified, set_committed_value

from .._errors import StoreKeyError
from .cipher import Binding, RowKey, SecretCipher, row_key
from .columns import Bound, EncryptedText, Sealed
from .registry import environment_cipher, missing_key, require_cipher

_secret_attributes_of: dict[Mapper[Any], tuple[tuple[str, Column[Any]], ...]] = {}


def _secret_attributes(mapper: Mapper[Any]) -> tuple[tuple[str, Column[Any]], ...]:
    """(attribute key, column) of every EncryptedText column of the mapped class."""
    found = _secret_attributes_of.get(mapper)
    if found is None:
        found = tuple(
            (prop.key, column)
            for prop in mapper.column_attrs
            for column in prop.columns[:1]
            if isinstance(column, Column) and isinstance(column.type, EncryptedText)
        )
        _secret_attributes_of[mapper] = found
    return found


def _binding(column: Column[Any], key: RowKey | None) -> Binding | None:
    return None if key is None else Binding(column.table.name, column.name, key)


def _bind_for_insert(mapper: Mapper[Any], connection: Connection, target: object) -> None:
    """Give every secret of a new row its place (or None when the database assigns the key: see _after_insert)."""
    secrets = _secret_attributes(mapper)
    if not secrets:
        return
    dict_ = inspect(target).dict
    key = row_key(mapper.primary_key_from_instance(target))
    for attr, column in secrets:
        value = dict_.get(attr)
        if value is not None:
            dict_[attr] = Bound(_plaintext(value, column), _binding(column, key))


def _bind_for_update(mapper: Mapper[Any], connection: Connection, target: object) -> None:
    """Give every changed secret its place; all of them when the primary key itself changes."""
    secrets = _secret_attributes(mapper)
    if not secrets:
        return
    state = inspect(target)
    key = row_key(mapper.primary_key_from_instance(target))
    moved = state.key is not None and key != row_key(state.key[1])
    for attr, column in secrets:
        if not moved and attr not in state.committed_state:
            continue  # unchanged: the stored value stays bound to this row
        value = getattr(target, attr)  # loads it when expired (moved rows)
        if value is not None:
            state.dict[attr] = Bound(_plaintext(value, column), _binding(column, key))
            if moved:
                flag_modified(target, attr)


def _plaintext(value: object, column: Column[Any]) -> str:
    if isinstance(value, Sealed):
        raise StoreKeyError(
            f"{column.table.name}.{column.name} is set to a stored (encrypted) value read around the ORM, not to a "
            "plaintext: it would be encrypted twice"
        )
    if not isinstance(value, str):
        raise TypeError(f"{column.table.name}.{column.name} holds text, not {type(value).__name__}")
    return str(value)


def _after_insert(mapper: Mapper[Any], connection: Connection, target: object) -> None:
    """Seal the secrets of a row whose key the database just assigned, in the flush's transaction."""
    secrets = _secret_attributes(mapper)
    if not secrets:
        return
    dict_ = inspect(target).dict
    pending = [(a, c) for a, c in secrets if isinstance(dict_.get(a), Bound) and dict_[a].binding is None]
    if pending:
        key = row_key(mapper.primary_key_from_instance(target))
        if key is None:
            raise TypeError(f"{mapper.class_.__name__} has no primary key after its INSERT")
        table = pending[0][1].table
        values = {column: Bound(dict_[attr], _binding(column, key)) for attr, column in pending}
        where = [column == value for column, value in zip(mapper.primary_key, key, strict=True)]
        connection.execute(update(table).where(*where).values(values))
    _plain_again(target, secrets)


def _after_update(mapper: Mapper[Any], connection: Connection, target: object) -> None:
    secrets = _secret_attributes(mapper)
    if secrets:
        _plain_again(target, secrets)


def _plain_again(target: object, secrets: Sequence[tuple[str, Column[Any]]]) -> None:
    """After the write, the object's attributes are plain strings again (what the application set)."""
    dict_ = inspect(target).dict
    for attr, _column in secrets:
        value = dict_.get(attr)
        if isinstance(value, Bound):
            set_committed_value(target, attr, str(value))


def _unseal_loaded(state: InstanceState[Any], context: object) -> None:
    _unseal(state)


def _unseal_refreshed(state: InstanceState[Any], context: object, attrs: Iterable[str] | None) -> None:
    _unseal(state)


def _unseal(state: InstanceState[Any]) -> None:
    """Open the secrets just loaded (marked Sealed) with the identity the row was loaded under."""
    secrets = _secret_attributes(state.mapper)
    dict_ = state.dict
    sealed = [(attr, column) for attr, column in secrets if isinstance(dict_.get(attr), Sealed)]
    target = state.obj()
    if not sealed or target is None:
        return
    session = state.session
    try:
        cipher = _cipher_of(session, state.mapper)
        key = row_key(state.key[1] if state.key is not None else state.mapper.primary_key_from_instance(target))
        if key is None:
            raise TypeError(f"a loaded {state.mapper.class_.__name__} has no primary key")
        for attr, column in sealed:
            set_committed_value(target, attr, cipher.unseal(dict_[attr], Binding(column.table.name, column.name, key)))
    except StoreKeyError:
        # Never leave the ciphertext as the attribute's value: the next access loads (and refuses) it again.
        if session is not None:
            session.expire(target, [attr for attr, _ in sealed])
        else:
            for attr, _ in sealed:
                dict_.pop(attr, None)
        raise


def _cipher_of(session: Session | None, mapper: Mapper[Any]) -> SecretCipher:
    if session is None:  # not reached by the ORM's own loads, which run in a session
        cipher = environment_cipher()
        if cipher is None:
            raise missing_key()
        return cipher
    return require_cipher(session.get_bind(mapper=mapper).dialect)


def seal_secret_columns(base: type) -> None:
    """Bind the secret columns of every class mapped on `base` to their rows (see the module docstring)."""
    event.listen(base, "before_insert", _bind_for_insert, propagate=True)
    event.listen(base, "before_update", _bind_for_update, propagate=True)
    event.listen(base, "after_insert", _after_insert, propagate=True)
    event.listen(base, "after_update", _after_update, propagate=True)
    # raw: the listeners get the InstanceState, not the object (loads are the hot path)
    event.listen(base, "load", _unseal_loaded, propagate=True, raw=True)
    event.listen(base, "refresh", _unseal_refreshed, propagate=True, raw=True)

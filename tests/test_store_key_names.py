"""The store-key family's old names still work for one release, each with a DeprecationWarning."""

from __future__ import annotations

import importlib

import pytest

import oauth2store
from oauth2store import OAuth2StoreError, StoreKeyError, generate_store_key, register_store_key


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("SecretKeyError", StoreKeyError),
        ("generate_key", generate_store_key),
        ("register_key", register_store_key),
    ],
)
def test_old_name_warns_and_is_the_new_one(old: str, new: object) -> None:
    with pytest.deprecated_call(match=f"oauth2store.{old} is deprecated"):
        assert getattr(oauth2store, old) is new
    assert old not in oauth2store.__all__


def test_from_import_of_an_old_name_warns() -> None:
    module = importlib.import_module("oauth2store")
    with pytest.deprecated_call(match="use oauth2store.StoreKeyError"):
        exec("from oauth2store import SecretKeyError", {"oauth2store": module})  # the import statement itself


def test_old_exception_name_catches_the_same_errors() -> None:
    with pytest.deprecated_call():
        old = oauth2store.SecretKeyError
    assert issubclass(StoreKeyError, OAuth2StoreError)
    with pytest.raises(old):
        raise StoreKeyError("no store key")


def test_unknown_names_still_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        oauth2store.no_such_name  # noqa: B018

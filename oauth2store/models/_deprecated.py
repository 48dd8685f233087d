"""Deprecated IRIS properties of OAuth2.Client that read and write through to the client metadata replacing them.

IRIS 2019+ moved `AuthenticationType`, `SigningAlgorithm`, `EncryptionAlgorithm` and `KeyAlgorithm` into the
client's OpenID Connect metadata; the columns stay for SQL readers, kept in step on save (see iris-oauth2.md §2).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, cast, overload

from sqlalchemy.orm import Mapped

from .._errors import Problem, ValidationError
from .._types import (
    AUTHENTICATION_TYPE_TO_METHOD,
    METHOD_TO_AUTHENTICATION_TYPE,
    AuthenticationType,
    DeprecatedEncryptionAlgorithm,
    DeprecatedKeyAlgorithm,
    DeprecatedSigningAlgorithm,
)
from .._validation import VALUELIST
from .base import iris_property
from .client_metadata import ClientMetadata

if TYPE_CHECKING:
    from .client import Client


class Deprecated:
    """A deprecated IRIS property that reads and writes through to the client metadata that replaced it.

    The metadata value wins; the IRIS column keeps the nearest deprecated value for SQL readers (synced on save).
    """

    def __init__(
        self,
        column_key: str,
        replacement: str,
        valuelist: tuple[str, ...],
        read: Callable[[ClientMetadata], str | None],
        write: Callable[[ClientMetadata, str | None], None],
    ) -> None:
        self.column_key = column_key
        self.replacement = replacement
        self.valuelist = valuelist
        self.read = read
        self.write = write

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def _warn(self) -> None:
        warnings.warn(
            f"Client.{self.name} is deprecated (as in IRIS): use client_metadata.{self.replacement}",
            DeprecationWarning,
            stacklevel=3,
        )

    @overload
    def __get__(self, instance: None, owner: type) -> Deprecated: ...
    @overload
    def __get__(self, instance: Client, owner: type) -> str | None: ...
    def __get__(self, instance: Client | None, owner: type) -> Deprecated | str | None:
        if instance is None:
            return self
        self._warn()
        return self.current(instance)

    def __set__(self, instance: Client, value: str | None) -> None:
        self._warn()
        value = value or None
        if value is not None and value not in self.valuelist:
            allowed = ", ".join(self.valuelist)
            problem = Problem(self.name, f"must be one of {allowed} (got {value!r})", VALUELIST)
            raise ValidationError(instance.kind, instance.application_name, [problem])
        self.write(instance.client_metadata, value)
        setattr(instance, self.column_key, value)

    def current(self, client: Client) -> str | None:
        """The deprecated value the metadata implies; None when it has no deprecated equivalent."""
        value = self.read(client.client_metadata) if client.client_metadata is not None else None
        return value if value in self.valuelist else None


def set_method(metadata: ClientMetadata, value: str | None) -> None:
    metadata.token_endpoint_auth_method = AUTHENTICATION_TYPE_TO_METHOD[value] if value else None


def set_signing(metadata: ClientMetadata, value: str | None) -> None:
    metadata.token_endpoint_auth_signing_alg = value
    metadata.request_object_signing_alg = value


_ENCRYPTED = ("id_token", "userinfo", "access_token")


def set_key_algorithm(metadata: ClientMetadata, value: str | None) -> None:
    for member in _ENCRYPTED:
        setattr(metadata, f"{member}_encrypted_response_alg", value)
    metadata.request_object_encryption_alg = value


def set_encryption(metadata: ClientMetadata, value: str | None) -> None:
    for member in _ENCRYPTED:
        setattr(metadata, f"{member}_encrypted_response_enc", value)
    metadata.request_object_encryption_enc = value


class DeprecatedProperties:
    """The deprecated IRIS properties of `Client`: their columns, and the read-through attributes over them."""

    _authentication_type: Mapped[str | None] = iris_property(
        "AuthenticationType", valuelist=tuple(AuthenticationType), initial=AuthenticationType.BASIC
    )
    _signing_algorithm: Mapped[str | None] = iris_property(
        "SigningAlgorithm", valuelist=tuple(DeprecatedSigningAlgorithm)
    )
    _encryption_algorithm: Mapped[str | None] = iris_property(
        "EncryptionAlgorithm", valuelist=tuple(DeprecatedEncryptionAlgorithm)
    )
    _key_algorithm: Mapped[str | None] = iris_property("KeyAlgorithm", valuelist=tuple(DeprecatedKeyAlgorithm))

    #: Deprecated IRIS `AuthenticationType`: basic <-> client_secret_basic, body <-> client_secret_post, ...
    authentication_type = Deprecated(
        "_authentication_type",
        "token_endpoint_auth_method",
        tuple(AuthenticationType),
        lambda m: METHOD_TO_AUTHENTICATION_TYPE.get(m.token_endpoint_auth_method or ""),
        set_method,
    )
    #: Deprecated IRIS `SigningAlgorithm` <-> token_endpoint_auth_signing_alg (and request_object_signing_alg).
    signing_algorithm = Deprecated(
        "_signing_algorithm",
        "token_endpoint_auth_signing_alg",
        tuple(DeprecatedSigningAlgorithm),
        lambda m: m.token_endpoint_auth_signing_alg,
        set_signing,
    )
    #: Deprecated IRIS `EncryptionAlgorithm` <-> the *_encrypted_response_enc members.
    encryption_algorithm = Deprecated(
        "_encryption_algorithm",
        "id_token_encrypted_response_enc",
        tuple(DeprecatedEncryptionAlgorithm),
        lambda m: m.id_token_encrypted_response_enc,
        set_encryption,
    )
    #: Deprecated IRIS `KeyAlgorithm` <-> the *_encrypted_response_alg members.
    key_algorithm = Deprecated(
        "_key_algorithm",
        "id_token_encrypted_response_alg",
        tuple(DeprecatedKeyAlgorithm),
        lambda m: m.id_token_encrypted_response_alg,
        set_key_algorithm,
    )

    def sync_deprecated_columns(self) -> None:
        """Write into each deprecated column the value its client metadata implies (called before a save)."""
        for prop in (
            DeprecatedProperties.authentication_type,
            DeprecatedProperties.signing_algorithm,
            DeprecatedProperties.encryption_algorithm,
            DeprecatedProperties.key_algorithm,
        ):
            setattr(self, prop.column_key, prop.current(cast("Client", self)))

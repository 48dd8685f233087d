"""OAuth2.Client.Metadata: the client's registration metadata (RFC 7591 §2, OpenID Connect Registration §2).

IRIS keeps 42 members; 40 are columns here, under their RFC names. `client_id` and `client_secret` are the
Client's own properties (one place for each value), not copies in this row. IRIS sets 13 algorithm defaults on a
new client: the signing algorithms default to RS256 and the encryption ones to "none"; `token_endpoint_auth_method`
follows the deprecated AuthenticationType's default, basic -> client_secret_basic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from .._errors import Problem, ValidationError
from .._types import (
    CONTENT_ENCRYPTION_ALGORITHMS,
    KEY_MANAGEMENT_ALGORITHMS,
    SIGNING_ALGORITHMS,
    TokenEndpointAuthMethod,
)
from .._validation import Kind
from ._validated import Validated
from .base import Base, iris_property

if TYPE_CHECKING:
    from .client import Client

_SIGNED_OR_NONE = ("none", *SIGNING_ALGORITHMS)


def _text(name: str, **rules: Any) -> Any:
    return iris_property(name, Kind.STRING, **rules)


def _uri(name: str) -> Any:
    return iris_property(name, Kind.URI)


def _list(name: str) -> Any:
    return iris_property(name, Kind.LIST)


def _uris(name: str) -> Any:
    return iris_property(name, Kind.URI_LIST)


def _alg(name: str, values: tuple[str, ...], initial: str) -> Any:
    return iris_property(name, Kind.STRING, valuelist=values, initial=initial)


class ClientMetadata(Validated, Base):
    """IRIS OAuth2.Client.Metadata, one row per client, deleted with it."""

    __tablename__ = "OAuth2_Client_Metadata"
    kind = "ClientMetadata"

    application_name: Mapped[str] = mapped_column(
        "ApplicationName", ForeignKey("OAuth2_Client.ApplicationName", ondelete="CASCADE"), primary_key=True
    )
    client: Mapped[Client] = relationship(back_populates="client_metadata")

    application_type: Mapped[str | None] = _text("application_type")
    client_name: Mapped[str | None] = _text("client_name")
    subject_type: Mapped[str | None] = _text("subject_type")
    #: IRIS keeps this free text; only the OIDC Core §9 methods are accepted, since no other can be used.
    token_endpoint_auth_method: Mapped[str | None] = _text(
        "token_endpoint_auth_method",
        valuelist=tuple(TokenEndpointAuthMethod),
        initial=TokenEndpointAuthMethod.CLIENT_SECRET_BASIC,
    )

    client_uri: Mapped[str | None] = _uri("client_uri")
    initiate_login_uri: Mapped[str | None] = _uri("initiate_login_uri")
    jwks_uri: Mapped[str | None] = _uri("jwks_uri")
    logo_uri: Mapped[str | None] = _uri("logo_uri")
    policy_uri: Mapped[str | None] = _uri("policy_uri")
    tos_uri: Mapped[str | None] = _uri("tos_uri")
    sector_identifier_uri: Mapped[str | None] = _uri("sector_identifier_uri")
    frontchannel_logout_uri: Mapped[str | None] = _uri("frontchannel_logout_uri")
    #: RFC 7592 client configuration endpoint; written by registration.
    registration_client_uri: Mapped[str | None] = _uri("registration_client_uri")

    contacts: Mapped[list[str] | None] = _list("contacts")
    default_acr_values: Mapped[list[str] | None] = _list("default_acr_values")
    grant_types: Mapped[list[str] | None] = _list("grant_types")
    response_types: Mapped[list[str] | None] = _list("response_types")
    post_logout_redirect_uris: Mapped[list[str] | None] = _uris("post_logout_redirect_uris")
    redirect_uris: Mapped[list[str] | None] = _uris("redirect_uris")
    request_uris: Mapped[list[str] | None] = _uris("request_uris")

    #: Epoch seconds; written by registration.
    client_id_issued_at: Mapped[int | None] = iris_property("client_id_issued_at", Kind.INTEGER, minval=0)
    #: Epoch seconds, 0 = never; written by registration.
    client_secret_expires_at: Mapped[int | None] = iris_property("client_secret_expires_at", Kind.INTEGER, minval=0)
    default_max_age: Mapped[int | None] = iris_property("default_max_age", Kind.INTEGER, minval=0)
    frontchannel_logout_session_required: Mapped[bool | None] = iris_property(
        "frontchannel_logout_session_required", Kind.BOOLEAN
    )
    require_auth_time: Mapped[bool | None] = iris_property("require_auth_time", Kind.BOOLEAN)
    #: The client's public JWKS as sent in registration; written by RotateKeys.
    jwks: Mapped[dict[str, Any] | None] = iris_property("jwks", Kind.JSON)
    #: RFC 7592 bearer token for managing the registration. Secret.
    registration_access_token: Mapped[str | None] = _text("registration_access_token", secret=True)

    access_token_signed_response_alg: Mapped[str | None] = _alg(
        "access_token_signed_response_alg", _SIGNED_OR_NONE, "RS256"
    )
    access_token_encrypted_response_alg: Mapped[str | None] = _alg(
        "access_token_encrypted_response_alg", KEY_MANAGEMENT_ALGORITHMS, "none"
    )
    access_token_encrypted_response_enc: Mapped[str | None] = _alg(
        "access_token_encrypted_response_enc", CONTENT_ENCRYPTION_ALGORITHMS, "none"
    )
    id_token_signed_response_alg: Mapped[str | None] = _alg("id_token_signed_response_alg", SIGNING_ALGORITHMS, "RS256")
    id_token_encrypted_response_alg: Mapped[str | None] = _alg(
        "id_token_encrypted_response_alg", KEY_MANAGEMENT_ALGORITHMS, "none"
    )
    id_token_encrypted_response_enc: Mapped[str | None] = _alg(
        "id_token_encrypted_response_enc", CONTENT_ENCRYPTION_ALGORITHMS, "none"
    )
    request_object_signing_alg: Mapped[str | None] = _alg("request_object_signing_alg", _SIGNED_OR_NONE, "RS256")
    request_object_encryption_alg: Mapped[str | None] = _alg(
        "request_object_encryption_alg", KEY_MANAGEMENT_ALGORITHMS, "none"
    )
    request_object_encryption_enc: Mapped[str | None] = _alg(
        "request_object_encryption_enc", CONTENT_ENCRYPTION_ALGORITHMS, "none"
    )
    token_endpoint_auth_signing_alg: Mapped[str | None] = _alg(
        "token_endpoint_auth_signing_alg", SIGNING_ALGORITHMS, "RS256"
    )
    userinfo_signed_response_alg: Mapped[str | None] = _alg("userinfo_signed_response_alg", _SIGNED_OR_NONE, "RS256")
    userinfo_encrypted_response_alg: Mapped[str | None] = _alg(
        "userinfo_encrypted_response_alg", KEY_MANAGEMENT_ALGORITHMS, "none"
    )
    userinfo_encrypted_response_enc: Mapped[str | None] = _alg(
        "userinfo_encrypted_response_enc", CONTENT_ENCRYPTION_ALGORITHMS, "none"
    )

    @property
    def identity(self) -> object:
        return self.client.application_name if self.client is not None else None

    def before_save(self, session: Session) -> None:
        # Cross-field rules read both rows (auth method vs secret, grant types vs redirect), so the owner checks; a
        # changed key first, since loading the owner would query by it.
        changed = self.key_problems()
        if changed:
            raise ValidationError(self.kind, None, changed)
        if self.client is None:
            raise ValidationError(self.kind, None, [Problem("client", "is required", 5659)])
        self.client.before_save(session)

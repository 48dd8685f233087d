"""OAuth2.Server.Metadata: the authorization server's metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2).

All 44 members IRIS keeps: 12 URLs, 26 lists and 6 flags, under their RFC names as column names, plus the three
that signing users in needs (RFC 9126 pushed authorization requests, RFC 9207 `iss` in authorization responses).
None has a VALUELIST. IRIS stores this object in its own row referenced by `ServerDefinition.Metadata`; here the
row is keyed by its server definition and deleted with it (ON DELETE CASCADE).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from .._errors import Problem, ValidationError
from .._validation import Kind
from ._validated import Validated
from .base import Base, iris_property

if TYPE_CHECKING:
    from .server_definition import ServerDefinition


def _uri(name: str) -> Any:
    return iris_property(name, Kind.URI)


def _list(name: str) -> Any:
    return iris_property(name, Kind.LIST)


def _flag(name: str) -> Any:
    return iris_property(name, Kind.BOOLEAN)


class ServerMetadata(Validated, Base):
    """IRIS OAuth2.Server.Metadata, one row per server definition."""

    __tablename__ = "OAuth2_Server_Metadata"
    kind = "ServerMetadata"

    server_definition_id: Mapped[int] = mapped_column(
        "ServerDefinition", ForeignKey("OAuth2_ServerDefinition.ID", ondelete="CASCADE"), primary_key=True
    )
    server_definition: Mapped[ServerDefinition] = relationship(back_populates="server_metadata")

    issuer: Mapped[str | None] = _uri("issuer")
    authorization_endpoint: Mapped[str | None] = _uri("authorization_endpoint")
    token_endpoint: Mapped[str | None] = _uri("token_endpoint")
    userinfo_endpoint: Mapped[str | None] = _uri("userinfo_endpoint")
    jwks_uri: Mapped[str | None] = _uri("jwks_uri")
    registration_endpoint: Mapped[str | None] = _uri("registration_endpoint")
    introspection_endpoint: Mapped[str | None] = _uri("introspection_endpoint")
    revocation_endpoint: Mapped[str | None] = _uri("revocation_endpoint")
    end_session_endpoint: Mapped[str | None] = _uri("end_session_endpoint")
    service_documentation: Mapped[str | None] = _uri("service_documentation")
    op_policy_uri: Mapped[str | None] = _uri("op_policy_uri")
    op_tos_uri: Mapped[str | None] = _uri("op_tos_uri")

    scopes_supported: Mapped[list[str] | None] = _list("scopes_supported")
    response_types_supported: Mapped[list[str] | None] = _list("response_types_supported")
    response_modes_supported: Mapped[list[str] | None] = _list("response_modes_supported")
    grant_types_supported: Mapped[list[str] | None] = _list("grant_types_supported")
    acr_values_supported: Mapped[list[str] | None] = _list("acr_values_supported")
    subject_types_supported: Mapped[list[str] | None] = _list("subject_types_supported")
    id_token_signing_alg_values_supported: Mapped[list[str] | None] = _list("id_token_signing_alg_values_supported")
    id_token_encryption_alg_values_supported: Mapped[list[str] | None] = _list(
        "id_token_encryption_alg_values_supported"
    )
    id_token_encryption_enc_values_supported: Mapped[list[str] | None] = _list(
        "id_token_encryption_enc_values_supported"
    )
    userinfo_signing_alg_values_supported: Mapped[list[str] | None] = _list("userinfo_signing_alg_values_supported")
    userinfo_encryption_alg_values_supported: Mapped[list[str] | None] = _list(
        "userinfo_encryption_alg_values_supported"
    )
    userinfo_encryption_enc_values_supported: Mapped[list[str] | None] = _list(
        "userinfo_encryption_enc_values_supported"
    )
    request_object_signing_alg_values_supported: Mapped[list[str] | None] = _list(
        "request_object_signing_alg_values_supported"
    )
    request_object_encryption_alg_values_supported: Mapped[list[str] | None] = _list(
        "request_object_encryption_alg_values_supported"
    )
    request_object_encryption_enc_values_supported: Mapped[list[str] | None] = _list(
        "request_object_encryption_enc_values_supported"
    )
    token_endpoint_auth_methods_supported: Mapped[list[str] | None] = _list("token_endpoint_auth_methods_supported")
    token_endpoint_auth_signing_alg_values_supported: Mapped[list[str] | None] = _list(
        "token_endpoint_auth_signing_alg_values_supported"
    )
    display_values_supported: Mapped[list[str] | None] = _list("display_values_supported")
    claim_types_supported: Mapped[list[str] | None] = _list("claim_types_supported")
    claims_supported: Mapped[list[str] | None] = _list("claims_supported")
    claims_locales_supported: Mapped[list[str] | None] = _list("claims_locales_supported")
    ui_locales_supported: Mapped[list[str] | None] = _list("ui_locales_supported")
    code_challenge_methods_supported: Mapped[list[str] | None] = _list("code_challenge_methods_supported")
    access_token_signing_alg_values_supported: Mapped[list[str] | None] = _list(
        "access_token_signing_alg_values_supported"
    )
    access_token_encryption_alg_values_supported: Mapped[list[str] | None] = _list(
        "access_token_encryption_alg_values_supported"
    )
    access_token_encryption_enc_values_supported: Mapped[list[str] | None] = _list(
        "access_token_encryption_enc_values_supported"
    )

    claims_parameter_supported: Mapped[bool | None] = _flag("claims_parameter_supported")
    request_parameter_supported: Mapped[bool | None] = _flag("request_parameter_supported")
    request_uri_parameter_supported: Mapped[bool | None] = _flag("request_uri_parameter_supported")
    require_request_uri_registration: Mapped[bool | None] = _flag("require_request_uri_registration")
    frontchannel_logout_supported: Mapped[bool | None] = _flag("frontchannel_logout_supported")
    frontchannel_logout_session_supported: Mapped[bool | None] = _flag("frontchannel_logout_session_supported")

    # Beyond IRIS: what signing users in needs to know (RFC 9126 §5, RFC 9207 §3).
    pushed_authorization_request_endpoint: Mapped[str | None] = _uri("pushed_authorization_request_endpoint")
    require_pushed_authorization_requests: Mapped[bool | None] = _flag("require_pushed_authorization_requests")
    authorization_response_iss_parameter_supported: Mapped[bool | None] = _flag(
        "authorization_response_iss_parameter_supported"
    )

    @property
    def identity(self) -> object:
        return self.server_definition.issuer_endpoint if self.server_definition is not None else None

    def before_save(self, session: Session) -> None:
        # Its rules involve the owner (issuer equality, required endpoints), so the owner validates it; a changed
        # key first, since loading the owner would query by it.
        changed = self.key_problems()
        if changed:
            raise ValidationError(self.kind, None, changed)
        if self.server_definition is None:
            raise ValidationError(self.kind, None, [Problem("server_definition", "is required", 5659)])
        self.server_definition.before_save(session)

    @classmethod
    def member_kinds(cls) -> dict[str, Kind]:
        """Every member's RFC name and kind (URL, list or flag): what discovery may store."""
        return {name: rules.kind for name, (_key, rules) in cls.property_rules().items()}

    def to_dict(self) -> dict[str, Any]:
        """The members that have a value, as a discovery document would carry them."""
        members = self.property_rules()
        return {
            name: value for name, (key, _r) in members.items() if (value := getattr(self, key)) not in (None, "", [])
        }

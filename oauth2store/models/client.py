"""OAuth2.Client: a client application's definition, keyed by its ApplicationName (the IRIS IdKey).

Cross-field rules from the class reference, with the deliberate deviations a client-credentials service needs:
- `client_id` is required for every client type, except before dynamic registration: while the server definition
  offers a registration endpoint, a client may be saved without one (IRIS saves before it registers, too).
- `client_secret` is required for confidential and resource clients, except before registration (as above) and
  for clients that authenticate without a secret (`private_key_jwt`, `none`).
- `redirection_endpoint` is required for public and confidential clients, except for clients whose metadata
  `grant_types` lists no redirect-based grant (e.g. only `client_credentials`): they are never redirected to.

The client's own key pairs (IRIS keeps a private and a public JWKS on the client) are rows of OAuth2_ClientKey
(`keys`), made only by `RotateKeys`; `published_jwks` is what to publish, `oauth2store.signing_key` what signs. Secret
properties (`client_secret`, `client_password`) are encrypted at rest like every `secret=True` column.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from types import EllipsisType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, event, select
from sqlalchemy.orm import Mapped, Session, composite, mapped_column, object_session, relationship
from sqlalchemy.orm.attributes import get_history

from .._errors import DuplicateError, NotFoundError, Problem
from .._queries import ListQuery
from .._tokens import introspect_token, revoke_token
from .._types import (
    ClientType,
)
from .._validation import Kind
from ._client_config import client_config
from ._client_keys import DEFAULT_PUBLICATION_DELAY, DEFAULT_RETENTION, published_jwks_at, rotate_keys
from ._client_rules import client_problems, stale_tokens
from ._definition_version import new_definition_version
from ._deprecated import DeprecatedProperties
from ._flush import index_of
from ._references import missing_reference
from ._registration import delete_registration, read_registration, register_client, update_registration
from ._validate_jwt import validate_client_jwt
from ._validated import Validated
from .access_token import AccessToken
from .base import Base, iris_property
from .client_key import ClientKey
from .client_metadata import ClientMetadata
from .endpoint import Endpoint, endpoint_or_none
from .server_definition import ServerDefinition
from .ssl_configuration import SSLConfiguration, transport_for
from .x509_credentials import X509Credentials

if TYPE_CHECKING:
    from .._http.transport import Transport


def _renamed(old: str, new: str) -> None:
    warnings.warn(f"Client.{old} is deprecated: use Client.{new} (renamed)", DeprecationWarning, stacklevel=3)


class Client(DeprecatedProperties, Validated, Base):
    """IRIS OAuth2.Client: one client application (client + authorization server) configuration."""

    __tablename__ = "OAuth2_Client"
    kind = "Client"

    #: IRIS `ApplicationName` (IdKey): the client's name, chosen by the user; it cannot change once saved.
    application_name: Mapped[str] = iris_property(
        "ApplicationName", required=True, minlen=1, maxlen=128, primary_key=True
    )
    #: IRIS `ClientType`: public, confidential, or resource (a resource server that is not also a client).
    client_type: Mapped[str] = iris_property("ClientType", required=True, valuelist=tuple(ClientType))
    #: IRIS `ClientId`: issued at registration.
    client_id: Mapped[str | None] = iris_property("ClientId")
    #: IRIS `ClientSecret`: issued at registration. Secret.
    client_secret: Mapped[str | None] = iris_property("ClientSecret", secret=True)
    #: IRIS `ClientCredentials`: alias of the X509Credentials holding the client's certificate and private key.
    client_credentials: Mapped[str | None] = iris_property(
        "ClientCredentials", Kind.STRING, ForeignKey("OAuth2_X509Credentials.Alias"), maxlen=64
    )
    #: IRIS `ClientPassword`: password of the private key in `client_credentials`. Secret.
    client_password: Mapped[str | None] = iris_property("ClientPassword", maxlen=128, secret=True)
    #: IRIS `DefaultScope`: blank-separated scope for token requests.
    default_scope: Mapped[str | None] = iris_property("DefaultScope")
    #: IRIS `Description`.
    description: Mapped[str | None] = iris_property("Description", maxlen=256)
    #: IRIS `Enabled`: a disabled client gets no tokens.
    enabled: Mapped[bool] = iris_property("Enabled", Kind.BOOLEAN, required=True, initial=True)
    #: IRIS `AcceptNonStandardImplicitIdToken`.
    accept_non_standard_implicit_id_token: Mapped[bool] = iris_property(
        "AcceptNonStandardImplicitIdToken", Kind.BOOLEAN, required=True, initial=False
    )
    #: IRIS `JWTAudience` as stored (IRIS `JWTAudienceGetStored`); read `jwt_audience` for the effective value.
    _jwt_audience: Mapped[str | None] = iris_property("JWTAudience", maxlen=256)
    #: IRIS `JWTInterval`: lifetime in seconds of client-authentication JWTs.
    jwt_interval: Mapped[int] = iris_property("JWTInterval", Kind.INTEGER, required=True, minval=1, initial=60)
    #: IRIS `SSLConfiguration`: the TLS configuration for requests to the authorization server.
    ssl_configuration: Mapped[str] = iris_property(
        "SSLConfiguration",
        Kind.STRING,
        ForeignKey("OAuth2_SSLConfiguration.Name"),
        required=True,
        minlen=1,
        maxlen=64,
        initial="default",
    )
    #: IRIS `ServerDefinition` (its ID): the authorization server this client uses.
    server_definition_id: Mapped[int] = mapped_column(
        "ServerDefinition", ForeignKey("OAuth2_ServerDefinition.ID", ondelete="RESTRICT"), index=True
    )
    server_definition: Mapped[ServerDefinition] = relationship(back_populates="clients", lazy="joined")
    #: Changes with every change to the definition (see `_definition_version`): not an IRIS property.
    definition_version: Mapped[str] = mapped_column(
        "DefinitionVersion", String(32), nullable=False, default=new_definition_version, server_default="0"
    )
    #: IRIS `RedirectionEndpoint`: where the authorization server returns authorization responses.
    redirection_endpoint: Mapped[Endpoint | None] = composite(
        mapped_column("RedirectionEndpoint_Host", Text(), nullable=True),
        mapped_column("RedirectionEndpoint_Port", Integer(), nullable=True),
        mapped_column("RedirectionEndpoint_Prefix", Text(), nullable=True),
        mapped_column("RedirectionEndpoint_UseSSL", Boolean(create_constraint=False), nullable=True),
    )
    # Never read: they tell the unit of work to insert a named configuration before the client that names it.
    _ssl_configuration_row: Mapped[SSLConfiguration] = relationship(lazy="raise")
    _client_credentials_row: Mapped[X509Credentials | None] = relationship(lazy="raise")
    #: IRIS `Metadata` (IRIS's name is reserved by SQLAlchemy, hence the prefix).
    client_metadata: Mapped[ClientMetadata] = relationship(
        back_populates="client", cascade="all, delete-orphan", lazy="joined"
    )
    #: The client's stored tokens (IRIS OAuth2.AccessToken rows with this ApplicationName).
    access_tokens: Mapped[list[AccessToken]] = relationship(back_populates="client", cascade="all, delete-orphan")
    #: The client's own key pairs (IRIS's private and public JWKS), written by RotateKeys; deleted with the client.
    keys: Mapped[list[ClientKey]] = relationship(
        back_populates="client",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="select",  # when first touched: Open is one SELECT, and few callers sign with the client's keys
        order_by=ClientKey.id,
    )
    #: The X509Credentials that `client_credentials` names (read-only; set `client_credentials` to change it).
    #: Joined into Open's SELECT (no extra round trip): a detached client signs with its credentials' key.
    x509_credentials: Mapped[X509Credentials | None] = relationship(lazy="joined", viewonly=True)

    def __init__(self, **values: Any) -> None:
        # The metadata goes first, so the deprecated properties have somewhere to write.
        metadata = values.pop("client_metadata", None) or ClientMetadata()
        super().__init__(client_metadata=metadata, **values)

    @property
    def jwt_audience(self) -> str | None:
        """IRIS `JWTAudienceGet`: the stored audience, or for older definitions the server's issuer."""
        if self._jwt_audience:
            return self._jwt_audience
        return self.server_definition.issuer_endpoint if self.server_definition is not None else None

    @jwt_audience.setter
    def jwt_audience(self, value: str | None) -> None:
        self._jwt_audience = value

    @property
    def is_awaiting_registration(self) -> bool:
        """True while the client has no client_id and its server offers dynamic registration."""
        server = self.server_definition
        return not self.client_id and bool(
            server is not None and server.server_metadata is not None and server.server_metadata.registration_endpoint
        )

    @property
    def published_jwks(self) -> dict[str, Any]:
        """The client's own public JWKS now: publish it at the client's jwks_uri or send it in a registration.

        Pure (no I/O): see `published_jwks_at`. Not the server's JWKS (that is `server_definition.public_jwks`).
        """
        return published_jwks_at(self, datetime.now(UTC))

    def published_jwks_at(self, now: datetime) -> dict[str, Any]:
        """The public parts of the keys published at `now`: published, active, and retired within their retention.

        With `client_credentials`, the certificate's key (with `x5c`) instead, as IRIS JWKSFromCredentials.
        """
        return published_jwks_at(self, now)

    @property
    def public_jwks(self) -> dict[str, Any]:
        """Deprecated name of `published_jwks` (kept for one release)."""
        _renamed("public_jwks", "published_jwks")
        return self.published_jwks

    def public_jwks_at(self, now: datetime) -> dict[str, Any]:
        """Deprecated name of `published_jwks_at` (kept for one release)."""
        _renamed("public_jwks_at", "published_jwks_at")
        return self.published_jwks_at(now)

    def RotateKeys(
        self,
        now: datetime | None = None,
        *,
        publication_delay: timedelta = DEFAULT_PUBLICATION_DELAY,
        retention: timedelta = DEFAULT_RETENTION,
    ) -> list[ClientKey]:
        """Add a new key pair to the client's JWKS and save it (IRIS `RotateKeys`); returns the new keys.

        One signing key for `client_metadata.token_endpoint_auth_signing_alg` (RS256 by default; RS*, PS*, ES*),
        and one encryption key per RSA algorithm the `*_encrypted_response_alg` members ask for (RSA-OAEP; RSA1_5
        only when a member names it). Every key is published at once; it becomes active (signs) `now` when the
        client has no active key of its use, else after `publication_delay`, so servers caching the client's JWKS
        see it before it is used. Keys retired for longer than `retention` are dropped (the active key never is),
        and `client_metadata.jwks` is set to the new public JWKS.

        With `client_credentials` set, the key comes from that certificate and nothing changes (as IRIS).
        In a session, the keys are flushed (committed with the session's transaction); the metadata row is locked
        first, so concurrent rotations of one client keep every key. On SQLite, rotate inside
        `store.session(write=True)` so that two processes queue instead of one failing on a stale snapshot.

        Raises:
            KeyMaterialError: the signing algorithm is not a key-pair algorithm (HS* signs with the secret).
            ValidationError: `retention` is not longer than `jwt_interval` plus `publication_delay`.
        """
        return rotate_keys(self, now, publication_delay=publication_delay, retention=retention)

    def before_save(self, session: Session) -> None:
        super().before_save(session)
        for token in stale_tokens(self):
            session.delete(token)

    def cross_field_problems(self) -> list[Problem]:
        return client_problems(self)

    def normalize(self) -> None:
        super().normalize()
        if self.client_metadata is not None:
            self.client_metadata.normalize()
            self.sync_deprecated_columns()

    def reference_problems(self, session: Session) -> list[Problem]:
        found = missing_reference(session, "ssl_configuration", SSLConfiguration, self.ssl_configuration) + (
            missing_reference(session, "client_credentials", X509Credentials, self.client_credentials)
        )
        server = self.server_definition
        if get_history(self, "server_definition_id").added and (
            server is None or server.id != self.server_definition_id
        ):
            # The ID written directly, not through `server_definition`: it must name a stored definition.
            found += missing_reference(session, "server_definition_id", ServerDefinition, self.server_definition_id)
        return found

    def check_unique(self, session: Session) -> None:
        index = index_of(session)
        stored = index.stored(Client, self.application_name)
        if (stored is not None and stored is not self) or index.new_count(Client, self.application_name) > 1:
            raise DuplicateError(self.kind, self.application_name, "application_name")

    def introspect(self, token: str, *, allow_insecure_http: bool = False) -> dict[str, Any]:
        """RFC 7662 introspection of `token` at the server, authenticated as this client (IRIS GetIntrospection).

        Raises:
            OAuthServerError, TransportError, ProtocolError, ClientNotUsableError.
        """
        session = self._session()
        transport = self._transport(session, allow_insecure_http)
        return introspect_token(client_config(session, self), transport, token, time.time())

    def _transport(self, session: Session, allow_insecure_http: bool) -> Transport:
        """A transport to this client's server, with the client's TLS configuration."""
        issuer = self.server_definition.issuer_endpoint
        return transport_for(session, self.ssl_configuration, allow_insecure_http=allow_insecure_http, issuer=issuer)

    def revoke(self, token: str, *, allow_insecure_http: bool = False) -> None:
        """RFC 7009 revocation of `token`; its stored rows are deleted, so no cache hands it out again (IRIS
        RevokeToken).

        Raises:
            OAuthServerError, TransportError, ProtocolError, ClientNotUsableError.
        """
        session = self._session()
        transport = self._transport(session, allow_insecure_http)
        revoke_token(client_config(session, self), transport, token, time.time())
        AccessToken.delete_token(session, self.application_name, token)

    def RefreshJWKS(
        self, force: bool = False, save: bool = True, *, allow_insecure_http: bool = False, now: float | None = None
    ) -> bool:
        """Fetch the server's public JWKS if the cached one has expired, or always with `force` (IRIS RefreshJWKS).

        The cache lives on the server definition, shared by all its clients. Returns True when the JWKS changed;
        False when the cached one is still valid, or the server has no `jwks_uri`. `save` flushes the change.

        Raises:
            JWKSError, TransportError, ProtocolError, InsecureEndpointError: nothing cached was changed.
        """
        return self.server_definition.RefreshJWKS(force, save, allow_insecure_http=allow_insecure_http, now=now)

    def validate_jwt(
        self,
        token: str,
        *,
        audience: str | EllipsisType | None = ...,
        algorithms: Collection[str] | None = None,
        token_type: str = "access_token",  # noqa: S107 - a token kind, not a password
        leeway: float = 60.0,
        now: float | None = None,
        allow_insecure_http: bool = False,
    ) -> dict[str, Any]:
        """The claims of a JWT (access token or ID token) from this client's server, once every check passed.

        Checks the signature with the server's JWKS (refreshed when expired, and once for an unknown `kid`), the
        algorithm against `client_metadata.<token_type>_signed_response_alg` (or `algorithms`), and `exp`
        (required), `nbf`, `iat`, `iss` and `aud` with `leeway` seconds. `audience` defaults to this client's
        `client_id`; None skips the audience check. IRIS `ValidateJWT`.

        Never flushes the session: a refreshed JWKS is set on the server definition and saved with your commit.

        Raises:
            JWTValidationError: its `check` names what failed.
        """
        moment = time.time() if now is None else now
        return validate_client_jwt(
            self,
            token,
            audience=audience,
            algorithms=algorithms,
            token_type=token_type,
            leeway=leeway,
            now=moment,
            allow_insecure_http=allow_insecure_http,
        )

    def register(self, *, allow_insecure_http: bool = False) -> dict[str, Any]:
        """Register this client at its server's registration endpoint (RFC 7591; IRIS RegisterClient).

        Stores client_id, client_secret, the registration access token and URI and the metadata as the server
        accepted it, all or nothing; returns the server's answer without its secrets.
        See `oauth2store.models._registration.register_client` for the request and the errors.
        """
        return register_client(self._session(), self, allow_insecure_http=allow_insecure_http)

    def read_registration(self, *, allow_insecure_http: bool = False) -> dict[str, Any]:
        """Read the registration back (RFC 7592 §2.1; IRIS ReadClient) and store the server's view of it."""
        return read_registration(self._session(), self, allow_insecure_http=allow_insecure_http)

    def update_registration(self, *, allow_insecure_http: bool = False) -> dict[str, Any]:
        """Send the stored metadata (and the current public keys) to the server (RFC 7592 §2.2; IRIS UpdateClient)."""
        return update_registration(self._session(), self, allow_insecure_http=allow_insecure_http)

    def delete_registration(self, *, allow_insecure_http: bool = False) -> None:
        """Delete the registration at the server (RFC 7592 §2.3) and clear it here, ready to register again."""
        delete_registration(self._session(), self, allow_insecure_http=allow_insecure_http)

    def _session(self) -> Session:
        session = object_session(self)
        if session is None:
            raise RuntimeError(f"Client {self.application_name!r} is not in a session (load it with Client.Open)")
        return session

    @classmethod
    def Open(cls, session: Session, application_name: str) -> Client | None:
        """The client with that application name, or None (IRIS `Open`).

        One SELECT loads what every caller reads: the client, its metadata, its server definition and the server's
        metadata (and the X.509 credentials it names, if any); its key pairs are loaded when first touched, in the
        session.
        """
        return session.get(cls, application_name)

    @classmethod
    def DeleteId(cls, session: Session, application_name: str) -> None:
        """Delete the client with its metadata, stored tokens and key pairs (IRIS `DeleteId`).

        Raises:
            NotFoundError: no client has that application name (IRIS #5809).
        """
        client = session.get(cls, application_name)
        if client is None:
            raise NotFoundError(cls.kind, application_name)
        session.delete(client)
        session.flush()

    @classmethod
    def List(cls, session: Session) -> ListQuery:
        """Rows of (application_name, client_type, default_scope) ordered by name (IRIS query `List`)."""
        return ListQuery(session, cls._list_statement(), cls.application_name)

    @classmethod
    def ListForServer(cls, session: Session, server_id: int) -> ListQuery:
        """The `List` rows of the clients of one server definition (IRIS query `ListForServer`)."""
        statement = cls._list_statement().where(cls.server_definition_id == server_id)
        return ListQuery(session, statement, cls.application_name)

    @classmethod
    def _list_statement(cls) -> Any:
        return select(cls.application_name, cls.client_type, cls.default_scope)


# A composite cannot hold anything but an Endpoint: refuse other values as the property's, not SQLAlchemy's, error.
event.listen(Client.redirection_endpoint, "set", endpoint_or_none, retval=True)

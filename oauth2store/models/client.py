"""OAuth2.Client: a client application's definition, keyed by its ApplicationName (the IRIS IdKey).

Cross-field rules from the class reference, with the deliberate deviations a client-credentials service needs:
- `client_id` is required for every client type, except before dynamic registration: while the server definition
  offers a registration endpoint, a client may be saved without one (IRIS saves before it registers, too).
- `client_secret` is required for confidential and resource clients, except before registration (as above) and
  for clients that authenticate without a secret (`private_key_jwt`, `none`).
- `redirection_endpoint` is required for public and confidential clients, except for clients whose metadata
  `grant_types` lists no redirect-based grant (e.g. only `client_credentials`): they are never redirected to.

The client's own key pairs (IRIS keeps a private and a public JWKS on the client) are rows of OAuth2_ClientKey
(`keys`), made only by `RotateKeys`; `public_jwks` is what to publish, `oauth2store.signing_key` what signs. Secret
properties (`client_secret`, `client_password`) are encrypted at rest like every `secret=True` column.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from types import EllipsisType
from typing import Any, overload

from sqlalchemy import Boolean, ForeignKey, Integer, Text, event, inspect, select, update
from sqlalchemy.orm import Mapped, Session, composite, mapped_column, object_session, relationship
from sqlalchemy.orm.attributes import get_history

from .. import _jwk as jwk
from .._errors import DuplicateError, KeyMaterialError, NotFoundError, Problem, ValidationError
from .._pem import load_certificates
from .._queries import ListQuery
from .._transport import same_origin
from .._types import (
    AUTHENTICATION_TYPE_TO_METHOD,
    METHOD_TO_AUTHENTICATION_TYPE,
    REDIRECT_GRANT_TYPES,
    AuthenticationType,
    ClientType,
    DeprecatedEncryptionAlgorithm,
    DeprecatedKeyAlgorithm,
    DeprecatedSigningAlgorithm,
    TokenEndpointAuthMethod,
)
from .._validation import VALUELIST, Kind, is_absolute_url
from .access_token import AccessToken
from .base import Base, Validated, iris_property, missing_reference
from .client_key import ClientKey, active_key
from .client_metadata import ClientMetadata
from .endpoint import Endpoint, endpoint_or_none
from .server_definition import ServerDefinition
from .ssl_configuration import SSLConfiguration, transport_for
from .x509_credentials import X509Credentials

_NO_SECRET_METHODS = frozenset({TokenEndpointAuthMethod.PRIVATE_KEY_JWT, TokenEndpointAuthMethod.NONE})

#: How long RotateKeys publishes a new key before it signs: longer than a server caches the client's JWKS.
DEFAULT_PUBLICATION_DELAY = timedelta(hours=1)
#: How long a retired key stays published: longer than `jwt_interval` plus the server's JWKS cache time.
DEFAULT_RETENTION = timedelta(days=1)
#: The metadata members asking for responses encrypted to the client's own key.
_ENCRYPTED_RESPONSE_MEMBERS = (
    "id_token_encrypted_response_alg",
    "userinfo_encrypted_response_alg",
    "access_token_encrypted_response_alg",
)


class _Deprecated:
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
    def __get__(self, instance: None, owner: type) -> _Deprecated: ...
    @overload
    def __get__(self, instance: Client, owner: type) -> str | None: ...
    def __get__(self, instance: Client | None, owner: type) -> _Deprecated | str | None:
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


def _set_method(metadata: ClientMetadata, value: str | None) -> None:
    metadata.token_endpoint_auth_method = AUTHENTICATION_TYPE_TO_METHOD[value] if value else None


def _set_signing(metadata: ClientMetadata, value: str | None) -> None:
    metadata.token_endpoint_auth_signing_alg = value
    metadata.request_object_signing_alg = value


_ENCRYPTED = ("id_token", "userinfo", "access_token")


def _set_key_algorithm(metadata: ClientMetadata, value: str | None) -> None:
    for member in _ENCRYPTED:
        setattr(metadata, f"{member}_encrypted_response_alg", value)
    metadata.request_object_encryption_alg = value


def _set_encryption(metadata: ClientMetadata, value: str | None) -> None:
    for member in _ENCRYPTED:
        setattr(metadata, f"{member}_encrypted_response_enc", value)
    metadata.request_object_encryption_enc = value


class Client(Validated, Base):
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
        "SSLConfiguration", Kind.STRING, ForeignKey("OAuth2_SSLConfiguration.Name"),
        required=True, minlen=1, maxlen=64, initial="default",
    )  # fmt: skip
    #: IRIS `ServerDefinition` (its ID): the authorization server this client uses.
    server_definition_id: Mapped[int] = mapped_column(
        "ServerDefinition", ForeignKey("OAuth2_ServerDefinition.ID", ondelete="RESTRICT"), index=True
    )
    server_definition: Mapped[ServerDefinition] = relationship(back_populates="clients", lazy="joined")
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
        back_populates="client", cascade="all, delete-orphan", passive_deletes=True, lazy="selectin",
        order_by=ClientKey.id,
    )  # fmt: skip
    #: The X509Credentials that `client_credentials` names (read-only; set `client_credentials` to change it).
    x509_credentials: Mapped[X509Credentials | None] = relationship(lazy="joined", viewonly=True)

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
    authentication_type = _Deprecated(
        "_authentication_type", "token_endpoint_auth_method", tuple(AuthenticationType),
        lambda m: METHOD_TO_AUTHENTICATION_TYPE.get(m.token_endpoint_auth_method or ""), _set_method,
    )  # fmt: skip
    #: Deprecated IRIS `SigningAlgorithm` <-> token_endpoint_auth_signing_alg (and request_object_signing_alg).
    signing_algorithm = _Deprecated(
        "_signing_algorithm", "token_endpoint_auth_signing_alg", tuple(DeprecatedSigningAlgorithm),
        lambda m: m.token_endpoint_auth_signing_alg, _set_signing,
    )  # fmt: skip
    #: Deprecated IRIS `EncryptionAlgorithm` <-> the *_encrypted_response_enc members.
    encryption_algorithm = _Deprecated(
        "_encryption_algorithm", "id_token_encrypted_response_enc", tuple(DeprecatedEncryptionAlgorithm),
        lambda m: m.id_token_encrypted_response_enc, _set_encryption,
    )  # fmt: skip
    #: Deprecated IRIS `KeyAlgorithm` <-> the *_encrypted_response_alg members.
    key_algorithm = _Deprecated(
        "_key_algorithm", "id_token_encrypted_response_alg", tuple(DeprecatedKeyAlgorithm),
        lambda m: m.id_token_encrypted_response_alg, _set_key_algorithm,
    )  # fmt: skip

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
            server is not None and server.server_metadata is not None
            and server.server_metadata.registration_endpoint
        )  # fmt: skip

    @property
    def public_jwks(self) -> dict[str, Any]:
        """The client's public JWKS now: publish it at the client's jwks_uri or send it in a registration.

        Pure (no I/O): see `public_jwks_at`.
        """
        return self.public_jwks_at(datetime.now(UTC))

    def public_jwks_at(self, now: datetime) -> dict[str, Any]:
        """The public parts of the keys published at `now`: published, active, and retired within their retention.

        With `client_credentials`, the certificate's key (with `x5c`) instead, as IRIS JWKSFromCredentials.
        """
        if self.client_credentials:
            return {"keys": [self._credentials_jwk()]} if self._credentials_jwk_available() else {"keys": []}
        return {"keys": [dict(k.public_jwk) for k in self.keys if not k.is_expired(self.keys, now)]}

    def _credentials_jwk_available(self) -> bool:
        credentials = self.x509_credentials
        return credentials is not None and credentials.alias == self.client_credentials

    def _credentials_jwk(self) -> dict[str, Any]:
        assert self.x509_credentials is not None
        certificates = load_certificates(self.x509_credentials.certificate)
        public_key = certificates[0].public_key()
        if not isinstance(public_key, jwk.PublicKey):
            raise KeyMaterialError(self.application_name, "the certificate's key is neither RSA nor EC")
        members: dict[str, Any] = jwk.public_jwk(public_key)
        members["kid"] = jwk.thumbprint(members)
        members["use"] = "sig"
        alg = self.client_metadata.token_endpoint_auth_signing_alg if self.client_metadata is not None else None
        if alg and jwk.algorithm_fits_key(alg, public_key):
            members["alg"] = alg
        members["x5c"] = list(jwk.x5c(certificates))
        return members

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
        if self.client_credentials:
            return []
        metadata = self.client_metadata
        signing_alg = metadata.token_endpoint_auth_signing_alg or "RS256"
        if not jwk.is_key_pair_signing_algorithm(signing_alg):
            raise KeyMaterialError(
                self.application_name,
                f"client_metadata.token_endpoint_auth_signing_alg {signing_alg} has no key pair to rotate "
                "(HS* algorithms sign with the client secret)",
            )
        if retention <= timedelta(seconds=self.jwt_interval or 0) + publication_delay:
            raise ValidationError(self.kind, self.application_name, [Problem(
                "retention", "must be longer than jwt_interval plus publication_delay (the server's JWKS cache time)"
            )])  # fmt: skip
        wanted = [("sig", signing_alg)]
        encryption = {getattr(metadata, member) for member in _ENCRYPTED_RESPONSE_MEMBERS}
        wanted += [("enc", alg) for alg in sorted(encryption & jwk.RSA_ENCRYPTION_ALGORITHMS)]
        # Generated before any lock is taken: RSA generation is the slow part (tens of milliseconds).
        generated = [(use, alg, jwk.generate_private_key(alg)) for use, alg in wanted]

        session = object_session(self)
        if session is not None and inspect(self).persistent:
            self._lock_for_rotation(session)
            session.refresh(self, ["keys"])  # keys other transactions committed while we generated
        now = now or datetime.now(UTC)
        created: list[ClientKey] = []
        for use, alg, private_key in generated:
            private_members: dict[str, Any] = jwk.private_jwk(private_key)
            public_members: dict[str, Any] = jwk.public_jwk(private_key.public_key())
            kid = jwk.thumbprint(public_members)
            public_members.update(kid=kid, use=use, alg=alg)
            private_members.update(kid=kid, use=use, alg=alg)
            current = active_key(self.keys, use, now)
            key = ClientKey(
                kid=kid, use=use, alg=alg,
                private_jwk=json.dumps(private_members, separators=(",", ":")),
                public_jwk=public_members, created=now,
                active_from=now if current is None else now + publication_delay,
                retention=int(retention.total_seconds()),
            )  # fmt: skip
            self.keys.append(key)
            created.append(key)
        for key in [k for k in self.keys if k.is_expired(self.keys, now)]:
            self.keys.remove(key)
        metadata.jwks = self.public_jwks_at(now)
        if session is not None:
            session.flush()
        return created

    def _lock_for_rotation(self, session: Session) -> None:
        """Serialize rotations of this client: a row lock on PostgreSQL, the write lock on SQLite."""
        statement = select(ClientMetadata.application_name).where(
            ClientMetadata.application_name == self.application_name
        )
        if session.get_bind().dialect.name == "sqlite":
            # A no-op write takes SQLite's single write lock for the rest of the transaction.
            session.execute(
                update(ClientMetadata)
                .where(ClientMetadata.application_name == self.application_name)
                .values(jwks=ClientMetadata.jwks)
                .execution_options(synchronize_session=False)
            )
        else:
            session.execute(statement.with_for_update())

    def normalize(self) -> None:
        super().normalize()
        if self.client_metadata is not None:
            self.client_metadata.normalize()
            for prop in (Client.authentication_type, Client.signing_algorithm, Client.encryption_algorithm,
                         Client.key_algorithm):  # fmt: skip
                setattr(self, prop.column_key, prop.current(self))

    def cross_field_problems(self) -> list[Problem]:
        found: list[Problem] = []
        metadata = self.client_metadata
        if metadata is None:
            return [Problem("client_metadata", "is required", 5659)]
        found += [Problem(f"client_metadata.{p.field}", p.message, p.code) for p in metadata.problems()]
        # Set to None (the flush would write NULL), or never set: either way the client has no server.
        unset = self.server_definition_id is None or bool(get_history(self, "server_definition").deleted)
        if self.server_definition is None and unset:
            found.append(Problem("server_definition", "is required", 5659))
        pending = self.is_awaiting_registration
        if not self.client_id and not pending:
            found.append(Problem("client_id", "is required for every client type (or register the client)", 5659))
        needs_secret = metadata.token_endpoint_auth_method not in _NO_SECRET_METHODS
        confidential = self.client_type in (ClientType.CONFIDENTIAL, ClientType.RESOURCE)
        if confidential and needs_secret and not self.client_secret and not pending:
            found.append(Problem(
                "client_secret",
                f"is required for a {self.client_type} client using {metadata.token_endpoint_auth_method}",
                5659,
            ))  # fmt: skip
        endpoint = self.redirection_endpoint
        if endpoint is not None:
            found += endpoint.problems("redirection_endpoint")
        found += self._registration_uri_problems()
        redirected = not metadata.grant_types or bool(REDIRECT_GRANT_TYPES & set(metadata.grant_types))
        if endpoint is None and redirected and self.client_type in (ClientType.PUBLIC, ClientType.CONFIDENTIAL):
            found.append(Problem(
                "redirection_endpoint",
                f"is required for a {self.client_type} client unless its grant_types need no redirect",
                5659,
            ))  # fmt: skip
        return found  # a renamed application_name (the IdKey) is refused with every other changed key

    def _registration_uri_problems(self) -> list[Problem]:
        """The registration access token is sent to `registration_client_uri`: it must be the registration
        endpoint's server (RFC 7592 §3), not a host the metadata names."""
        uri = self.client_metadata.registration_client_uri
        server = self.server_definition
        endpoint = server.server_metadata.registration_endpoint if server and server.server_metadata else None
        if not isinstance(uri, str) or not uri or not isinstance(endpoint, str) or not endpoint:
            return []
        if not is_absolute_url(uri) or not is_absolute_url(endpoint) or same_origin(uri, endpoint):
            return []  # an ill-formed URL is reported by its own rule
        message = "must share the origin (scheme, host and port) of the server's registration_endpoint"
        return [Problem("client_metadata.registration_client_uri", message)]

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
        stored = session.get(Client, self.application_name)
        twins = [c for c in session.new if isinstance(c, Client) and c.application_name == self.application_name]
        if (stored is not None and stored is not self) or len(twins) > 1:
            raise DuplicateError(self.kind, self.application_name, "application_name")

    def introspect(self, token: str, *, allow_insecure_http: bool = False) -> dict[str, Any]:
        """RFC 7662 introspection of `token` at the server, authenticated as this client (IRIS GetIntrospection).

        Raises:
            OAuthServerError, TransportError, ProtocolError, ClientNotUsableError.
        """
        from .._agent import client_config, introspect_token

        session = self._session()
        config = client_config(session, self)
        transport = transport_for(session, self.ssl_configuration, allow_insecure_http=allow_insecure_http,
                                  issuer=self.server_definition.issuer_endpoint)  # fmt: skip
        return introspect_token(config, transport, token, time.time())

    def revoke(self, token: str, *, allow_insecure_http: bool = False) -> None:
        """RFC 7009 revocation of `token`, which also leaves the token cache (IRIS RevokeToken).

        Raises:
            OAuthServerError, TransportError, ProtocolError, ClientNotUsableError.
        """
        from .._agent import client_config, forget_token, revoke_token

        session = self._session()
        config = client_config(session, self)
        transport = transport_for(session, self.ssl_configuration, allow_insecure_http=allow_insecure_http,
                                  issuer=self.server_definition.issuer_endpoint)  # fmt: skip
        revoke_token(config, transport, token, time.time())
        forget_token(session, self.application_name, token)

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

        Raises:
            JWTValidationError: its `check` names what failed.
        """
        from .._jwt_validation import validate_jwt

        def refresh(force: bool, at: float) -> bool:
            save = object_session(self) is not None
            return self.RefreshJWKS(force, save, allow_insecure_http=allow_insecure_http, now=at)

        expected = self.client_id if audience is ... else audience
        return validate_jwt(self, token, refresh=refresh, audience=expected, algorithms=algorithms,
                            token_type=token_type, leeway=leeway, now=now)  # fmt: skip

    def register(self, *, allow_insecure_http: bool = False) -> dict[str, Any]:
        """Register this client at its server's registration endpoint (RFC 7591; IRIS RegisterClient).

        Stores client_id, client_secret, the registration access token and URI and the metadata as the server
        accepted it, all or nothing; returns the server's answer without its secrets.
        See `oauth2store._registration.register_client` for the request and the errors.
        """
        from .._registration import register_client

        return register_client(self._session(), self, allow_insecure_http=allow_insecure_http)

    def read_registration(self, *, allow_insecure_http: bool = False) -> dict[str, Any]:
        """Read the registration back (RFC 7592 §2.1; IRIS ReadClient) and store the server's view of it."""
        from .._registration import read_registration

        return read_registration(self._session(), self, allow_insecure_http=allow_insecure_http)

    def update_registration(self, *, allow_insecure_http: bool = False) -> dict[str, Any]:
        """Send the stored metadata (and the current public keys) to the server (RFC 7592 §2.2; IRIS UpdateClient)."""
        from .._registration import update_registration

        return update_registration(self._session(), self, allow_insecure_http=allow_insecure_http)

    def delete_registration(self, *, allow_insecure_http: bool = False) -> None:
        """Delete the registration at the server (RFC 7592 §2.3) and clear it here, ready to register again."""
        from .._registration import delete_registration

        delete_registration(self._session(), self, allow_insecure_http=allow_insecure_http)

    def _session(self) -> Session:
        session = object_session(self)
        if session is None:
            raise RuntimeError(f"Client {self.application_name!r} is not in a session (load it with Client.Open)")
        return session

    @classmethod
    def Open(cls, session: Session, application_name: str) -> Client | None:
        """The client with that application name, or None (IRIS `Open`)."""
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

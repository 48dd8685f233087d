"""OAuth2.ServerDefinition: an authorization server that client definitions use.

Keyed by an integer ID like IRIS; `issuer_endpoint` is unique and matched exactly (IRIS #5808 on duplicates).
Deleting a server definition that clients still use is refused (IRIS #5823).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import BigInteger, ForeignKey, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session, relationship

from .._discovery import Metadata, fetch_metadata
from .._errors import DuplicateError, InUseError, NotFoundError, Problem
from .._queries import ListQuery
from .._types import REDIRECT_GRANT_TYPES
from .._validation import Kind, is_absolute_url
from ._jwks_columns import refresh_server_jwks
from ._references import mapped_class, missing_reference, referencing
from ._validated import Validated
from .base import Base, UTCDateTime, iris_property
from .server_metadata import ServerMetadata
from .ssl_configuration import DEFAULT_SSL_CONFIGURATION, SSLConfiguration, transport_for
from .x509_credentials import X509Credentials

if TYPE_CHECKING:
    from .._http.transport import Transport
    from .client import Client


class ServerDefinition(Validated, Base):
    """IRIS OAuth2.ServerDefinition."""

    __tablename__ = "OAuth2_ServerDefinition"
    kind = "ServerDefinition"

    #: IRIS `ID`: the integer row ID that `Client.server_definition` and `ListForServer` use.
    id: Mapped[int] = mapped_column("ID", primary_key=True, autoincrement=True)
    #: IRIS `IssuerEndpoint`: the issuer identifier, unique and matched exactly.
    issuer_endpoint: Mapped[str] = iris_property("IssuerEndpoint", Kind.URI, required=True, maxlen=1024, unique=True)
    #: IRIS `SSLConfiguration`: the TLS configuration for discovery, JWKS and registration requests.
    ssl_configuration: Mapped[str] = iris_property(
        "SSLConfiguration",
        Kind.STRING,
        ForeignKey("OAuth2_SSLConfiguration.Name"),
        required=True,
        minlen=1,
        maxlen=64,
        initial="default",
    )
    #: IRIS `InitialAccessToken`: bearer token for dynamic registration (RFC 7591 §3). Secret.
    initial_access_token: Mapped[str | None] = iris_property("InitialAccessToken", secret=True)
    #: IRIS `ServerCredentials`: X.509 credentials with the server's certificate, instead of a JWKS.
    server_credentials: Mapped[str | None] = iris_property(
        "ServerCredentials", Kind.STRING, ForeignKey("OAuth2_X509Credentials.Alias"), maxlen=64
    )
    #: IRIS `IsDiscovery`: the metadata came from discovery rather than being entered by hand.
    is_discovery: Mapped[bool] = iris_property("IsDiscovery", Kind.BOOLEAN, required=True, initial=False)
    #: IRIS `PublicJWKS`: the cached copy of the server's public JWKS.
    public_jwks: Mapped[dict[str, Any] | None] = iris_property("PublicJWKS", Kind.JSON)
    #: When `public_jwks` must be fetched again (IRIS GetJWKS convention: -1 never, 0 not cacheable, else epoch).
    public_jwks_expires: Mapped[int | None] = mapped_column("PublicJWKSExpires", BigInteger())
    #: The JWKS response's ETag, for conditional requests.
    public_jwks_etag: Mapped[str | None] = mapped_column("PublicJWKSETag", String(256))
    #: When the server last sent or confirmed `public_jwks`: a stale copy serves only so long after this.
    public_jwks_fetched: Mapped[datetime | None] = mapped_column("PublicJWKSFetched", UTCDateTime())

    # Never read: they tell the unit of work to insert a named configuration before the server that names it.
    _ssl_configuration_row: Mapped[SSLConfiguration] = relationship(lazy="raise")
    _server_credentials_row: Mapped[X509Credentials | None] = relationship(lazy="raise")
    #: IRIS `Metadata`: the server's discovery metadata (IRIS's name is reserved by SQLAlchemy, hence the prefix).
    server_metadata: Mapped[ServerMetadata] = relationship(
        back_populates="server_definition", cascade="all, delete-orphan", passive_deletes=True, lazy="joined"
    )
    #: IRIS `Clients`: the client definitions that use this server.
    clients: Mapped[list[Client]] = relationship(back_populates="server_definition", passive_deletes="all")

    def __init__(self, **values: Any) -> None:
        values.setdefault("server_metadata", ServerMetadata())
        super().__init__(**values)

    @property
    def identity(self) -> object:
        return self.issuer_endpoint

    def cross_field_problems(self) -> list[Problem]:
        found: list[Problem] = []
        if self.issuer_endpoint and is_absolute_url(self.issuer_endpoint):  # else reported by its own rule
            parts = urlsplit(self.issuer_endpoint)
            if parts.query or parts.fragment:
                found.append(Problem("issuer_endpoint", "must not have a query or fragment (RFC 8414 §2)"))
        metadata = self.server_metadata
        if metadata is None:
            return [*found, Problem("server_metadata", "is required", 5659)]
        found += [Problem(f"server_metadata.{p.field}", p.message, p.code) for p in metadata.problems()]
        if not metadata.token_endpoint:
            found.append(Problem("server_metadata.token_endpoint", "is required", 5659))
        redirect_grants = metadata.grant_types_supported is None or bool(
            REDIRECT_GRANT_TYPES & set(metadata.grant_types_supported)
        )
        if redirect_grants and not metadata.authorization_endpoint:
            found.append(
                Problem(
                    "server_metadata.authorization_endpoint",
                    "is required unless grant_types_supported lists no redirect-based grant",
                    5659,
                )
            )
        if metadata.issuer and self.issuer_endpoint and metadata.issuer != self.issuer_endpoint:
            found.append(Problem("server_metadata.issuer", "must equal issuer_endpoint exactly (RFC 8414 §3.3)"))
        return found

    def normalize(self) -> None:
        super().normalize()
        if self.server_metadata is not None:
            self.server_metadata.normalize()

    def reference_problems(self, session: Session) -> list[Problem]:
        return missing_reference(session, "ssl_configuration", SSLConfiguration, self.ssl_configuration) + (
            missing_reference(session, "server_credentials", X509Credentials, self.server_credentials)
        )

    def check_unique(self, session: Session) -> None:
        statement = select(ServerDefinition.id).where(ServerDefinition.issuer_endpoint == self.issuer_endpoint)
        if self.id is not None:
            statement = statement.where(ServerDefinition.id != self.id)
        if session.scalar(statement) is not None:
            raise DuplicateError(self.kind, self.issuer_endpoint, "issuer_endpoint")

    def before_delete(self, session: Session) -> None:
        users = referencing(session, self.id, [("Client", "application_name", "server_definition_id")])
        if users:
            raise InUseError(self.kind, self.issuer_endpoint, users)

    @classmethod
    def Open(cls, session: Session, id: int) -> ServerDefinition | None:
        """The server definition with that ID, or None (IRIS `Open`)."""
        return session.get(cls, id)

    @classmethod
    def OpenByIssuer(cls, session: Session, issuer: str) -> ServerDefinition | None:
        """The server definition whose issuer is exactly `issuer`, or None (IRIS `OpenByIssuer`)."""
        return session.scalars(select(cls).where(cls.issuer_endpoint == issuer)).one_or_none()

    @classmethod
    def discover(
        cls,
        session: Session,
        issuer: str,
        *,
        ssl_configuration: str | None = None,
        transport: Transport | None = None,
        allow_insecure_http: bool = False,
        allow_private_network: bool = False,
        rfc8414_first: bool = False,
    ) -> ServerDefinition:
        """Fetch `issuer`'s discovery document and its JWKS and store both on its definition (IRIS `Discover`).

        The definition is the one whose issuer is exactly `issuer`, else a new one using `ssl_configuration`
        ("default" unless given); the fetch uses that TLS configuration unless a `transport` is given. The OpenID
        configuration is asked for first, then the RFC 8414 document; `rfc8414_first` asks in the other order.

        Raises:
            DiscoveryError: the document was refused (not JSON, another issuer, no token endpoint); nothing stored.
            JWKSError: the server's JWKS cannot be used; nothing stored.
            TransportError, InsecureEndpointError, NotFoundError (unknown SSL configuration), ValidationError.
        """
        server = cls.OpenByIssuer(session, issuer)
        name = ssl_configuration or (server.ssl_configuration if server is not None else DEFAULT_SSL_CONFIGURATION)
        if transport is None:
            transport = transport_for(
                session,
                name,
                allow_insecure_http=allow_insecure_http,
                issuer=issuer,
                allow_private_network=allow_private_network,
            )
        metadata = fetch_metadata(issuer, transport, ServerMetadata.member_kinds(), rfc8414_first=rfc8414_first)
        with session.begin_nested():
            if server is None:
                server = cls(issuer_endpoint=issuer, ssl_configuration=name)
                session.add(server)
            elif ssl_configuration:
                server.ssl_configuration = ssl_configuration
            server._apply_metadata(metadata)
            if server.server_metadata.jwks_uri:
                # IRIS's Discover refreshes the JWKS in the same transaction: a definition is stored with its keys.
                refresh_server_jwks(server, force=True, transport=transport)
            session.flush()
        return server

    def _apply_metadata(self, metadata: Metadata) -> None:
        """Replace the stored metadata with the discovered members (members not in the document become empty)."""
        for name, (key, _rules) in ServerMetadata.property_rules().items():
            setattr(self.server_metadata, key, metadata.values.get(name))
        self.is_discovery = True

    def RefreshJWKS(
        self, force: bool = False, save: bool = True, *, allow_insecure_http: bool = False, now: float | None = None
    ) -> bool:
        """Fetch the public JWKS from `jwks_uri` if the cached one has expired, or always with `force`.

        IRIS `ServerDefinition.RefreshJWKS`: True when the key set changed (which also clears
        `server_credentials`, as IRIS does); False when the cache is still valid or there is no `jwks_uri`.
        `save` flushes the definition in its session; otherwise the caller's commit decides (nothing is flushed).

        Raises:
            JWKSError, TransportError, ProtocolError, InsecureEndpointError: the cached JWKS is left as it was.
        """
        session = object_session(self)
        if session is None:
            raise RuntimeError(f"ServerDefinition {self.issuer_endpoint!r} is not in a session (load it first)")
        with session.no_autoflush:
            transport = transport_for(
                session, self.ssl_configuration, allow_insecure_http=allow_insecure_http, issuer=self.issuer_endpoint
            )
            changed = refresh_server_jwks(self, force=force, transport=transport, now=now)
        if save:
            session.flush()
        return changed

    @classmethod
    def DeleteId(cls, session: Session, id: int) -> None:
        """Delete the server definition with that ID (IRIS `DeleteId`).

        Raises:
            NotFoundError: no server definition has that ID.
            InUseError: client definitions still use it.
        """
        server = session.get(cls, id)
        if server is None:
            raise NotFoundError(cls.kind, id)
        server.before_delete(session)  # refuse before the session marks anything deleted
        session.delete(server)
        session.flush()

    @classmethod
    def List(cls, session: Session) -> ListQuery:
        """Rows of (id, issuer_endpoint, client_count), ordered by id (IRIS query `List`)."""
        client = mapped_class("Client")
        statement = (
            select(cls.id, cls.issuer_endpoint, func.count(client.application_name).label("client_count"))
            .outerjoin(client, client.server_definition_id == cls.id)
            .group_by(cls.id, cls.issuer_endpoint)
        )
        return ListQuery(session, statement, cls.id)

"""A named TLS configuration, the port of the IRIS SSL configuration that `ssl_configuration` names.

IRIS keeps file names (CAFile, CertificateFile, PrivateKeyFile); here the PEM text itself is stored, so a client
definition is complete in the database and moves with it. A configuration without CA certificates trusts the
system CA store. Migration 0001 creates one named "default" that does exactly that.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Mapped, Session

from .._errors import InUseError, NotFoundError, Problem, ValidationError
from .._http.values import RetryPolicy, TlsSettings
from .._pem import certificate_problems, private_key_problems
from .._state import state_of
from .._validation import Kind
from ._references import referencing
from ._validated import Validated
from .base import Base, iris_property

if TYPE_CHECKING:
    import requests

    from .._http.transport import Transport

#: The configuration migration 0001 creates: verify peers against the system CA store.
DEFAULT_SSL_CONFIGURATION = "default"


class SSLConfiguration(Validated, Base):
    """A TLS configuration for requests to an authorization server, stored by name."""

    __tablename__ = "OAuth2_SSLConfiguration"
    kind = "SSLConfiguration"

    #: IRIS `Name`: the name clients and server definitions refer to.
    name: Mapped[str] = iris_property("Name", required=True, minlen=1, maxlen=64, primary_key=True)
    #: IRIS `Description`.
    description: Mapped[str | None] = iris_property("Description", maxlen=256)
    #: IRIS `Enabled`: a disabled configuration cannot be used for requests.
    enabled: Mapped[bool] = iris_property("Enabled", Kind.BOOLEAN, required=True, initial=True)
    #: IRIS `VerifyPeer`: verify the server's certificate chain and host name.
    verify_peer: Mapped[bool] = iris_property("VerifyPeer", Kind.BOOLEAN, required=True, initial=True)
    #: PEM bundle of trusted CA certificates (IRIS `CAFile`); empty means the system CA store.
    certificate_authorities: Mapped[str | None] = iris_property("CertificateAuthorities")
    #: PEM client certificate for mutual TLS (IRIS `CertificateFile`).
    certificate: Mapped[str | None] = iris_property("Certificate")
    #: PEM private key of the client certificate (IRIS `PrivateKeyFile`). Secret.
    private_key: Mapped[str | None] = iris_property("PrivateKey", secret=True)
    #: Password of `private_key` (IRIS `PrivateKeyPassword`). Secret.
    private_key_password: Mapped[str | None] = iris_property("PrivateKeyPassword", maxlen=128, secret=True)

    def cross_field_problems(self) -> list[Problem]:
        found = certificate_problems("certificate_authorities", self.certificate_authorities)
        found += certificate_problems("certificate", self.certificate)
        found += private_key_problems("private_key", self.private_key, self.private_key_password, self.certificate)
        if bool(self.certificate) != bool(self.private_key):
            found.append(Problem("private_key", "a client certificate and its private key go together"))
        return found

    def before_delete(self, session: Session) -> None:
        users = referencing(
            session,
            self.name,
            [
                ("Client", "application_name", "ssl_configuration"),
                ("ServerDefinition", "issuer_endpoint", "ssl_configuration"),
            ],
        )
        if users:
            raise InUseError(self.kind, self.name, users)

    def tls_settings(self) -> TlsSettings:
        """The configuration as the plain values a transport needs.

        Raises:
            ValidationError: the configuration is disabled (IRIS: a disabled configuration cannot be used).
        """
        if not self.enabled:
            problem = Problem("enabled", "the configuration is disabled and cannot be used for requests")
            raise ValidationError(self.kind, self.name, [problem])
        return TlsSettings(
            name=self.name,
            certificate_authorities=self.certificate_authorities or None,
            certificate=self.certificate or None,
            private_key=self.private_key or None,
            private_key_password=self.private_key_password or None,
            verify_peer=bool(self.verify_peer),
        )


def transport_for(
    session: Session,
    name: str,
    *,
    allow_insecure_http: bool = False,
    issuer: str | None = None,
    allow_private_network: bool = False,
    http_session: requests.Session | None = None,
    timeout: tuple[float, float] | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> Transport:
    """A Transport with the stored TLS configuration `name`: the one way every call to a server gets its TLS.

    Sessions come from the store's pool (one per thread and configuration) unless `http_session` is given.
    `issuer` is the server the calls are for: a remote issuer's endpoints may not reach loopback or private
    addresses unless `allow_private_network` (see `oauth2store._http.endpoints.check_endpoint`).

    Raises:
        NotFoundError: no TLS configuration has that name.
        ValidationError: the configuration is disabled.
    """
    # The HTTP stack (requests, urllib3) is imported when a call is about to be made, not with the models: a
    # short-lived process whose token is stored never loads it (start-up cost).
    from .._http.connections import SessionPool
    from .._http.transport import Transport

    configuration = session.get(SSLConfiguration, name)
    if configuration is None:
        raise NotFoundError(SSLConfiguration.kind, name)
    return Transport(
        configuration.tls_settings(),
        session=http_session,
        pool=state_of(session).get(SessionPool),
        timeout=timeout,
        retry=retry,
        allow_insecure_http=allow_insecure_http,
        issuer=issuer,
        allow_private_network=allow_private_network,
        sleep=sleep,
        clock=clock,
    )

"""Named X.509 credentials: the port of IRIS %SYS.X509Credentials, which `client_credentials` names.

A client whose `client_credentials` names one takes its key pair from the certificate (IRIS JWKSFromCredentials).
"""

from __future__ import annotations

from sqlalchemy.orm import Mapped, Session

from .._errors import InUseError, Problem
from .._pem import certificate_problems, private_key_problems
from ._references import referencing
from ._validated import Validated
from .base import Base, iris_property


class X509Credentials(Validated, Base):
    """A certificate and, optionally, its private key, stored under an alias."""

    __tablename__ = "OAuth2_X509Credentials"
    kind = "X509Credentials"

    #: IRIS `Alias`.
    alias: Mapped[str] = iris_property("Alias", required=True, minlen=1, maxlen=64, primary_key=True)
    #: IRIS `Certificate`: the PEM certificate (chain), leaf first.
    certificate: Mapped[str] = iris_property("Certificate", required=True)
    #: IRIS `PrivateKey`: the PEM private key of the leaf certificate. Secret.
    private_key: Mapped[str | None] = iris_property("PrivateKey", secret=True)
    #: IRIS `PrivateKeyPassword`. Secret.
    private_key_password: Mapped[str | None] = iris_property("PrivateKeyPassword", maxlen=128, secret=True)
    #: Free text.
    description: Mapped[str | None] = iris_property("Description", maxlen=256)

    def cross_field_problems(self) -> list[Problem]:
        return certificate_problems("certificate", self.certificate) + private_key_problems(
            "private_key", self.private_key, self.private_key_password, self.certificate
        )

    def before_delete(self, session: Session) -> None:
        users = referencing(
            session,
            self.alias,
            [
                ("Client", "application_name", "client_credentials"),
                ("ServerDefinition", "issuer_endpoint", "server_credentials"),
            ],
        )
        if users:
            raise InUseError(self.kind, self.alias, users)

"""The ORM classes, one IRIS class per module, all on one declarative `Base`."""

from .access_token import AccessToken as AccessToken
from .base import Base as Base
from .client import Client as Client
from .client_key import ClientKey as ClientKey
from .client_key import KeyState as KeyState
from .client_metadata import ClientMetadata as ClientMetadata
from .endpoint import Endpoint as Endpoint
from .key_check import key_check as key_check
from .server_definition import ServerDefinition as ServerDefinition
from .server_metadata import ServerMetadata as ServerMetadata
from .ssl_configuration import SSLConfiguration as SSLConfiguration
from .token_renewal import token_renewal as token_renewal
from .x509_credentials import X509Credentials as X509Credentials

__all__ = [
    "AccessToken",
    "Base",
    "Client",
    "ClientKey",
    "ClientMetadata",
    "Endpoint",
    "KeyState",
    "SSLConfiguration",
    "ServerDefinition",
    "ServerMetadata",
    "X509Credentials",
    "key_check",
    "token_renewal",
]

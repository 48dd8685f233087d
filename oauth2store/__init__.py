"""oauth2store: a durable OAuth 2.0 / OpenID Connect client store, a port of InterSystems IRIS OAuth2.Client."""

import typing
import warnings

from ._agent import AgentClient as AgentClient
from ._client_auth import ClientIdentity as ClientIdentity
from ._encryption.cipher import generate_store_key as generate_store_key
from ._encryption.registry import register_store_key as register_store_key
from ._errors import ClientNotUsableError as ClientNotUsableError
from ._errors import DiscoveryError as DiscoveryError
from ._errors import DuplicateError as DuplicateError
from ._errors import InsecureEndpointError as InsecureEndpointError
from ._errors import InUseError as InUseError
from ._errors import JWKSError as JWKSError
from ._errors import JWTValidationError as JWTValidationError
from ._errors import KeyMaterialError as KeyMaterialError
from ._errors import NotFoundError as NotFoundError
from ._errors import OAuth2StoreError as OAuth2StoreError
from ._errors import OAuthServerError as OAuthServerError
from ._errors import Problem as Problem
from ._errors import ProtocolError as ProtocolError
from ._errors import ReadOnlyStoreError as ReadOnlyStoreError
from ._errors import RegistrationError as RegistrationError
from ._errors import SchemaVersionError as SchemaVersionError
from ._errors import StoreKeyError as StoreKeyError
from ._errors import TransportError as TransportError
from ._errors import ValidationError as ValidationError
from ._jwx.jws import SigningKey as SigningKey
from ._queries import ListQuery as ListQuery
from ._store import Store as Store
from ._token_cache import Skew as Skew
from ._tokens import ClientConfig as ClientConfig
from ._tokens import Endpoints as Endpoints
from ._tokens import Token as Token
from ._transport import RetryPolicy as RetryPolicy
from ._transport import TlsSettings as TlsSettings
from ._transport import Transport as Transport
from ._types import AuthenticationType as AuthenticationType
from ._types import ClientType as ClientType
from ._types import TokenEndpointAuthMethod as TokenEndpointAuthMethod
from .models import AccessToken as AccessToken
from .models import Base as Base
from .models import Client as Client
from .models import ClientKey as ClientKey
from .models import ClientMetadata as ClientMetadata
from .models import Endpoint as Endpoint
from .models import KeyState as KeyState
from .models import ServerDefinition as ServerDefinition
from .models import ServerMetadata as ServerMetadata
from .models import SSLConfiguration as SSLConfiguration
from .models import X509Credentials as X509Credentials
from .models._signing_key import signing_key as signing_key

__version__ = "0.1.0"

__all__ = [
    "AccessToken",
    "AgentClient",
    "AuthenticationType",
    "Base",
    "Client",
    "ClientConfig",
    "ClientIdentity",
    "ClientKey",
    "ClientMetadata",
    "ClientNotUsableError",
    "ClientType",
    "DiscoveryError",
    "DuplicateError",
    "Endpoint",
    "Endpoints",
    "InUseError",
    "InsecureEndpointError",
    "JWKSError",
    "JWTValidationError",
    "KeyMaterialError",
    "KeyState",
    "ListQuery",
    "NotFoundError",
    "OAuth2StoreError",
    "OAuthServerError",
    "Problem",
    "ProtocolError",
    "ReadOnlyStoreError",
    "RegistrationError",
    "RetryPolicy",
    "SSLConfiguration",
    "SchemaVersionError",
    "ServerDefinition",
    "ServerMetadata",
    "SigningKey",
    "Skew",
    "Store",
    "StoreKeyError",
    "TlsSettings",
    "Token",
    "TokenEndpointAuthMethod",
    "Transport",
    "TransportError",
    "ValidationError",
    "X509Credentials",
    "__version__",
    "generate_store_key",
    "register_store_key",
    "signing_key",
]

#: Names of the store-key family before 0.2.0 ("key" alone also meant client key pairs and server keys): old -> new.
#: They keep working, with a DeprecationWarning, for one release.
_RENAMED = {
    "SecretKeyError": "StoreKeyError",
    "generate_key": "generate_store_key",
    "register_key": "register_store_key",
}


def __getattr__(name: str) -> typing.Any:
    """The renamed names, with a DeprecationWarning pointing at the caller's line (PEP 562)."""
    new = _RENAMED.get(name)
    if new is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"oauth2store.{name} is deprecated and will be removed in the next release: use oauth2store.{new}",
        DeprecationWarning,
        stacklevel=2,
    )
    return globals()[new]

"""oauth2store: a durable OAuth 2.0 / OpenID Connect client store, a port of InterSystems IRIS OAuth2.Client."""

from .agent import AgentClient as AgentClient
from .agent import ClientConfig as ClientConfig
from .agent import Endpoints as Endpoints
from .client_auth import ClientIdentity as ClientIdentity
from .errors import ClientNotUsableError as ClientNotUsableError
from .errors import DiscoveryError as DiscoveryError
from .errors import DuplicateError as DuplicateError
from .errors import InsecureEndpointError as InsecureEndpointError
from .errors import InUseError as InUseError
from .errors import JWKSError as JWKSError
from .errors import JWTValidationError as JWTValidationError
from .errors import KeyMaterialError as KeyMaterialError
from .errors import NotFoundError as NotFoundError
from .errors import OAuth2StoreError as OAuth2StoreError
from .errors import OAuthServerError as OAuthServerError
from .errors import Problem as Problem
from .errors import ProtocolError as ProtocolError
from .errors import RegistrationError as RegistrationError
from .errors import SchemaVersionError as SchemaVersionError
from .errors import SecretKeyError as SecretKeyError
from .errors import TransportError as TransportError
from .errors import ValidationError as ValidationError
from .keys import SigningKey as SigningKey
from .keys import signing_key as signing_key
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
from .queries import ListQuery as ListQuery
from .secrets import generate_key as generate_key
from .secrets import register_key as register_key
from .store import Store as Store
from .token_cache import Skew as Skew
from .tokens import Token as Token
from .transport import RetryPolicy as RetryPolicy
from .transport import TlsSettings as TlsSettings
from .transport import Transport as Transport
from .types import AuthenticationType as AuthenticationType
from .types import ClientType as ClientType
from .types import TokenEndpointAuthMethod as TokenEndpointAuthMethod

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
    "RegistrationError",
    "RetryPolicy",
    "SSLConfiguration",
    "SchemaVersionError",
    "SecretKeyError",
    "ServerDefinition",
    "ServerMetadata",
    "SigningKey",
    "Skew",
    "Store",
    "TlsSettings",
    "Token",
    "TokenEndpointAuthMethod",
    "Transport",
    "TransportError",
    "ValidationError",
    "X509Credentials",
    "__version__",
    "generate_key",
    "register_key",
    "signing_key",
]

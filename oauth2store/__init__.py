"""oauth2store: a durable OAuth 2.0 / OpenID Connect client store, a port of InterSystems IRIS OAuth2.Client."""

from .errors import DuplicateError as DuplicateError
from .errors import InUseError as InUseError
from .errors import KeyMaterialError as KeyMaterialError
from .errors import NotFoundError as NotFoundError
from .errors import OAuth2StoreError as OAuth2StoreError
from .errors import Problem as Problem
from .errors import SchemaVersionError as SchemaVersionError
from .errors import SecretKeyError as SecretKeyError
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
from .types import AuthenticationType as AuthenticationType
from .types import ClientType as ClientType
from .types import TokenEndpointAuthMethod as TokenEndpointAuthMethod

__version__ = "0.1.0"

__all__ = [
    "AccessToken",
    "AuthenticationType",
    "Base",
    "Client",
    "ClientKey",
    "ClientMetadata",
    "ClientType",
    "DuplicateError",
    "Endpoint",
    "InUseError",
    "KeyMaterialError",
    "KeyState",
    "ListQuery",
    "NotFoundError",
    "OAuth2StoreError",
    "Problem",
    "SSLConfiguration",
    "SchemaVersionError",
    "SecretKeyError",
    "ServerDefinition",
    "ServerMetadata",
    "SigningKey",
    "Store",
    "TokenEndpointAuthMethod",
    "ValidationError",
    "X509Credentials",
    "__version__",
    "generate_key",
    "register_key",
    "signing_key",
]

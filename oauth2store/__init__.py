"""oauth2store: a durable OAuth 2.0 / OpenID Connect client store, a port of InterSystems IRIS OAuth2.Client.

Everything public is imported from here and listed in `__all__` (the README documents each name); every module
below is private (`_name.py`) and may change without notice. `oauth2store.models` holds the ORM classes for
applications that map them in their own SQLAlchemy setup, and `oauth2store.cli` the command line.
"""

import importlib
import typing
import warnings

from . import _client_auth, _tokens
from ._agent import AgentClient as AgentClient
from ._async_agent import AsyncAgentClient as AsyncAgentClient
from ._documents import ImportReport as ImportReport
from ._documents import export_document as export_document
from ._documents import import_document as import_document
from ._documents import write_document as write_document
from ._encryption.cipher import generate_store_key as generate_store_key
from ._encryption.registry import register_store_key as register_store_key
from ._errors import AuthorizationError as AuthorizationError
from ._errors import CallbackError as CallbackError
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
from ._http.values import RetryPolicy as RetryPolicy
from ._http.values import TlsSettings as TlsSettings
from ._jwx.jws import SigningKey as SigningKey
from ._protected_resource import ProtectedResource as ProtectedResource
from ._protected_resource import discover_resource as discover_resource
from ._queries import ListQuery as ListQuery
from ._resource_metadata import ProtectedResourceMetadata as ProtectedResourceMetadata
from ._signin import AuthorizationRequest as AuthorizationRequest
from ._signin import SessionTokens as SessionTokens
from ._signin import SignedIn as SignedIn
from ._signin import SignIn as SignIn
from ._store import Store as Store
from ._token_cache import Skew as Skew
from ._tokens import Token as Token
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
    "AsyncAgentClient",
    "AuthenticationType",
    "AuthorizationError",
    "AuthorizationRequest",
    "Base",
    "CallbackError",
    "Client",
    "ClientKey",
    "ClientMetadata",
    "ClientNotUsableError",
    "ClientType",
    "DiscoveryError",
    "DuplicateError",
    "Endpoint",
    "ImportReport",
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
    "ProtectedResource",
    "ProtectedResourceMetadata",
    "ProtocolError",
    "ReadOnlyStoreError",
    "RegistrationError",
    "RetryPolicy",
    "SSLConfiguration",
    "SchemaVersionError",
    "ServerDefinition",
    "ServerMetadata",
    "SessionTokens",
    "SignIn",
    "SignedIn",
    "SigningKey",
    "Skew",
    "Store",
    "StoreKeyError",
    "TlsSettings",
    "Token",
    "TokenEndpointAuthMethod",
    "TransportError",
    "ValidationError",
    "X509Credentials",
    "__version__",
    "discover_resource",
    "export_document",
    "generate_store_key",
    "import_document",
    "register_store_key",
    "signing_key",
    "write_document",
]

#: Names of the previous release that were renamed or are no longer public: old name -> (what to use, the object).
#: They keep working, with a DeprecationWarning, for one release (see CHANGELOG.md).
_DEPRECATED: dict[str, tuple[str, object]] = {
    "SecretKeyError": ("oauth2store.StoreKeyError", StoreKeyError),
    "generate_key": ("oauth2store.generate_store_key", generate_store_key),
    "register_key": ("oauth2store.register_store_key", register_store_key),
    "ClientConfig": ("the client's properties (ClientConfig is internal)", _tokens.ClientConfig),
    "Endpoints": ("client.server_definition.server_metadata (Endpoints is internal)", _tokens.Endpoints),
    "ClientIdentity": ("the client's properties (ClientIdentity is internal)", _client_auth.ClientIdentity),
}
#: Deprecated names whose module is imported only when one is used (the HTTP stack is costly to import).
_DEPRECATED_LAZY: dict[str, tuple[str, str, str]] = {
    "Transport": (
        "AgentClient(http_session=..., retry=..., timeout=...) (Transport is internal)",
        "._http.transport",
        "Transport",
    ),
}


def __getattr__(name: str) -> typing.Any:
    """The names of the previous release, with a DeprecationWarning pointing at the caller's line (PEP 562)."""
    entry = _DEPRECATED.get(name)
    if entry is None and name in _DEPRECATED_LAZY:
        replacement, module, attribute = _DEPRECATED_LAZY[name]
        entry = (replacement, getattr(importlib.import_module(module, __name__), attribute))
    if entry is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    replacement, value = entry
    warnings.warn(
        f"oauth2store.{name} is deprecated and will be removed in the next release: use {replacement}",
        DeprecationWarning,
        stacklevel=2,
    )
    return value

"""Signing users in through a stored client definition: the authorization code flow with PKCE, per-session tokens,
single-flight refresh, userinfo and logout (IRIS %SYS.OAuth2.Authorization and %SYS.OAuth2.AccessToken).

`client` is the framework-neutral `SignIn`; `refresh` the single-flight refresh of a session; `values` what the
calls return and a session's row as plain values.
"""

from .client import SignIn as SignIn
from .values import AuthorizationRequest as AuthorizationRequest
from .values import SessionTokens as SessionTokens
from .values import SignedIn as SignedIn

__all__ = ["AuthorizationRequest", "SessionTokens", "SignIn", "SignedIn"]

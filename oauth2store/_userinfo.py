"""The UserInfo response (OpenID Connect Core 5.3.2, 5.3.4) on plain values: JSON, or a signed JWT whose checks
the caller makes (`_jwt_validation`), and the rule that its `sub` is the ID token's."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from ._errors import JWTValidationError, ProtocolError
from ._http.values import HttpResponse
from ._tokens import raise_for_error


@dataclass(frozen=True)
class UserinfoAnswer:
    """The claims of a JSON answer, or the JWT of an `application/jwt` one (to be validated by the caller)."""

    claims: dict[str, Any] | None
    jwt: str | None


def process_userinfo_response(response: HttpResponse) -> UserinfoAnswer:
    """What a UserInfo answer carries.

    Raises:
        OAuthServerError: the server refused (RFC 6750 §3.1 errors in a JSON body).
        ProtocolError: any other status, or a body that is neither a JSON object nor a JWT.
    """
    if response.status_code != 200:
        raise_for_error(response)
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type == "application/jwt":
        text = response.body.decode("ascii", errors="replace").strip()
        return UserinfoAnswer(None, text)
    claims = response.json_object()
    if claims is None:
        raise ProtocolError(response.url, "the userinfo answer is neither a JSON object nor a JWT", 200)
    return UserinfoAnswer(claims, None)


def check_subject(claims: dict[str, Any], id_token_sub: str) -> None:
    """OIDC Core 5.3.4: the UserInfo `sub` must be the ID token's, or the answer must not be used.

    Raises:
        JWTValidationError: "sub", when they differ (a token substitution).
    """
    sub = claims.get("sub")
    if not isinstance(sub, str) or not hmac.compare_digest(sub.encode(), id_token_sub.encode()):
        raise JWTValidationError("sub", "the userinfo sub is not the ID token's")

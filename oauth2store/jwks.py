"""Fetching an authorization server's public JWKS (its `jwks_uri`), with conditional requests and hard limits.

One GET per refresh, with `If-None-Match` when an ETag is known. Everything that could poison the cache is refused
before the caller sees it: a non-200/304 status, a redirect to another host, a body over `MAX_BYTES`, a body that
is not a JSON JWKS, or keys that are malformed or private. The `requests.Session` is the caller's (it carries the
TLS configuration); this module never creates one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from .errors import JWKSError
from .jwks_cache import DEFAULT_POLICY, CachePolicy, expiry_from_headers
from .signatures import KeySet

#: The largest JWKS accepted; real ones are a few KiB.
MAX_BYTES = 1024 * 1024
#: (connect, read) seconds.
TIMEOUT = (5.0, 10.0)


@dataclass(frozen=True)
class FetchedJWKS:
    """A JWKS the server sent (or confirmed unchanged), with its cache expiry and validator."""

    jwks: dict[str, Any] | None  # None when the server answered 304 Not Modified
    key_set: KeySet | None
    expires: int
    etag: str | None


def _public_url(url: str) -> str:
    """The URL without query or fragment, for messages (a query may carry credentials)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _read_limited(response: requests.Response, url: str) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BYTES:
        raise JWKSError(f"JWKS at {_public_url(url)} is larger than {MAX_BYTES} bytes")
    body = bytearray()
    for chunk in response.iter_content(chunk_size=65536):
        body += chunk
        if len(body) > MAX_BYTES:
            raise JWKSError(f"JWKS at {_public_url(url)} is larger than {MAX_BYTES} bytes")
    return bytes(body)


def fetch_jwks(
    session: requests.Session,
    url: str,
    *,
    etag: str | None,
    now: float,
    policy: CachePolicy = DEFAULT_POLICY,
) -> FetchedJWKS:
    """GET the JWKS at `url`; a known `etag` makes the request conditional.

    Raises:
        JWKSError: for any answer that is not a usable public JWKS, and for transport failures.
    """
    headers = {"Accept": "application/json, application/jwk-set+json"}
    if etag:
        headers["If-None-Match"] = etag
    where = _public_url(url)
    try:
        with session.get(url, headers=headers, timeout=TIMEOUT, allow_redirects=False, stream=True) as response:
            if response.is_redirect:
                target = urlsplit(urljoin(url, response.headers.get("Location", "")))
                raise JWKSError(f"JWKS at {where} redirects to {target.scheme}://{target.netloc}: not followed")
            if response.status_code == 304 and etag:
                expires = expiry_from_headers(response.headers, now, policy)
                return FetchedJWKS(None, None, expires, response.headers.get("ETag", etag))
            if response.status_code != 200:
                raise JWKSError(f"JWKS at {where} answered HTTP {response.status_code}")
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if content_type not in ("application/json", "application/jwk-set+json"):
                raise JWKSError(f"JWKS at {where} has content type {content_type or 'none'!r}, not JSON")
            body = _read_limited(response, url)
            expires = expiry_from_headers(response.headers, now, policy)
            new_etag = response.headers.get("ETag")
    except requests.RequestException as error:
        raise JWKSError(f"JWKS at {where} could not be fetched: {type(error).__name__}") from error
    try:
        document = json.loads(body)
    except ValueError as error:
        raise JWKSError(f"JWKS at {where} is not JSON") from error
    key_set = KeySet(document)  # raises JWKSError for malformed or private keys
    return FetchedJWKS(document, key_set, expires, new_etag)

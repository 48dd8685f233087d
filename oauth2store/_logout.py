"""RP-initiated logout on plain values (OpenID Connect RP-Initiated Logout 1.0 §2, §3): the URL to send the
browser to, IRIS `GetLogoutEndpoint` without I/O."""

from __future__ import annotations

from ._authorization import with_query


def logout_url(
    end_session_endpoint: str,
    *,
    id_token_hint: str,
    client_id: str,
    post_logout_redirect_uri: str | None,
    state: str,
) -> str:
    """The end_session_endpoint with `id_token_hint`, `client_id`, `post_logout_redirect_uri` and `state` (§2).

    `state` goes only with a `post_logout_redirect_uri`: it comes back only to that URI (§3).
    """
    parameters = [("id_token_hint", id_token_hint), ("client_id", client_id)]
    if post_logout_redirect_uri:
        parameters += [("post_logout_redirect_uri", post_logout_redirect_uri), ("state", state)]
    return with_query(end_session_endpoint, parameters)

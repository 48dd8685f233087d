"""OAuth2_TokenRenewal: who is renewing a stored token, and how the last renewal failed (not an IRIS class).

One row per token key (ApplicationName, SessionId), written only in short transactions: a renewer takes a lease
with an expiry before asking the server and stores its result only while the lease is still its own, so no
transaction is ever open during an HTTP exchange; a failed renewal is recorded with the definition version it
failed under and when to try again, so every process shares it. The token cache (oauth2store._token_cache) is its
one reader and writer; the schema is here so that migrations and `create_all` know it.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Integer, String, Table

from .base import Base

token_renewal = Table(
    "OAuth2_TokenRenewal",
    Base.metadata,
    Column(
        "ApplicationName",
        String(128),
        ForeignKey("OAuth2_Client.ApplicationName", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("SessionId", String(256), primary_key=True),
    #: The renewer's id, and the epoch second after which another may take over.
    Column("LeaseOwner", String(64), nullable=True),
    Column("LeaseExpires", Float, nullable=True),
    #: Consecutive failed renewals, the last one's error (never a secret) and the definition version it failed
    #: under, and the epoch second before which no process asks the server again.
    Column("Failures", Integer, nullable=False, server_default="0"),
    Column("Failure", JSON, nullable=True),
    Column("FailureVersion", String(32), nullable=True),
    Column("RetryAfter", Float, nullable=True),
)

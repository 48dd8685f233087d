"""The shared token cache: tokens in the store (OAuth2_AccessToken), an in-process layer in front, single flight.

Every thread and process of an application shares the stored tokens, keyed by (application_name, session_id),
where the session id is derived from what was asked for ("agent:" + a digest of the scope and the resources). An
in-process layer, shared by all agents of one engine, answers warm hits without a query (`process`). A token due
for renewal is renewed by one thread per process (a thread lock per key) and one process per application (a lease
in the key's renewal row, `renewal`), with no database transaction open while the server is asked; failures are
recorded for every process to share (`failures`). The cold path reads around the ORM (`reader`).
"""

from .keys import Entry as Entry
from .keys import Skew as Skew
from .keys import session_id as session_id
from .process import ProcessCache as ProcessCache
from .process import process_cache as process_cache
from .reader import StoreReader as StoreReader

__all__ = ["Entry", "ProcessCache", "Skew", "StoreReader", "process_cache", "session_id"]

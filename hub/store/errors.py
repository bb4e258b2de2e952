"""Exception tree of the store.

::

    StoreError                  root of every error raised by hub.store
    ├── StoreUnavailable        the back end cannot be reached or is failing right now
    │                           (connection refused, timeout, HTTP 5xx/408/429, SQLite
    │                           locked or I/O error): spool the batch and retry later
    └── StoreRejected           the back end refused the request because of what it
                                carries (HTTP 4xx, a field type conflict, a bad value,
                                a query error): retrying the same data will not help

Library errors (``httpx``, ``sqlite3``) are mapped to this tree at the back
end's boundary with ``raise ... from exc``; callers never see them.
"""

from __future__ import annotations


class StoreError(Exception):
    """Root of every error raised by the store."""


class StoreUnavailable(StoreError):
    """The back end cannot be reached now; the same request may succeed later."""


class StoreRejected(StoreError):
    """The back end refused the data or the query itself; ``status`` is the HTTP status if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)

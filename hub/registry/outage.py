"""Tell a registry database that is away (restart, failover, network) from a fault of the data, and live with it.

The registry database (SQLite, or PostgreSQL shared by the workers) holds the
ingest ledger, dead letters, node liveness, alarms and the outbox. While it is
away every query raises SQLAlchemy's ``OperationalError`` (PostgreSQL refused
or dropped the connection: SQLSTATE class 08, 57P01 ``admin_shutdown``, 57P03
``cannot_connect_now``), ``InterfaceError`` (the driver lost the socket), a
``DBAPIError`` flagged ``connection_invalidated``, or the pool's ``TimeoutError``.
None of them is the fault of the message or request being handled: it must be
retried once the database is back, never dead-lettered nor answered with 500.

:class:`Periodic` runs a housekeeping job (pruning) every period for ever; a
failed round is retried at the next period, logged once when it starts failing
and once when it works again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)


def brief(exc: BaseException) -> str:
    """The first line of an error (SQLAlchemy appends the statement and a link), at most 200 characters."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200] if text else ''}"


def db_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached now (rather than that a statement or its data is wrong)."""
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


class Periodic:
    """Call ``job`` every ``every_s`` seconds for ever; a round that raises never ends the loop."""

    def __init__(self, name: str, job: Callable[[], Awaitable[None]], every_s: float) -> None:
        self.name, self.job, self.every_s = name, job, every_s
        self.failures = 0  # rounds that raised, since start
        self.failing = False

    async def run(self) -> None:
        """Run until cancelled (the first round at once)."""
        while True:
            try:
                await self.job()
            except Exception as exc:  # the database away, or a bug: both retried next period, the hub goes on
                self.failures += 1
                if not self.failing and db_unavailable(exc):
                    log.warning(
                        "%s failed (the registry database is unavailable: %s); retrying every %.0f s",
                        self.name, brief(exc), self.every_s,
                    )  # fmt: skip
                elif not self.failing:  # a bug: its traceback, once
                    log.exception("%s failed; retrying every %.1f s", self.name, self.every_s)
                self.failing = True
            else:
                if self.failing:
                    log.info("%s works again", self.name)
                self.failing = False
            await asyncio.sleep(self.every_s)

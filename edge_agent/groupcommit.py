"""Group commit: the readings handed over in one turn of the event loop share one SQLite transaction.

Hundreds of devices polled at the same cadence finish their reads together
(their answers arrive in the same ``select``); a commit each cost the agent
more than building the rows. :meth:`GroupCommit.put` queues a group and waits
for the commit that the first queued group scheduled at the end of the
current loop turn (``call_soon``): it returns only once its readings are in
the file, exactly like a synchronous write, so nothing is acknowledged to
anyone (an MQTT source's PUBACK, the next poll) before it is durable. A
failed commit fails every waiting ``put`` with the error. :meth:`flush`
commits what is queued at once (before the buffer is closed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from citysense.contract import Reading

Write = Callable[[Sequence[Sequence[Reading]]], None]


class GroupCommit:
    """Batches ``write`` calls of one loop turn (see the module docstring)."""

    def __init__(self, write: Write) -> None:
        self._write = write
        self._groups: list[Sequence[Reading]] = []
        self._waiting: list[asyncio.Future[None]] = []
        self._handle: asyncio.Handle | None = None
        self.commits = 0
        self.groups = 0

    async def put(self, readings: Sequence[Reading]) -> None:
        """Queue ``readings``; return once they are committed (raise what the commit raised)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._groups.append(readings)
        self._waiting.append(fut)
        if self._handle is None:
            self._handle = loop.call_soon(self.flush)
        await fut  # cancelled meanwhile: the readings are still committed with the others

    def flush(self) -> None:
        """Commit every queued group now, in one transaction."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        groups, waiting = self._groups, self._waiting
        if not groups:
            return
        self._groups, self._waiting = [], []
        try:
            self._write(groups)
        except Exception as exc:
            for fut in waiting:
                if not fut.done():
                    fut.set_exception(exc)
            return
        self.commits += 1
        self.groups += len(groups)
        for fut in waiting:
            if not fut.done():
                fut.set_result(None)

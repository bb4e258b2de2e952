"""Write what many connections submit in the same moment as one batch.

A thousand stations each waiting for their confirmation would otherwise cost
a store write, a ledger transaction and a dead-letter transaction apiece.
:meth:`Coalescer.submit` queues an item and returns once a flush that
included it has finished (or raises what that flush raised); one flush runs
at a time, taking every item queued by then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Coalescer(Generic[T]):
    """Runs ``flush(items)`` over the items submitted while the previous flush ran."""

    def __init__(self, flush: Callable[[list[T]], Awaitable[None]]) -> None:
        self._flush = flush
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._lock = asyncio.Lock()

    async def submit(self, item: T) -> None:
        """Queue ``item``; return once it is flushed."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, fut))
        async with self._lock:
            if not fut.done():
                await asyncio.sleep(0)  # let the connections served in this loop iteration join
                batch, self._pending = self._pending, []
                try:
                    await self._flush([i for i, _ in batch])
                except BaseException as exc:
                    for _, f in batch:
                        if f is not fut and not f.done():
                            f.set_exception(exc if isinstance(exc, Exception) else RuntimeError("flush cancelled"))
                    raise
                for _, f in batch:
                    if not f.done():
                        f.set_result(None)
        await fut

"""One owner of a bus at a time; writes (``urgent``) are served before waiting polls."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator


class BusLock:
    """A FIFO lock with two queues: urgent waiters (writes) go before the others (polls)."""

    def __init__(self) -> None:
        self._held = False
        self._waiters: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (deque(), deque())

    def try_acquire(self) -> bool:
        """Own the bus now if it is free and nobody waits (no await: the common case of a poll)."""
        if self._held or self._waiters[0] or self._waiters[1]:
            return False
        self._held = True
        return True

    async def acquire(self, *, urgent: bool = False) -> None:
        """Own the bus, waiting in turn; :meth:`release` gives it back."""
        if self.try_acquire():
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._waiters[0 if urgent else 1]
        queue.append(fut)
        try:
            await fut
        except BaseException:
            if fut.done() and not fut.cancelled():
                self.release()  # ownership was handed to us as we were cancelled: pass it on
            elif fut in queue:  # a release may already have dropped it, cancelled, from the queue
                queue.remove(fut)
            raise

    @contextlib.asynccontextmanager
    async def hold(self, *, urgent: bool = False) -> AsyncIterator[None]:
        """Own the bus for the block."""
        await self.acquire(urgent=urgent)
        try:
            yield
        finally:
            self.release()

    def release(self) -> None:
        """Give the bus to the next waiter (urgent first), or free it."""
        for queue in self._waiters:
            while queue:
                fut = queue.popleft()
                if not fut.done():
                    fut.set_result(None)  # ownership passes directly; _held stays True
                    return
        self._held = False

"""Run an async context manager (a hub and what feeds it) in its own thread, so synchronous selenium can drive it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Generic, TypeVar

T = TypeVar("T")


class LoopThread(Generic[T]):
    """Enter ``factory()`` in a background event loop; ``value`` is what it yields until ``stop``."""

    def __init__(self, factory: Callable[[], AbstractAsyncContextManager[T]], name: str) -> None:
        self._factory = factory
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._value: T | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def value(self) -> T:
        """What the context manager yielded."""
        assert self._value is not None, "not started"
        return self._value

    def start(self, timeout_s: float = 90.0) -> T:
        """Start the thread and wait until the context manager has been entered."""
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._error is not None:
            raise RuntimeError(f"{self._thread.name} did not start") from self._error
        return self.value

    def stop(self) -> None:
        """Leave the context manager and wait for the thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # handed to the test thread by start()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        async with self._factory() as value:
            self._value, self._loop, self._stop = value, asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            await self._stop.wait()

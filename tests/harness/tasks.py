"""Run a long-lived coroutine (an agent, a hub part) in a test and stop it as the process supervisor does.

A cancel can be lost inside a library's ``wait_for`` on Python 3.11, and a
``TaskGroup`` does not pass a second cancel of its parent on to its children
(citysense/runner.py): so the stop is :func:`~citysense.runner.stop_and_wait`
over every task started since, bounded here so that a stop that does not end
fails the test with every task's stack instead of hanging it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from citysense.runner import stop_and_wait

STOP_DEADLINE_S = 30.0


@contextlib.asynccontextmanager
async def running(main: Coroutine[Any, Any, None], name: str) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``main`` as task ``name`` for the block; stop it (and the tasks it started) at the end."""
    before = asyncio.all_tasks()
    task = asyncio.create_task(main, name=name)
    try:
        yield task
    finally:
        try:
            async with asyncio.timeout(STOP_DEADLINE_S):
                await stop_and_wait(task, asyncio.all_tasks() - before - {task})
        except TimeoutError:
            stacks = {t.get_name(): [f"{f.f_code.co_name}:{f.f_lineno}" for f in t.get_stack()]
                      for t in asyncio.all_tasks()}  # fmt: skip
            raise AssertionError(f"{name} did not stop within {STOP_DEADLINE_S} s: {stacks}") from None
        failure = None if task.cancelled() else task.exception()
        if failure is not None:
            raise failure

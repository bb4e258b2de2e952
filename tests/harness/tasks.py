"""Run a long-lived coroutine (an agent, a hub part) in a test and stop it as the process supervisor does.

On Python 3.11 a cancel can be lost inside a library's ``wait_for`` (see
citysense/runner.py), and a ``TaskGroup`` passes only the first cancel of its
parent on to its children: cancelling the parent again does not reach a child
that lost its cancel. So, like the supervisor, the stop cancels the task, gives
its ``finally`` blocks :data:`STOP_GRACE_S`, then cancels again every task
started since, until the task has ended; a stop that still does not end fails
the test with every task's stack instead of hanging it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from citysense.runner import RECANCEL_EVERY_S, STOP_GRACE_S

STOP_DEADLINE_S = 30.0


@contextlib.asynccontextmanager
async def running(main: Coroutine[Any, Any, None], name: str) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``main`` as task ``name`` for the block; stop it (and the tasks it started) at the end."""
    before = asyncio.all_tasks()
    task = asyncio.create_task(main, name=name)
    try:
        yield task
    finally:
        await _stop(task, before)


async def _stop(task: asyncio.Task[None], before: set[asyncio.Task[Any]]) -> None:
    task.cancel()
    await asyncio.wait({task}, timeout=STOP_GRACE_S)
    try:
        async with asyncio.timeout(STOP_DEADLINE_S):
            while not task.done():
                for t in asyncio.all_tasks() - before - {asyncio.current_task()}:
                    t.cancel()
                await asyncio.wait({task}, timeout=RECANCEL_EVERY_S)
    except TimeoutError:
        stacks = {
            t.get_name(): [f"{f.f_code.co_name}:{f.f_lineno}" for f in t.get_stack()] for t in asyncio.all_tasks()
        }
        raise AssertionError(f"{task.get_name()} did not stop within {STOP_DEADLINE_S} s: {stacks}") from None
    failure = None if task.cancelled() else task.exception()
    if failure is not None:
        raise failure

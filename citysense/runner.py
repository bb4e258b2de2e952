"""Run a long-running command's main coroutine until it ends or is told to stop (SIGTERM, SIGINT).

A stop must finish within :data:`STOP_DEADLINE_S` even under full load, on
Python 3.11, whose ``asyncio.wait_for`` (used inside aiomqtt's publish and
pymodbus's reads) returns the result instead of raising when a cancel lands
just as the awaited reply arrives. A task that loses its cancel that way keeps
running, and the ``TaskGroup`` that cancelled it waits for it forever. So a
stop here does not rely on one cancel reaching every task:

1. SIGTERM or SIGINT (handled even when the launcher ignores SIGINT) cancels
   the main task once: its ``TaskGroup``s cancel their children and its
   ``finally`` blocks close connections, buffers and stores in order;
2. after :data:`STOP_GRACE_S`, every task that was running when the stop was
   asked and is still running is cancelled again, every
   :data:`RECANCEL_EVERY_S`, until the main task has ended (a second signal
   starts this at once); long-running loops also call :func:`check_cancelled`
   once per turn, so a lost cancel stops them at their next turn anyway;
3. tasks left after the main task ended are cancelled the same way;
4. a watchdog thread ends the process with status :data:`EXIT_STUCK` (after
   dumping every thread's stack to stderr) if all this took longer than
   :data:`STOP_DEADLINE_S`, e.g. a thread stuck in a blocking call.

A clean stop exits with status 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import os
import signal
import sys
import threading
from collections.abc import Coroutine, Iterable
from typing import Any

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
STOP_GRACE_S = 2.0
RECANCEL_EVERY_S = 0.25
STOP_DEADLINE_S = 9.5
EXIT_STUCK = 70  # EX_SOFTWARE (sysexits.h): the stop did not finish in time

log = logging.getLogger(__name__)


_stopping = False  # set once this process was told to stop (SIGTERM/SIGINT through run_until_interrupted)


def stopping() -> bool:
    """True once the process was told to stop."""
    return _stopping


def check_cancelled(*, leaf: bool = False) -> None:
    """Raise ``CancelledError`` in a task asked to stop, even if a ``wait_for`` swallowed that cancel.

    ``Task.cancelling()`` still counts a cancel that ``wait_for`` turned into a
    normal return. It is reliable in a *leaf* task, one that runs no
    ``TaskGroup`` of its own: on Python 3.11 a ``TaskGroup`` whose child fails
    after the body ended leaves its parent's count raised (fixed in 3.12). So
    by default it is trusted only during a process stop; ``leaf=True`` trusts
    it always. Call it once per turn of a long-running loop.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling() and (leaf or _stopping):
        raise asyncio.CancelledError


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], grace_s: float = 0.0) -> None:
    """Cancel ``tasks`` and wait until all ended, cancelling again every :data:`RECANCEL_EVERY_S`.

    A plain ``cancel()`` then ``gather()`` waits forever for a task whose cancel
    Python 3.11's ``wait_for`` swallowed (see the module doc). ``grace_s``
    leaves the first cancel that long to run the tasks' ``finally`` blocks
    (closing a buffer, releasing leases) before cancelling again, as a process
    stop does with :data:`STOP_GRACE_S`.
    """
    pending = {t for t in tasks if not t.done()}
    wait_s = max(grace_s, RECANCEL_EVERY_S)
    while pending:
        for t in pending:
            t.cancel()
        _, pending = await asyncio.wait(pending, timeout=wait_s)
        wait_s = RECANCEL_EVERY_S


def run_until_interrupted(main: Coroutine[Any, Any, None], log_level: str | int = "INFO") -> int:
    """Configure logging, run ``main`` until it ends or a stop signal; return the exit code 0."""
    logging.basicConfig(level=log_level, format=LOG_FORMAT)
    with contextlib.suppress(KeyboardInterrupt):  # a Ctrl-C before the loop's handlers were installed
        asyncio.run(_supervise(main))
    return 0


class _Stop:
    """The stop request: set by the first signal; a second one skips the grace period."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.hurry = asyncio.Event()
        self.signal_name = ""

    def on_signal(self, sig: signal.Signals) -> None:
        if self.requested.is_set():
            log.warning("second %s: cancelling every remaining task now", sig.name)
            self.hurry.set()
            return
        global _stopping  # noqa: PLW0603 - one stop per process
        _stopping = True
        self.signal_name = sig.name
        self.requested.set()
        _start_watchdog()


async def _supervise(main: Coroutine[Any, Any, None]) -> None:
    loop = asyncio.get_running_loop()
    stop = _Stop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.on_signal, sig)
    task = loop.create_task(main, name="main")
    waiter = loop.create_task(stop.requested.wait(), name="stop-signal")
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if not task.done():
        log.info("%s: stopping", stop.signal_name)
        lingering = asyncio.all_tasks() - {asyncio.current_task(), task}
        task.cancel()
        await _cancel_until_done(task, lingering, stop)
    await _cancel_until_done(None, asyncio.all_tasks() - {asyncio.current_task()}, stop)
    if task.cancelled():
        log.info("stopped")
        return
    task.result()  # a failure of main is the command's failure


async def stop_and_wait(main: asyncio.Task[Any], started: Iterable[asyncio.Task[Any]]) -> None:
    """Stop ``main`` as a process stop does: cancel it once; past :data:`STOP_GRACE_S` cancel the tasks it
    ``started`` again and again until it has ended (on Python 3.11 a ``TaskGroup`` passes only the first cancel of
    its parent on to its children, so cancelling ``main`` again would not reach a child that lost its cancel)."""
    main.cancel()
    await _cancel_until_done(main, set(started), _Stop())


async def _cancel_until_done(main: asyncio.Task[Any] | None, tasks: set[asyncio.Task[Any]], stop: _Stop) -> None:
    """Wait for ``main`` (or, without it, for ``tasks``); past the grace period cancel ``tasks`` again and again."""
    loop = asyncio.get_running_loop()
    grace_until = loop.time() + (0 if main is None else STOP_GRACE_S)
    for t in tasks if main is None else ():
        t.cancel()
    warned = main is None  # tasks left after main are cancelled as a matter of course: no warning
    while True:
        pending = {t for t in tasks if not t.done()}
        watched = {main} if main is not None else pending
        if not any(not t.done() for t in watched):
            return
        await asyncio.wait(watched, timeout=RECANCEL_EVERY_S)
        if loop.time() >= grace_until or stop.hurry.is_set():
            again = [t for t in pending if not t.done()]
            if again and not warned:
                names = ", ".join(sorted(t.get_name() for t in again)[:10])
                log.warning("%d tasks still running after the grace period; cancelling again: %s", len(again), names)
                warned = True
            for t in again:
                t.cancel()


def _start_watchdog() -> None:
    def expire() -> None:
        print(f"stop did not finish within {STOP_DEADLINE_S} s; stacks:", file=sys.stderr, flush=True)
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        os._exit(EXIT_STUCK)

    timer = threading.Timer(STOP_DEADLINE_S, expire)
    timer.daemon = True
    timer.start()

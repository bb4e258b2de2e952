"""Keep the store set up and say whether it answers.

At start the hub creates what the store needs (InfluxDB 1.x: the database,
the retention policies and the rollup continuous queries). When the store is
down then, ingest still runs (batches spool to disk) and :meth:`StoreWatch.run`
tries the set-up again, with capped full-jitter back-off, until it succeeds;
then it warms what waited for the store (``on_ready``: the latest values).
From then on it pings the store every ``interval_s``, so ``/api/v1/health``
shows a store outage even while no data is written.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from citysense.runner import check_cancelled
from hub.store.base import Store
from hub.store.errors import StoreError, StoreRejected

log = logging.getLogger(__name__)
StoreState = Literal["ok", "setting_up", "unavailable"]
SETUP_RETRY_MAX_S = 30.0


class StoreWatch:
    """Retries the store's set-up until it succeeds, then pings it."""

    def __init__(
        self, store: Store, *, interval_s: float = 10.0, on_ready: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.store = store
        self.interval_s = interval_s
        self.on_ready = on_ready
        self.ready = False  # set-up done
        self.answering: bool | None = None  # the last ping's outcome (None: not pinged yet)
        self.error = ""
        self.setup_attempts = 0
        self.last_ok_mono: float | None = None

    def state(self) -> StoreState:
        """``setting_up`` until the set-up succeeded; then ``ok`` or ``unavailable`` per the last ping."""
        if not self.ready:
            return "setting_up"
        return "unavailable" if self.answering is False else "ok"

    def ok(self) -> bool:
        """True when the store is set up and answered its last ping."""
        return self.state() == "ok"

    def started(self) -> None:
        """The hub's own start-up set the store up."""
        self.ready, self.answering, self.last_ok_mono = True, True, time.monotonic()

    async def run(self) -> None:
        """Set the store up (if the start-up could not), then ping it forever."""
        attempt = 0
        while not self.ready:
            check_cancelled()
            self.setup_attempts += 1
            try:
                await self.store.start()
            except StoreError as exc:
                if not self.error:  # one line per outage, not per attempt
                    level = logging.ERROR if isinstance(exc, StoreRejected) else logging.WARNING
                    log.log(level, "store set-up failed (%s); retrying until it succeeds", exc)
                self.error = str(exc)
                attempt += 1
                await asyncio.sleep(random.uniform(0, min(SETUP_RETRY_MAX_S, 0.5 * 2 ** min(attempt, 8))))
                continue
            log.info("store set up after %d attempts", self.setup_attempts)
            self.started()
            self.error = ""
            if self.on_ready is not None:
                await self.on_ready()
        while True:
            check_cancelled(leaf=True)
            await asyncio.sleep(self.interval_s)
            await self._ping()

    async def _ping(self) -> None:
        try:
            await self.store.ping()
        except StoreError as exc:
            if self.answering is not False:
                log.warning("store does not answer: %s", exc)
            self.answering, self.error = False, str(exc)
            return
        if self.answering is False:
            log.info("store answers again")
        self.answering, self.error, self.last_ok_mono = True, "", time.monotonic()

"""The delivery worker: waits for due outbox rows and attempts them concurrently.

It sleeps until the earliest row is due or :meth:`Deliverer.wake` is called
(no polling loop with short sleeps); every attempt runs under
``asyncio.timeout``. Steady failures are counted, and logged once per row
state change (first failure, give-up).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

import httpx

from hub.notify.errors import DeliveryFailed
from hub.notify.message import Message, Provider
from hub.notify.models import OutboxRow
from hub.notify.outbox import Outbox, Outcome

log = logging.getLogger(__name__)
IDLE_WAIT_S = 60.0
DB_RETRY_S = 5.0


class Deliverer:
    """Drains the outbox through the providers."""

    def __init__(
        self,
        outbox: Outbox,
        providers: Mapping[str, Provider],
        *,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.outbox = outbox
        self.providers = providers
        self.timeout_s = timeout_s
        self.clock = clock
        self._wake = asyncio.Event()
        # A claimed row is due again after this: longer than any attempt (one per row, each under the timeout).
        self.hold_ms = int((2 * timeout_s + 5) * 1000)
        self.sent = 0
        self.failures = 0
        self.db_errors = 0

    def wake(self) -> None:
        """Look at the outbox now (new rows were enqueued)."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled; an outbox the database cannot read now is retried, never fatal."""
        failing = False
        async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client:
            while True:
                self._wake.clear()
                try:
                    wait = await self._round(client)
                except Exception:  # the database went away (a restart, a failover): rows stay due in it
                    self.db_errors += 1
                    if not failing:
                        log.exception("notify: the outbox cannot be read; retrying every %.0f s", DB_RETRY_S)
                    failing, wait = True, DB_RETRY_S
                else:
                    if failing:
                        log.info("notify: the outbox is readable again")
                    failing = False
                if wait is None:
                    continue
                try:
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    async def _round(self, client: httpx.AsyncClient) -> float | None:
        """Attempt what is due; return how long to wait for the next row (None: look again at once)."""
        now_ms = int(self.clock() * 1000)
        rows = await asyncio.to_thread(self.outbox.claim, now_ms, self.hold_ms)
        if rows:
            await self._attempt_all(client, rows)
            return None
        nxt = await asyncio.to_thread(self.outbox.next_due_ms)
        wait = IDLE_WAIT_S if nxt is None else max(0.0, nxt / 1000 - self.clock())
        return min(wait, IDLE_WAIT_S)

    async def _attempt_all(self, client: httpx.AsyncClient, rows: list[OutboxRow]) -> None:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(self._attempt(client, r), name=f"notify:{r.id}") for r in rows]
        outcomes = [t.result() for t in tasks]
        given_up = await asyncio.to_thread(self.outbox.record, outcomes, int(self.clock() * 1000))
        for row in given_up:
            log.error("%s: notification %s to %r given up: %s", row.channel, row.id, row.recipient, row.last_error)

    async def _attempt(self, client: httpx.AsyncClient, row: OutboxRow) -> Outcome:
        provider = self.providers.get(row.channel)
        if provider is None:
            return Outcome(row.id, False, False, "", f"no channel '{row.channel}' configured")
        try:
            async with asyncio.timeout(self.timeout_s):
                pid = await provider.send(client, Message.from_json(row.message_json), self.clock())
        except DeliveryFailed as exc:
            self.failures += 1
            if row.attempts == 0:
                log.warning("%s: notification %s failed (%s); retrying per schedule", row.channel, row.id, exc)
            return Outcome(row.id, False, exc.retryable, "", str(exc))
        except TimeoutError:
            self.failures += 1
            return Outcome(row.id, False, True, "", f"no answer within {self.timeout_s} s")
        self.sent += 1
        return Outcome(row.id, True, False, pid, "")

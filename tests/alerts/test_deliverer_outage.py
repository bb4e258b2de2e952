"""The delivery worker outlives a database outage and delivers what was queued once the database is back."""

from __future__ import annotations

import asyncio
import contextlib
import time

from citysense.runner import STOP_GRACE_S, cancel_and_wait
from hub.notify.deliverer import Deliverer
from hub.notify.message import Message
from hub.notify.models import OutboxRow
from hub.notify.outbox import Outbox
from hub.notify.providers.webhook import WebhookProvider
from hub.registry.service import Registry
from tests.alerts.httpfake import fake_provider
from tests.harness.postgres import PostgresServer
from tests.harness.server import started


def _row(now_ms: int) -> OutboxRow:
    msg = Message(id="outage-1", recipient="", subject="s", text="t", event={"type": "alarm.raised", "alarms": []})
    return OutboxRow(
        id=msg.id, alarm_ids=",1,", channel="hook", kind="webhook", recipient="", message_json=msg.to_json(),
        status="pending", attempts=0, next_attempt_ms=now_ms, last_error="", created_ms=now_ms, provider_id="",
        receipt="", day="",
    )  # fmt: skip


def test_a_database_outage_does_not_stop_notifications() -> None:
    pg = started(PostgresServer)
    try:
        registry = Registry(pg.url)
        registry.migrate()
        outbox = Outbox(registry, [0.0, 1.0])

        async def main() -> None:
            with fake_provider(lambda _seen: (200, "text/plain", b"")) as hook:
                deliverer = Deliverer(outbox, {"hook": WebhookProvider(hook.url, "secret")}, timeout_s=5)
                task = asyncio.create_task(deliverer.run(), name="test:deliverer")
                await asyncio.sleep(0.5)
                # The database refuses every session (as during a restart or a failover).
                pg.refuse_sessions()
                deliverer.wake()
                async with asyncio.timeout(10):
                    while deliverer.db_errors == 0:  # noqa: ASYNC110 - the counter is the deliverer's only signal
                        await asyncio.sleep(0.1)
                assert not task.done()  # it died here before: the outbox query's error ended the hub
                pg.accept_sessions()
                await asyncio.to_thread(outbox.enqueue, [_row(int(time.time() * 1000))])
                deliverer.wake()
                async with asyncio.timeout(20):
                    while not hook.seen:  # noqa: ASYNC110 - the fake server records requests from its thread
                        await asyncio.sleep(0.1)
                assert hook.seen[0].headers["webhook-id"] == "outage-1"
                await cancel_and_wait([task], grace_s=STOP_GRACE_S)
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        asyncio.run(main())
        registry.engine.dispose()
    finally:
        pg.close()

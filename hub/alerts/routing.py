"""One routing pass: alarms with a notification due become outbox rows (synchronous; run in a thread).

Several province workers share one database and each runs a router; the pass
runs under :meth:`AlarmStore.routing_turn` so one pass at a time decides, and
a pass that finds the turn taken is skipped (the holder routes the same
alarms). Reading the due alarms, deciding, enqueueing and marking them
notified happen inside the turn, so two workers never decide the same alarm.
"""

from __future__ import annotations

from hub.alerts.config import AlertConfig
from hub.alerts.router import Router
from hub.alerts.silencing import active_matches
from hub.alerts.store import AlarmStore
from hub.notify.outbox import Outbox


def route_pass(
    store: AlarmStore, outbox: Outbox, router: Router, cfg: AlertConfig, now_ms: int, offline: set[str] | None
) -> bool:
    """Route what is due; ``offline`` = nodes with an open node-offline alarm (``None``: ask the database).

    Returns True when rows were enqueued (the deliverer should look now).
    """
    with store.routing_turn() as mine:
        if not mine:
            return False  # another worker is routing these very alarms now
        alarms = store.due(now_ms)
        if not alarms:
            return False
        decision = router.decide(
            alarms,
            now_ms,
            offline_nodes=offline if offline is not None else store.offline_nodes(),
            silences=active_matches(cfg, store, now_ms),
            sms_spent=outbox.sms_count,
        )
        if decision.rows:
            outbox.enqueue(decision.rows)
        if decision.updates:
            store.mark_notified(decision.updates, now_ms)
        return bool(decision.rows)

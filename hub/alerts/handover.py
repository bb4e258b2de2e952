"""A partition of the province tier changing hands, as the alert engine sees it.

:class:`AlertPartitions` is the partition observer a cluster worker calls
(:class:`~hub.cluster.worker.PartitionWorker`):

* **gained**: seal the partition with the new fencing token in the database
  (:func:`hub.alerts.fences.seal`), then load its nodes' evaluation states —
  as its previous owner last wrote them: pending ``for`` timers, windows,
  active alarms — and evaluate its nodes from then on. Silence (no-data, node
  offline) is counted from the gain at the earliest, as from a restart: while
  nobody held the partition nobody heard its nodes. A silence alarm already
  active stays active until its device or node is heard again.
* **lost** (after the group in hand is finished): write the partition's
  changed states under the old token (refused if a newer owner sealed it
  already), then forget them.

A worker killed outright never calls ``lost``: its successor starts from its
last flush (every ``flush_s``) and from the transitions it recorded, which
carry their state with them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from hub.alerts import fences
from hub.alerts.core import EvalState, silence_from

if TYPE_CHECKING:
    from hub.alerts.binding import Key
    from hub.alerts.engine import AlertEngine

log = logging.getLogger(__name__)


def _nodata_index(engine: AlertEngine, key: Key) -> list[int]:
    return [i for i in engine._nodata_dev.get(key[0], ()) if engine._nodata[i] == key]


def adopt_partition(engine: AlertEngine, p: int, token: int, saved: dict[Key, str], now_ms: int) -> None:
    """Evaluate partition ``p``'s nodes from now on, from the states ``saved`` (no await: one consistent step)."""
    assert engine.scope is not None
    engine.scope.tokens[p] = token
    engine.scope.since_ms[p] = now_ms
    for key in engine.keys_of.get(p, ()):
        text = saved.get(key)
        st = EvalState.from_json(text) if text else EvalState(created_ms=now_ms)
        engine.states[key] = st
        engine._track(key, st)
        for i in _nodata_index(engine, key):
            engine._nd_seen[i] = silence_from(st, now_ms)
            engine._nd_active[i] = st.active
            engine._nd_owned[i] = True


def drop_partition(engine: AlertEngine, p: int) -> None:
    """Stop evaluating partition ``p``'s nodes and forget their states (its next owner has them)."""
    assert engine.scope is not None
    engine.scope.tokens.pop(p, None)
    engine.scope.since_ms.pop(p, None)
    now_ms = int(engine.clock() * 1000)
    for key in engine.keys_of.get(p, ()):
        engine.states[key] = EvalState(created_ms=now_ms)
        engine.timed.discard(key)
        engine.dirty.discard(key)
        for i in _nodata_index(engine, key):
            engine._nd_active[i] = False
            engine._nd_owned[i] = False


class AlertPartitions:
    """The alert engine's side of partitions moving between workers."""

    def __init__(self, engine: AlertEngine) -> None:
        if engine.scope is None:
            raise ValueError("the alert engine has no partition scope: it evaluates every node")
        self.engine = engine
        self.scope = engine.scope

    async def gained(self, p: int, token: int) -> None:
        """Seal ``p`` with ``token`` and take its states over; raises if the database cannot be reached."""
        engine = self.engine
        now_ms = int(engine.clock() * 1000)
        devices = sorted({key[0] for key in engine.keys_of.get(p, ())})

        def load() -> dict[Key, str]:
            fences.seal(engine.store.sessions, p, token, self.scope.worker, now_ms)
            return engine.store.load_states_of(devices)

        saved = await asyncio.to_thread(load)
        adopt_partition(engine, p, token, saved, now_ms)
        log.info("alerts: partition %d (token %d): %d states taken over", p, token, len(saved))

    async def lost(self, p: int, token: int) -> None:
        """Write ``p``'s changed states under ``token`` (if still allowed), then drop them."""
        if self.scope.tokens.get(p) != token:
            return  # dropped already (fenced), or gained again meanwhile under a newer token
        try:
            await self.engine.flush(self.engine.keys_of.get(p, ()))
        except Exception:  # the database is away: the next owner resumes from the previous flush
            log.exception("alerts: partition %d: last flush failed", p)
        drop_partition(self.engine, p)

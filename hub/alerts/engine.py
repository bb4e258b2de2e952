"""The alert engine: readings in, alarms and outbox rows out.

- :meth:`AlertEngine.on_stored` is the ingest pipeline's observer: it runs the
  rules of each stored reading (a dict lookup per reading when a metric has
  no rule) and records transitions.
- :meth:`AlertEngine.run` owns the timer (pending ``for``/``clear_for``,
  silence, node liveness), the state flusher, the router and the delivery
  worker, as named tasks of one TaskGroup.

Evaluation states live in memory and are flushed to the database every
``flush_s`` when they changed in a way a restart must not forget (pending
timers, active alarms, windows), so a restart resumes a pending ``for``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

import numpy as np

from citysense.profiles import ProfileSet
from citysense.profiles.alertrules import AlertRule
from hub.alerts import core
from hub.alerts.binding import Bound, Key, bind, has_timer
from hub.alerts.config import AlertConfig, Match
from hub.alerts.core import EvalState, Transition
from hub.alerts.resolve import effective_rules
from hub.alerts.router import Router
from hub.alerts.silencing import active_matches
from hub.alerts.store import AlarmStore, Where
from hub.alerts.topology import Topology, load_topology
from hub.notify.config import build_provider
from hub.notify.deliverer import Deliverer
from hub.notify.outbox import Outbox
from hub.registry.models import Node
from hub.registry.service import Registry
from hub.registry.snapshot import RegistrySnapshot
from hub.store.base import StoredReading

log = logging.getLogger(__name__)
UNRECORDED_MAX = 100_000  # transitions kept for the database while it is away (the newest)


def _fingerprint(st: EvalState) -> tuple[object, ...]:
    # What a restart must not lose; last_target alone is re-derived from the next sample.
    return (
        st.active,
        st.severity,
        st.pending_since_ms,
        st.clearing_since_ms,
        st.bad_since_ms,
        len(st.samples),
        st.samples[-1] if st.samples else None,
        len(st.flags),
        st.flags[-1] if st.flags else None,
    )


class AlertEngine:
    """Evaluates rules over stored readings and node liveness; hands alarms to the router."""

    def __init__(
        self,
        *,
        registry: Registry,
        snapshot: RegistrySnapshot,
        profiles: ProfileSet,
        cfg: AlertConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.snapshot = snapshot
        self.profiles = profiles
        self.cfg = cfg
        self.clock = clock
        self.store = AlarmStore(registry)
        self.outbox = Outbox(registry, cfg.retry_schedule_s)
        self.deliverer = Deliverer(
            self.outbox,
            {n: build_provider(c) for n, c in cfg.channels.items()},
            timeout_s=cfg.send_timeout_s,
            clock=clock,
        )
        self.topology = Topology()
        self.router = Router(cfg, self.topology)
        self.by_metric: dict[str, dict[str, list[Bound]]] = {}
        self.bound: dict[Key, Bound] = {}
        self.states: dict[Key, EvalState] = {}
        self.timed: set[Key] = set()
        self.dirty: set[Key] = set()
        self.group_wait_ms = int(min((p.group_wait_s for p in cfg.policies), default=0) * 1000)
        self._route_now = asyncio.Event()
        self._nodata: list[Key] = []
        self._nodata_dev: dict[str, list[int]] = {}
        self._nd_seen = np.zeros(0)
        self._nd_limit = np.zeros(0)
        self._nd_active = np.zeros(0, dtype=bool)
        self.started_ms = 0
        self.evaluations = 0
        self.errors = 0
        self._unrecorded: list[tuple[Where, Transition]] = []  # transitions the database did not take yet

    # -- setup -----------------------------------------------------------------
    async def start(self) -> None:
        """Load topology, bind rules to devices and restore persisted evaluation states."""
        self.started_ms = int(self.clock() * 1000)
        self.topology = await asyncio.to_thread(load_topology, self.registry)
        self.router = Router(self.cfg, self.topology)
        saved = await asyncio.to_thread(self.store.load_states)

        def restored(key: Key) -> EvalState:
            text = saved.get(key)
            return EvalState.from_json(text) if text else EvalState(created_ms=self.started_ms)

        self._bind_all(restored, {}, self.started_ms)
        log.info("alerts: %d rules bound, %d states restored", len(self.bound), len(saved))

    async def refresh(self, snapshot: RegistrySnapshot) -> None:
        """Re-bind the rules after the registry changed: new nodes are watched at once, removed ones dropped.

        Evaluation states of rules that stay bound are kept as they are (a pending
        ``for`` goes on); a new device's silence is counted from now.
        """
        topology = await asyncio.to_thread(load_topology, self.registry)
        now_ms = int(self.clock() * 1000)
        states = self.states
        seen = {key: float(self._nd_seen[i]) for i, key in enumerate(self._nodata)}

        def kept(key: Key) -> EvalState:
            return states.get(key) or EvalState(created_ms=now_ms)

        # No await from here on: readings are evaluated against either the old or the new binding, never a mix.
        self.snapshot, self.topology = snapshot, topology
        self.router = Router(self.cfg, topology)
        before = len(self.bound)
        self._bind_all(kept, seen, now_ms)
        self.dirty.intersection_update(self.states)
        log.info("alerts: registry changed; %d rules bound (were %d)", len(self.bound), before)

    def _bind_all(self, state_of: Callable[[Key], EvalState], seen: Mapping[Key, float], since_ms: int) -> None:
        """Bind every rule of the snapshot (binding.py) and set up the no-data silence arrays."""
        b = bind(self.snapshot, self.topology, self.profiles, self.cfg, state_of)
        self.bound, self.states, self.by_metric, self.timed = b.bound, b.states, b.by_metric, b.timed
        self._nodata, self._nodata_dev = b.nodata, b.nodata_by_device
        n = len(self._nodata)
        self._nd_seen = np.empty(n)
        self._nd_limit = np.empty(n)
        self._nd_active = np.zeros(n, dtype=bool)
        for i, key in enumerate(self._nodata):
            st, rule = self.states[key], self.bound[key]
            # Silence is counted from the restart (or the device's arrival) at the earliest.
            self._nd_seen[i] = seen.get(key, max(st.last_seen_ms or 0, since_ms))
            self._nd_limit[i] = rule.interval_s * rule.rule.tolerance * 1000
            self._nd_active[i] = st.active

    def rules_for(self, node_id: str, device_uid: str, profile_id: str) -> list[AlertRule]:
        """The rules in force for one device: its profile's, overridden by region and device rules."""
        prof = self.profiles.get(profile_id)
        place = self.topology.place(node_id)
        return effective_rules(
            profile=profile_id,
            profile_rules=prof.alerts if prof is not None else [],
            device=device_uid,
            region_chain=place.chain,
            region_rules=self.cfg.region_rules,
            device_rules=self.cfg.device_rules,
        )

    # -- evaluation ------------------------------------------------------------
    async def on_stored(self, readings: Sequence[StoredReading]) -> None:
        """Evaluate the rules of freshly stored readings (the ingest pipeline's observer)."""
        out: list[tuple[Where, Transition]] = []
        for r in readings:
            idx = self._nodata_dev.get(r.device)
            if idx is not None:
                for i in idx:
                    self._nd_seen[i] = max(self._nd_seen[i], r.ts_ms)
                    if self._nd_active[i]:
                        self._eval_nodata(i, r, out)
            metrics = self.by_metric.get(r.device)
            if metrics is None:
                continue
            for b in metrics.get(r.metric, ()):
                value = float(r.value) if isinstance(r.value, int | float) else None
                st = self.states[b.key]
                before = _fingerprint(st)
                tr = core.evaluate(b.rule, st, value, r.quality, r.ts_ms)
                self.evaluations += 1
                if _fingerprint(st) != before:
                    self.dirty.add(b.key)
                    self._track(b.key, st)
                if tr is not None:
                    out.append((b.where, tr))
        if out:
            await self._record(out)

    def _eval_nodata(self, i: int, r: StoredReading, out: list[tuple[Where, Transition]]) -> None:
        key = self._nodata[i]
        b, st = self.bound[key], self.states[key]
        tr = core.evaluate(b.rule, st, 1.0, r.quality, r.ts_ms)
        self._nd_active[i] = st.active
        self.dirty.add(key)
        if tr is not None:
            out.append((b.where, tr))

    def _track(self, key: Key, st: EvalState) -> None:
        if has_timer(st):
            self.timed.add(key)
        else:
            self.timed.discard(key)

    async def _record(self, items: list[tuple[Where, Transition]]) -> None:
        for where, tr in items:
            log.info("%s: %s %s (severity %d, value %s)", where.device, where.rule_id, tr.kind, tr.severity, tr.value)
            self.dirty.add((where.device, where.rule_id))
        # Kept until the database took them: an alarm raised while it is away is recorded at a tick once it is back.
        batch = self._unrecorded + items
        try:
            await asyncio.to_thread(self.store.record, batch, self.group_wait_ms)
        except Exception:
            self._unrecorded = batch[-UNRECORDED_MAX:]
            raise
        self._unrecorded = []
        self._route_now.set()

    async def tick(self) -> None:
        """Advance timers: pending durations, window expiry, silence (numpy over all devices), node liveness."""
        now_ms = int(self.clock() * 1000)
        out: list[tuple[Where, Transition]] = []
        for key in list(self.timed):
            b, st = self.bound[key], self.states[key]
            tr = core.tick(b.rule, st, now_ms, b.interval_s)
            self.dirty.add(key)
            self._track(key, st)
            if tr is not None:
                out.append((b.where, tr))
        if len(self._nodata):
            silent = (now_ms - self._nd_seen) > self._nd_limit
            for i in np.flatnonzero(silent != self._nd_active):
                key = self._nodata[int(i)]
                b, st = self.bound[key], self.states[key]
                st.last_seen_ms = int(self._nd_seen[i])
                tr = core.tick(b.rule, st, now_ms, b.interval_s)
                self._nd_active[i] = st.active
                self.dirty.add(key)
                if tr is not None:
                    out.append((b.where, tr))
        if self.cfg.node_offline.enabled:
            out.extend(await self._node_liveness(now_ms))
        if out or self._unrecorded:
            await self._record(out)

    async def _node_liveness(self, now_ms: int) -> list[tuple[Where, Transition]]:
        def read() -> list[tuple[str, bool, int | None]]:
            with self.registry.session() as s:
                return [(n.id, n.online, n.last_seen_ms) for n in s.query(Node)]

        silence_ms = self.cfg.node_offline.silence_s * 1000
        out = []
        for node, online, seen in await asyncio.to_thread(read):
            key = (node, "node_offline")
            b = self.bound.get(key)
            if b is None:
                continue
            quiet_since = seen if seen is not None else self.started_ms
            alive = (online or seen is None) and now_ms - max(quiet_since, self.started_ms) <= silence_ms
            st = self.states[key]
            before = st.active
            tr = core.evaluate_node(b.rule, st, alive, now_ms)
            if tr is not None or st.active != before:
                self.dirty.add(key)
            if tr is not None:
                out.append((b.where, tr))
        return out

    def offline_nodes(self) -> set[str]:
        """Nodes with an active node-offline alarm (their sensors' alarms are inhibited)."""
        return {k[0] for k, st in self.states.items() if k[1] == "node_offline" and st.active}

    async def flush(self) -> None:
        """Persist changed evaluation states."""
        if not self.dirty:
            return
        keys, self.dirty = self.dirty, set()
        items = [(k[0], k[1], self.states[k].to_json()) for k in keys]
        await asyncio.to_thread(self.store.save_states, items, int(self.clock() * 1000))

    async def route(self) -> None:
        """Turn pending alarms into outbox rows."""
        now_ms = int(self.clock() * 1000)
        alarms = await asyncio.to_thread(self.store.due, now_ms)
        if not alarms:
            return
        silences = await asyncio.to_thread(self._silences, now_ms)
        decision = await asyncio.to_thread(
            self.router.decide,
            alarms,
            now_ms,
            offline_nodes=self.offline_nodes(),
            silences=silences,
            sms_spent=self.outbox.sms_count,
        )
        if decision.rows:
            await asyncio.to_thread(self.outbox.enqueue, decision.rows)
            self.deliverer.wake()
        if decision.updates:
            await asyncio.to_thread(self.store.mark_notified, decision.updates, now_ms)

    def _silences(self, now_ms: int) -> list[Match]:
        return active_matches(self.cfg, self.store, now_ms)

    # -- tasks -----------------------------------------------------------------
    async def run(self) -> None:
        """Run timer, flusher, router and delivery worker until cancelled."""
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._every(self.cfg.tick_s, self.tick), name="alerts:timer")
                tg.create_task(self._every(self.cfg.flush_s, self.flush), name="alerts:flush")
                tg.create_task(self._router_loop(), name="alerts:router")
                tg.create_task(self.deliverer.run(), name="alerts:deliver")
        finally:
            await asyncio.shield(self.flush())

    async def _every(self, period_s: float, fn: Callable[[], Awaitable[None]]) -> None:
        failing = False
        while True:
            await asyncio.sleep(period_s)
            try:
                await fn()
            except Exception:  # a database hiccup must not stop alerting; retried next period
                self.errors += 1
                if not failing:
                    log.exception("alerts: %s failed; retrying every %.1f s", getattr(fn, "__name__", fn), period_s)
                failing = True
            else:
                if failing:
                    log.info("alerts: %s recovered", getattr(fn, "__name__", fn))
                failing = False

    async def _router_loop(self) -> None:
        failing = False
        while True:
            try:
                async with asyncio.timeout(self.cfg.tick_s):
                    await self._route_now.wait()
            except TimeoutError:
                pass
            self._route_now.clear()
            try:
                await self.route()
            except Exception:  # keep routing; the alarms stay due in the database
                self.errors += 1
                if not failing:  # once per outage, not once per tick
                    log.exception("alerts: routing failed; retrying every %.1f s", self.cfg.tick_s)
                failing = True
            else:
                if failing:
                    log.info("alerts: routing recovered")
                failing = False

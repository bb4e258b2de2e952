"""The alert engine: readings in, alarms and outbox rows out.

- :meth:`AlertEngine.on_stored` is the ingest pipeline's observer: it runs the
  rules of each stored reading (a dict lookup per reading when a metric has
  no rule) and records transitions.
- :meth:`AlertEngine.run` owns the timer (pending ``for``/``clear_for``,
  silence, node liveness), the state flusher, the router and the delivery
  worker, as named tasks of one TaskGroup.

Evaluation states live in memory and are flushed to the database every
``flush_s`` when they changed in a way a restart must not forget (pending
timers, active alarms, windows), so a restart resumes a pending ``for``; a
transition is written together with the state that produced it.

A province worker passes a :class:`~hub.alerts.scope.PartitionScope`: the
engine then evaluates only the nodes of the partitions the worker holds,
loads a partition's states when it gains it and writes them under the
partition's fencing token (:mod:`hub.alerts.handover`, :mod:`hub.alerts.fences`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

import numpy as np

from citysense.profiles import ProfileSet
from citysense.profiles.alertrules import AlertRule
from hub.alerts import core
from hub.alerts.binding import Bound, Key, bind, has_timer
from hub.alerts.config import AlertConfig
from hub.alerts.core import EvalState, Transition, silence_from
from hub.alerts.handover import drop_partition
from hub.alerts.resolve import effective_rules
from hub.alerts.router import Router
from hub.alerts.routing import route_pass
from hub.alerts.scope import PartitionScope, fenced_write
from hub.alerts.store import AlarmStore, Where
from hub.alerts.topology import Topology, load_topology
from hub.notify.config import build_provider
from hub.notify.deliverer import Deliverer
from hub.notify.outbox import Outbox
from hub.registry.models import Node
from hub.registry.outage import Periodic
from hub.registry.service import Registry
from hub.registry.snapshot import RegistrySnapshot
from hub.store.base import StoredReading

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_UNRECORDED = 10_000


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
        scope: PartitionScope | None = None,
    ) -> None:
        self.registry = registry
        self.scope = scope
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
        self._nd_owned = np.zeros(0, dtype=bool)  # evaluated here: all (a county) or the held partitions' nodes
        self.keys_of: dict[int, list[Key]] = {}  # partition -> keys of its nodes (scoped engines only)
        self._unrecorded: list[tuple[Where, Transition]] = []  # refused by the database: retried first
        self.started_ms = 0
        self.evaluations = 0
        self.errors = 0

    # -- setup -----------------------------------------------------------------
    async def start(self) -> None:
        """Load topology, bind rules to devices and restore persisted evaluation states."""
        self.started_ms = int(self.clock() * 1000)
        self.topology = await asyncio.to_thread(load_topology, self.registry)
        self.router = Router(self.cfg, self.topology)
        # A province worker loads each partition's states when it gains it (hub/alerts/handover.py).
        saved = {} if self.scope is not None else await asyncio.to_thread(self.store.load_states)

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
            # Silence is counted from the restart (or the device's arrival) at the earliest; an alarm already
            # active stays so until the device is heard again.
            self._nd_seen[i] = seen.get(key, silence_from(st, since_ms))
            self._nd_limit[i] = rule.interval_s * rule.rule.tolerance * 1000
            self._nd_active[i] = st.active
        if self.scope is None:
            self._nd_owned = np.ones(n, dtype=bool)
            return
        scope, keys_of = self.scope, dict[int, list[Key]]()
        for key, bound in self.bound.items():
            keys_of.setdefault(scope.partition(bound.where.node), []).append(key)
        self.keys_of = keys_of
        self._nd_owned = np.array([scope.owns(self.bound[k].where.node) for k in self._nodata], dtype=bool)

    def node_of(self, key: Key) -> str:
        """The node a bound key belongs to."""
        return self.bound[key].where.node

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
        scope = self.scope
        for r in readings:
            if scope is not None and not scope.owns(r.node):
                continue  # a spooled reading of a partition that moved on: its owner evaluates that node now
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
                if scope is not None and st.last_seen_ms is not None and r.ts_ms <= st.last_seen_ms:
                    continue  # delivered again after a worker died: this state has counted it already
                before = _fingerprint(st)
                tr = core.evaluate(b.rule, st, value, r.quality, r.ts_ms)
                self.evaluations += 1
                if _fingerprint(st) != before:
                    self.dirty.add(b.key)
                    self._track(b.key, st)
                if tr is not None:
                    out.append((b.where, tr))
        if out or self._unrecorded:
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
        """Write transitions with their states; what the database did not take is retried first next time.

        The evaluation state has moved on already (an alarm raised in memory),
        so a transition lost to a database hiccup would never be raised again.
        """
        for where, tr in items:
            log.info("%s: %s %s (severity %d, value %s)", where.device, where.rule_id, tr.kind, tr.severity, tr.value)
            self.dirty.add((where.device, where.rule_id))
        items, self._unrecorded = self._unrecorded + items, []
        states = {
            (w.device, w.rule_id): st.to_json() for w, _ in items if (st := self.states.get((w.device, w.rule_id)))
        }

        def record(part: list[tuple[Where, Transition]], fence: dict[int, int] | None) -> None:
            keys = {(w.device, w.rule_id) for w, _ in part}
            rows = [(k[0], k[1], text) for k, text in states.items() if k in keys]
            actor = "engine" if self.scope is None else self.scope.actor
            self.store.record(part, self.group_wait_ms, states=rows, fence=fence, actor=actor)

        try:
            await self._write(items, lambda item: item[0].node, record)
        except Exception:
            kept = (items + self._unrecorded)[-MAX_UNRECORDED:]
            if len(kept) < len(items) + len(self._unrecorded):
                log.exception("alerts: more than %d transitions not recorded; the oldest are dropped", MAX_UNRECORDED)
            self._unrecorded = kept
            raise
        self._route_now.set()

    async def _write(
        self, items: list[T], node_of: Callable[[T], str], call: Callable[[list[T], dict[int, int] | None], None]
    ) -> None:
        """Run ``call`` in a thread; a scoped engine writes only its partitions' items, under their tokens."""
        if self.scope is None:
            await asyncio.to_thread(call, items, None)
        else:
            await fenced_write(self.scope, items, node_of, call, lambda p: drop_partition(self, p))

    async def tick(self) -> None:
        """Advance timers: pending durations, window expiry, silence (numpy over all devices), node liveness."""
        now_ms = int(self.clock() * 1000)
        out: list[tuple[Where, Transition]] = []
        for key in list(self.timed):
            b, st = self.bound[key], self.states[key]
            if self.scope is not None and not self.scope.owns(b.where.node):
                self.timed.discard(key)
                continue
            tr = core.tick(b.rule, st, now_ms, b.interval_s)
            self.dirty.add(key)
            self._track(key, st)
            if tr is not None:
                out.append((b.where, tr))
        if len(self._nodata):
            silent = (now_ms - self._nd_seen) > self._nd_limit
            for i in np.flatnonzero((silent != self._nd_active) & self._nd_owned):
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
            if b is None or (self.scope is not None and not self.scope.owns(node)):
                continue
            st = self.states[key]
            since = self.started_ms if self.scope is None else self.scope.since_ms[self.scope.partition(node)]
            since = 0 if st.active else since  # an offline alarm stays active until the node is heard again
            quiet_since = seen if seen is not None else since
            alive = (online or seen is None) and now_ms - max(quiet_since, since) <= silence_ms
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

    async def flush(self, keys: Iterable[Key] | None = None) -> None:
        """Persist changed evaluation states (all, or those of ``keys``)."""
        if keys is None:
            keys, self.dirty = self.dirty, set()
        else:
            keys = self.dirty.intersection(keys)
            self.dirty.difference_update(keys)
        if not keys:
            return
        items = [(k[0], k[1], self.states[k].to_json()) for k in keys]
        now_ms = int(self.clock() * 1000)

        def save(part: list[tuple[str, str, str]], fence: dict[int, int] | None) -> None:
            self.store.save_states(part, now_ms, fence)

        await self._write(items, lambda item: self.node_of((item[0], item[1])), save)

    async def route(self) -> None:
        """Turn pending alarms into outbox rows (one routing pass at a time across a province's workers)."""
        now_ms = int(self.clock() * 1000)
        offline = self.offline_nodes() if self.scope is None else None  # a province's are in the database
        if await asyncio.to_thread(route_pass, self.store, self.outbox, self.router, self.cfg, now_ms, offline):
            self.deliverer.wake()

    # -- tasks -----------------------------------------------------------------
    async def run(self) -> None:
        """Run timer, flusher, router and delivery worker until cancelled."""
        try:
            async with asyncio.TaskGroup() as tg:
                # A database hiccup must not stop alerting: each round that fails is retried next period.
                tg.create_task(Periodic("alerts: timer", self.tick, self.cfg.tick_s).run(), name="alerts:timer")
                tg.create_task(Periodic("alerts: flush", self.flush, self.cfg.flush_s).run(), name="alerts:flush")
                tg.create_task(self._router_loop(), name="alerts:router")
                tg.create_task(self.deliverer.run(), name="alerts:deliver")
        finally:
            if self.scope is None:  # a province worker flushes each partition as it hands it over
                await asyncio.shield(self.flush())

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

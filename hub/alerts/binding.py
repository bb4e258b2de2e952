"""Which rule watches which device: the alert engine's index, built from a registry snapshot.

:func:`bind` resolves the rules in force for every device of every node
(profile defaults, region and device overrides from ``alerts.yaml``, plus the
node-offline rule) and indexes them the way evaluation looks them up: by
device and metric for reading-driven rules, in a list for no-data rules
(whose silence the engine tracks in numpy arrays), and the keys whose state
has a running timer. Each binding's evaluation state comes from ``state_of``,
so the engine can restore states from the database at start and keep its
in-memory ones when the registry changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from citysense.profiles import ProfileSet
from citysense.profiles.alertrules import AlertRule, RuleKind
from hub.alerts.config import AlertConfig
from hub.alerts.core import EvalState
from hub.alerts.resolve import effective_rules
from hub.alerts.store import Where
from hub.alerts.topology import Topology
from hub.registry.snapshot import RegistrySnapshot

Key = tuple[str, str]  # (device uid or node id, rule id)


@dataclass(slots=True)
class Bound:
    """A rule bound to one device (or node)."""

    rule: AlertRule
    key: Key
    where: Where
    interval_s: float


def has_timer(st: EvalState) -> bool:
    """True when the state waits on time (a pending ``for``, a ``clear_for``, a window)."""
    return st.pending_since_ms is not None or st.clearing_since_ms is not None or bool(st.samples)


@dataclass
class Bindings:
    """Every bound rule, its state, and the indexes evaluation uses."""

    bound: dict[Key, Bound] = field(default_factory=dict)
    states: dict[Key, EvalState] = field(default_factory=dict)
    by_metric: dict[str, dict[str, list[Bound]]] = field(default_factory=dict)  # device -> metric -> rules
    timed: set[Key] = field(default_factory=set)
    nodata: list[Key] = field(default_factory=list)
    nodata_by_device: dict[str, list[int]] = field(default_factory=dict)  # device -> indexes into nodata

    def add(self, b: Bound, st: EvalState) -> None:
        """Bind one rule with its state."""
        self.bound[b.key] = b
        self.states[b.key] = st
        if has_timer(st):
            self.timed.add(b.key)
        if b.rule.kind is RuleKind.NO_DATA:
            self.nodata_by_device.setdefault(b.key[0], []).append(len(self.nodata))
            self.nodata.append(b.key)
        elif b.rule.kind is not RuleKind.NODE_OFFLINE:
            assert b.rule.metric is not None
            self.by_metric.setdefault(b.key[0], {}).setdefault(b.rule.metric, []).append(b)


def bind(
    snapshot: RegistrySnapshot,
    topology: Topology,
    profiles: ProfileSet,
    cfg: AlertConfig,
    state_of: Callable[[Key], EvalState],
) -> Bindings:
    """Bind every rule of every node and device in ``snapshot``."""
    out = Bindings()
    for node in snapshot.nodes.values():
        place = topology.place(node.id)
        region = place.chain[0] if place.chain else ""
        if cfg.node_offline.enabled:
            off = AlertRule(
                id="node_offline",
                kind=RuleKind.NODE_OFFLINE,
                severity=cfg.node_offline.severity,
                for_s=cfg.node_offline.for_s,
            )
            w = Where(node.id, node.id, off.id, off.kind.value, "", region, place.department)
            out.add(Bound(off, (node.id, off.id), w, 0.0), state_of((node.id, off.id)))
        for dev in node.devices.values():
            prof = profiles.get(dev.profile)
            if prof is None:
                continue
            rules = effective_rules(
                profile=dev.profile,
                profile_rules=prof.alerts,
                device=dev.uid,
                region_chain=place.chain,
                region_rules=cfg.region_rules,
                device_rules=cfg.device_rules,
            )
            for r in rules:
                w = Where(dev.uid, node.id, r.id, r.kind.value, r.metric or "", region, place.department)
                out.add(Bound(r, (dev.uid, r.id), w, prof.expected_interval_s), state_of((dev.uid, r.id)))
    return out

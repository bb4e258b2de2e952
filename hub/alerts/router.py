"""Decide who hears about which alarm: policies, grouping, repeats, escalation, inhibition, silences.

Pure apart from the ``sms_spent`` callback (the daily budget lives in the
outbox). Input: alarms with a notification pending or a repeat due (see
:meth:`AlarmStore.due`). Output: outbox rows and, per alarm, the bookkeeping
to store. An alarm is notified on state changes (raised, escalated, cleared),
on repeats and on escalation steps; never on a plain evaluation.

Grouping: the first alarm of a policy waits ``group_wait_s``; every alarm of
that policy pending at that moment goes out in the same message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from hub.alerts import acklink, templates
from hub.alerts.config import AlertConfig, Match, Policy
from hub.alerts.lifecycle import ACTIVE
from hub.alerts.models import Alarm
from hub.alerts.silences import matches
from hub.alerts.topology import Topology
from hub.notify.config import SMS_TYPES
from hub.notify.message import Message
from hub.notify.models import OutboxRow
from hub.notify.outbox import PENDING, SKIPPED

Update = tuple[int, int | None, int, str, str]  # alarm id, next repeat, escalation step, action, detail


@dataclass
class Decision:
    """What the engine stores after one routing pass."""

    rows: list[OutboxRow] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)


class Router:
    """Routes alarms to contacts and channels through the configured policies."""

    def __init__(self, cfg: AlertConfig, topology: Topology) -> None:
        self.cfg = cfg
        self.topology = topology
        self.tz = ZoneInfo(cfg.timezone)

    def policies(self, alarm: Alarm) -> list[Policy]:
        """Policies whose match holds for ``alarm``."""
        place = self.topology.place(alarm.node)
        return [p for p in self.cfg.policies if matches(p.match, alarm, place)]

    def _steps(self, pols: Sequence[Policy]) -> list[tuple[float, list[str]]]:
        return sorted((s.after_s, list(s.contacts)) for p in pols for s in p.escalation)

    def _reason(self, a: Alarm, pols: Sequence[Policy], now_ms: int) -> str | None:
        if a.notify_due_ms is not None:
            return a.notify_reason or "raised"
        if a.state != ACTIVE or not a.is_open:
            return None
        steps = self._steps(pols)
        if a.escalation_step < len(steps) and a.raised_ms + steps[a.escalation_step][0] * 1000 <= now_ms:
            return "escalation"
        repeat_ms = min((p.repeat_interval_s for p in pols), default=0) * 1000
        if pols and repeat_ms > 0 and (a.last_notified_ms or a.raised_ms) + repeat_ms <= now_ms:
            return "repeat"
        return None

    def _next(self, a: Alarm, pols: Sequence[Policy], step: int, now_ms: int) -> int | None:
        cands = [now_ms + int(p.repeat_interval_s * 1000) for p in pols if p.repeat_interval_s > 0]
        steps = self._steps(pols)
        if step < len(steps):
            cands.append(a.raised_ms + int(steps[step][0] * 1000))
        return min(cands) if cands else None

    def decide(
        self,
        alarms: Sequence[Alarm],
        now_ms: int,
        *,
        offline_nodes: set[str],
        silences: Sequence[Match],
        sms_spent: Callable[[str, str], int],
    ) -> Decision:
        """Route the pending alarms; returns outbox rows and per-alarm bookkeeping."""
        out = Decision()
        groups: dict[tuple[str, str], list[Alarm]] = {}
        policy_by_name = {p.name: p for p in self.cfg.policies}
        step_of: dict[int, int] = {}
        fired: dict[int, str] = {}
        for a in alarms:
            pols = self.policies(a)
            reason = self._reason(a, pols, now_ms)
            if reason is None:
                continue
            place = self.topology.place(a.node)
            inhibited = a.kind != "node_offline" and a.node in offline_nodes
            silenced = any(matches(m, a, place) for m in silences)
            if not pols or inhibited or silenced:
                if a.notify_due_ms is None or a.notify_due_ms <= now_ms:
                    why = "inhibited by node offline" if inhibited else "silenced" if silenced else "no policy matches"
                    out.updates.append(
                        (
                            a.id,
                            self._next(a, pols, a.escalation_step, now_ms),
                            a.escalation_step,
                            "suppressed",
                            f"{reason}: {why}",
                        )
                    )
                continue
            if reason == "cleared" and a.notify_count == 0:
                out.updates.append((a.id, None, a.escalation_step, "suppressed", "cleared before anyone was told"))
                continue
            for p in pols:
                if reason == "cleared" and not p.notify_cleared:
                    continue
                groups.setdefault((p.name, reason), []).append(a)
        for (pname, reason), members in groups.items():
            if not any(m.notify_due_ms is None or m.notify_due_ms <= now_ms for m in members):
                continue  # still inside group_wait: wait for more alarms to join
            policy = policy_by_name[pname]
            contacts, channels = list(policy.contacts), list(policy.channels)
            if reason == "escalation":
                steps = self._steps([policy])
                idx = min(members[0].escalation_step, len(steps) - 1)
                contacts, channels = steps[idx][1], []
            self._emit(out, policy, reason, members, contacts, channels, now_ms, sms_spent)
            for m in members:
                fired[m.id] = reason
                if reason == "escalation":
                    step_of[m.id] = m.escalation_step + 1
        for a in alarms:
            if a.id in fired:
                step = step_of.get(a.id, a.escalation_step)
                nxt = self._next(a, self.policies(a), step, now_ms) if a.is_open else None
                out.updates.append((a.id, nxt, step, "notified", fired[a.id]))
        return out

    def _emit(
        self,
        out: Decision,
        policy: Policy,
        reason: str,
        members: Sequence[Alarm],
        contacts: Sequence[str],
        channels: Sequence[str],
        now_ms: int,
        sms_spent: Callable[[str, str], int],
    ) -> None:
        cfg = self.cfg
        day = dt.datetime.fromtimestamp(now_ms / 1000, self.tz).date().isoformat()
        exp = int(now_ms / 1000 + cfg.ack_link_ttl_s)
        secret = cfg.ack_secret.get_secret_value()
        ids = ",".join(str(m.id) for m in members)
        stamp = ",".join(str(m.notify_count) for m in members)

        def links(by: str) -> dict[int, str]:
            if reason == "cleared":
                return {}
            return {m.id: acklink.make_link(cfg.public_url, secret, m.id, by, exp) for m in members}

        def row(channel: str, recipient: str, lang: str, by: str) -> OutboxRow:
            subject, text, params = templates.render(lang, reason, members, links(by), self.tz)
            mid = hashlib.sha256(f"{policy.name}|{channel}|{recipient}|{reason}|{ids}|{stamp}".encode()).hexdigest()
            msg = Message(
                mid[:32], recipient, subject, text, params, templates.event_body(reason, members, links(by), now_ms)
            )
            return OutboxRow(
                id=msg.id,
                alarm_ids=f",{ids},",
                channel=channel,
                kind=cfg.channels[channel].type,
                recipient=recipient,
                message_json=msg.to_json(),
                status=PENDING,
                attempts=0,
                next_attempt_ms=now_ms,
                last_error="",
                created_ms=now_ms,
                provider_id="",
                receipt="",
                day=day,
            )

        for name in contacts:
            c = cfg.contacts[name]
            if c.sms_channel is None or not c.phone:
                continue
            r = row(c.sms_channel, c.phone, c.language, name)
            if cfg.channels[c.sms_channel].type in SMS_TYPES and sms_spent(c.phone, day) >= c.daily_sms_budget:
                r.status, r.last_error = SKIPPED, f"daily SMS budget of {c.daily_sms_budget} reached for {name}"
            out.rows.append(r)
        for ch in channels:
            out.rows.append(row(ch, "", cfg.language, ch))

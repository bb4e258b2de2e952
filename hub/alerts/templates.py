"""Message texts in Chinese and English, and the parameters handed to SMS templates.

SMS providers in China send only pre-approved templates; they get
``params`` (device, rule, level, value, state, count, link). Providers that take
free text (Twilio, the HTTP gateway, WeCom, DingTalk) get the rendered text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from hub.alerts.lifecycle import sev_label
from hub.alerts.models import Alarm

SEVERITY = {
    "zh": {"info": "提示", "warning": "预警", "major": "严重", "critical": "紧急", "ok": "恢复"},
    "en": {"info": "info", "warning": "warning", "major": "major", "critical": "critical", "ok": "ok"},
}
REASON = {
    "zh": {
        "raised": "告警",
        "escalated": "告警升级",
        "repeat": "告警未处理（重复提醒）",
        "escalation": "告警未确认（逐级上报）",
        "cleared": "告警解除",
    },
    "en": {
        "raised": "alarm",
        "escalated": "alarm escalated",
        "repeat": "alarm still unacknowledged (repeat)",
        "escalation": "alarm not acknowledged (escalated to you)",
        "cleared": "alarm cleared",
    },
}


def _when(ms: int, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz).strftime("%m-%d %H:%M:%S")


def _value(a: Alarm) -> str:
    return "-" if a.value is None else f"{a.value:g}"


def render(
    lang: str, reason: str, alarms: Sequence[Alarm], links: dict[int, str], tz: ZoneInfo
) -> tuple[str, str, dict[str, str]]:
    """Return (subject, text, template params) for one grouped notification."""
    words, sev = REASON[lang], SEVERITY[lang]
    first = alarms[0]
    level = sev[sev_label(max(a.severity for a in alarms)) if reason != "cleared" else "ok"]
    if lang == "zh":
        subject = f"【{level}】{words[reason]}：{first.device} {first.rule_id}"
        if len(alarms) > 1:
            subject += f" 等{len(alarms)}条"
        lines = [
            f"{a.device} {a.rule_id}{('（' + a.metric + '）') if a.metric else ''} 值 {_value(a)}，"
            f"{sev[sev_label(a.severity)]}，{_when(a.raised_ms, tz)}"
            + (f" 确认：{links[a.id]}" if a.id in links else "")
            for a in alarms
        ]
    else:
        subject = f"[{level}] {words[reason]}: {first.device} {first.rule_id}"
        if len(alarms) > 1:
            subject += f" and {len(alarms) - 1} more"
        lines = [
            f"{a.device} {a.rule_id}{(' (' + a.metric + ')') if a.metric else ''} value {_value(a)}, "
            f"{sev[sev_label(a.severity)]}, since {_when(a.raised_ms, tz)}"
            + (f" ack: {links[a.id]}" if a.id in links else "")
            for a in alarms
        ]
    params = {
        "device": first.device,
        "rule": first.rule_id,
        "level": level,
        "value": _value(first),
        "state": words[reason],
        "count": str(len(alarms)),
        "link": links.get(first.id, ""),
    }
    return subject, "\n".join(lines), params


def event_body(reason: str, alarms: Sequence[Alarm], links: dict[int, str], now_ms: int) -> dict[str, object]:
    """The JSON body of a webhook notification."""
    return {
        "type": f"alarm.{reason}",
        "timestamp_ms": now_ms,
        "alarms": [
            {
                "id": a.id,
                "device": a.device,
                "node": a.node,
                "rule": a.rule_id,
                "kind": a.kind,
                "metric": a.metric,
                "state": a.state,
                "severity": sev_label(a.severity),
                "value": a.value,
                "raised_ms": a.raised_ms,
                "cleared_ms": a.cleared_ms,
                "region": a.region_code,
                "department": a.department_id,
                "ack_url": links.get(a.id, ""),
            }
            for a in alarms
        ],
    }

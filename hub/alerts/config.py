"""The alert configuration file (``alerts.yaml``): rule overrides, contacts, channels, policies, silences.

Loaded with :func:`citysense.yamlconf.load_model`, so a mistake names the file
and the key. Every duration is in seconds (``*_s``). Cross-references (a policy
naming an unknown contact or channel) are errors at load time.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, model_validator

from citysense.profiles.alertrules import AlertRule, RuleOverride, SeverityName
from citysense.profiles.model import Strict
from hub.notify.config import SMS_TYPES, Channel

Language = Literal["zh", "en"]
Duration = Annotated[float, Field(ge=0, le=30 * 86400)]


class Contact(Strict):
    """A person on duty: a phone for SMS, a language for messages, a daily SMS budget."""

    name: str
    phone: str = ""
    sms_channel: str | None = None
    language: Language = "zh"
    daily_sms_budget: Annotated[int, Field(ge=0, le=10_000)] = 50


class Match(Strict):
    """Which alarms a policy or a silence applies to; empty lists match everything."""

    departments: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list, description="Region codes; their subtrees match too")
    nodes: list[str] = Field(default_factory=list)
    devices: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)
    min_severity: SeverityName = "info"


class EscalationStep(Strict):
    """Who else hears about an alarm still unacknowledged ``after_s`` after it was raised."""

    after_s: Annotated[float, Field(gt=0, le=7 * 86400)]
    contacts: list[str] = Field(min_length=1)


class Policy(Strict):
    """Route matching alarms to contacts (SMS) and channels (webhooks, robots)."""

    name: str
    match: Match = Match()
    contacts: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    group_wait_s: Duration = 10.0
    repeat_interval_s: Duration = 4 * 3600.0
    escalation: list[EscalationStep] = Field(default_factory=list)
    notify_cleared: bool = True


class Recurrence(Strict):
    """A weekly maintenance window in local time, e.g. Tuesdays 02:00 for 2 h."""

    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(min_length=1, description="0 = Monday")
    start: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
    duration_s: Annotated[float, Field(gt=0, le=7 * 86400)]


class SilenceSpec(Strict):
    """A silence from the file: fixed (``starts_ms``..``ends_ms``) or recurring."""

    name: str
    match: Match = Match()
    starts_ms: int | None = None
    ends_ms: int | None = None
    every: Recurrence | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.every is None) == (self.starts_ms is None or self.ends_ms is None):
            raise ValueError("give either 'every' or both 'starts_ms' and 'ends_ms'")
        return self


class NodeOffline(Strict):
    """The node-offline rule applied to every node."""

    enabled: bool = True
    severity: SeverityName = "major"
    for_s: Duration = 0.0
    silence_s: Duration = 300.0


class AlertConfig(Strict):
    """Everything the alert engine and the notifier need beyond the profiles."""

    public_url: str = "http://127.0.0.1:8080"
    ack_secret: SecretStr = SecretStr("change-me")
    ack_link_ttl_s: Duration = 7 * 86400.0
    receipt_key: SecretStr | None = Field(default=None, description="?key= of the delivery-receipt URL")
    language: Language = "zh"
    timezone: str = "Asia/Shanghai"
    tick_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    flush_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    retry_schedule_s: list[Duration] = Field(
        default_factory=lambda: [0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0], min_length=1
    )
    send_timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    node_offline: NodeOffline = NodeOffline()
    region_rules: dict[str, RuleOverride] = Field(default_factory=dict, description="Region code -> override")
    device_rules: dict[str, RuleOverride] = Field(default_factory=dict, description="Device uid -> override")
    contacts: dict[str, Contact] = Field(default_factory=dict)
    channels: dict[str, Channel] = Field(default_factory=dict)
    policies: list[Policy] = Field(default_factory=list)
    silences: list[SilenceSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Self:
        # Cross-references are checked here, so the messages carry the dotted key themselves.
        for name, c in self.contacts.items():
            if c.sms_channel is not None:
                ch = self.channels.get(c.sms_channel)
                if ch is None or ch.type not in SMS_TYPES:
                    raise ValueError(f"contacts.{name}.sms_channel: '{c.sms_channel}' is not an SMS channel")
        for i, p in enumerate(self.policies):
            for j, who in enumerate(p.contacts):
                if who not in self.contacts:
                    raise ValueError(f"policies.{i}.contacts.{j}: unknown contact '{who}'")
            for k, step in enumerate(p.escalation):
                for j, who in enumerate(step.contacts):
                    if who not in self.contacts:
                        raise ValueError(f"policies.{i}.escalation.{k}.contacts.{j}: unknown contact '{who}'")
            for j, ch_name in enumerate(p.channels):
                if ch_name not in self.channels:
                    raise ValueError(f"policies.{i}.channels.{j}: unknown channel '{ch_name}'")
        return self


def extra_rules(rules: list[AlertRule]) -> dict[str, AlertRule]:
    """Index rules by id."""
    return {r.id: r for r in rules}

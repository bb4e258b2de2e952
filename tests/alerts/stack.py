"""A hub with alerts on real Mosquitto, a tiny fleet, and local servers standing in for the SMS gateway and webhook."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import yaml

from citysense.contract import Channel, NodeStatus, Reading, TelemetryBatch, encode, topic
from hub.config import HubSettings
from hub.runtime import RunningHub, running_hub
from tests.alerts.httpfake import FakeServer, Reply, Seen, fake_provider
from tests.harness.mosquitto import MosquittoServer

SECRET = "whsec_" + base64.b64encode(b"e2e-webhook-secret-0123456789abc").decode()
GAUGE = {
    "id": "river_gauge",
    "model": "River gauge",
    "manufacturer": "Test",
    "source": "tests",
    "category": "water",
    "expected_interval_s": 60,
    "points": [{"metric": "level", "table": "holding", "address": 0, "type": "int16", "scale": 0.01, "unit": "m"}],
    "alerts": [
        {
            "id": "level_warning",
            "kind": "threshold",
            "metric": "level",
            "above": 3.5,
            "clear_below": 3.3,
            "for_s": 1,
            "clear_for_s": 1.5,
        },
    ],
}
RAIN = {
    "id": "rain_gauge",
    "model": "Rain gauge",
    "manufacturer": "Test",
    "source": "tests",
    "category": "rain",
    "expected_interval_s": 60,
    "points": [{"metric": "rain_1min", "table": "holding", "address": 0, "type": "uint16", "scale": 0.1, "unit": "mm"}],
    "alerts": [
        {
            "id": "rain_1h",
            "kind": "window_sum",
            "metric": "rain_1min",
            "window_s": 3600,
            "levels": {"warning": 30, "critical": 50},
        },
    ],
}
LAMP = {
    "id": "lamp",
    "model": "Lamp",
    "manufacturer": "Test",
    "source": "tests",
    "category": "light",
    "expected_interval_s": 2,
    "points": [{"metric": "power", "table": "holding", "address": 0, "type": "uint16", "unit": "W"}],
    "alerts": [
        {"id": "silent", "kind": "no_data", "tolerance": 2},
        {"id": "overload", "kind": "threshold", "metric": "power", "above": 500},
    ],
}
KINDS = {
    "gauge_site": {
        "kind": "gauge_site",
        "name": "Gauge",
        "department": "water",
        "connections": [{"id": "bus", "type": "modbus_tcp"}],
        "devices": [
            {"id": "gauge", "profile": "river_gauge", "connection": "bus", "unit_id": 1},
            {"id": "rain", "profile": "rain_gauge", "connection": "bus", "unit_id": 2},
        ],
    },
    "pole_site": {
        "kind": "pole_site",
        "name": "Pole",
        "department": "urban",
        "connections": [{"id": "bus", "type": "modbus_tcp"}],
        "devices": [{"id": "lamp", "profile": "lamp", "connection": "bus", "unit_id": 1}],
    },
}
FLEET = {
    "regions": [
        {"code": "440981", "name": "高州市", "level": "city"},
        {"code": "440981103", "name": "石鼓镇", "level": "town", "parent": "440981"},
        {"code": "440981103201", "name": "某村", "level": "village", "parent": "440981103"},
    ],
    "departments": [{"id": "water", "name": "水务局"}, {"id": "urban", "name": "城管局"}],
    "nodes": [
        {"id": "N1", "kind": "gauge_site", "region": "440981103201", "endpoints": {"bus": {"host": "h", "port": 1}}},
        {"id": "N2", "kind": "pole_site", "region": "440981103", "endpoints": {"bus": {"host": "h", "port": 1}}},
    ],
}


def alerts_yaml(webhook_url: str, sms_url: str, **policy: Any) -> dict[str, Any]:
    return {
        "public_url": "http://hub.example",
        "ack_secret": "test-ack-secret",
        "tick_s": 0.2,
        "flush_s": 0.2,
        "retry_schedule_s": [0, 0.2, 0.5],
        "node_offline": {"severity": "major", "silence_s": 120},
        "device_rules": {"N2.lamp": {"disable": ["silent"]}},
        "channels": {
            "ops": {"type": "webhook", "url": webhook_url, "secret": SECRET},
            "sms": {"type": "http_sms", "url": sms_url, "token": "gw-token"},
        },
        "contacts": {"officer": {"name": "值班员", "phone": "13800138000", "sms_channel": "sms"}},
        "policies": [
            {
                "name": "duty",
                "contacts": ["officer"],
                "channels": ["ops"],
                "group_wait_s": 0,
                "repeat_interval_s": 3600,
                **policy,
            }
        ],
    }


@dataclass
class Receivers:
    """What the webhook receiver and the SMS gateway got."""

    webhook: FakeServer
    sms: FakeServer

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(s.body) for s in self.webhook.seen]

    def texts(self) -> list[dict[str, Any]]:
        return [json.loads(s.body) for s in self.sms.seen]


def _webhook(req: Seen) -> Reply:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{req.headers['webhook-id']}.{req.headers['webhook-timestamp']}.".encode() + req.body
    want = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return (204, "text/plain", b"") if req.headers["webhook-signature"] == want else (401, "text/plain", b"bad sig")


def _sms(req: Seen) -> Reply:
    ok = req.headers.get("authorization") == "Bearer gw-token"
    return (200, "application/json", b'{"id": "gw"}') if ok else (403, "text/plain", b"no")


@contextmanager
def receivers() -> Iterator[Receivers]:
    with fake_provider(_webhook) as wh, fake_provider(_sms) as sms:
        yield Receivers(wh, sms)


def write_files(root: Path, alerts: dict[str, Any]) -> HubSettings:
    (root / "profiles").mkdir(exist_ok=True)
    (root / "kinds").mkdir(exist_ok=True)
    for p in (GAUGE, RAIN, LAMP):
        (root / "profiles" / f"{p['id']}.yaml").write_text(yaml.safe_dump(p, allow_unicode=True))
    for name, k in KINDS.items():
        (root / "kinds" / f"{name}.yaml").write_text(yaml.safe_dump(k, allow_unicode=True))
    (root / "fleet.yaml").write_text(yaml.safe_dump(FLEET, allow_unicode=True))
    (root / "alerts.yaml").write_text(yaml.safe_dump(alerts, allow_unicode=True))
    return HubSettings(
        data_dir=root / "data",
        api_port=0,
        profiles_dir=root / "profiles",
        node_kinds_dir=root / "kinds",
        fleet_file=root / "fleet.yaml",
        alerts_file=root / "alerts.yaml",
    )


def with_broker(settings: HubSettings, mosquitto: MosquittoServer) -> HubSettings:
    run = uuid.uuid4().hex[:8]
    return settings.model_copy(
        update={"mqtt_url": mosquitto.url, "mqtt_client_id": f"hub-{run}", "topic_prefix": f"cs-{run}/v1"}
    )


class Publisher:
    """Publishes telemetry and status as an agent would (QoS 1)."""

    def __init__(self, client: aiomqtt.Client, prefix: str) -> None:
        self.client, self.prefix, self.seq = client, prefix, 0

    async def reading(self, node: str, device: str, metric: str, value: float, quality: str = "good") -> int:
        ts = time.time_ns() // 1_000_000
        self.seq += 1
        r = Reading(device=device, metric=metric, value=value if quality == "good" else None, ts_ms=ts, quality=quality)  # type: ignore[arg-type]
        batch = TelemetryBatch(node=node, seq=self.seq, sent_ms=ts, readings=[r])
        await self.client.publish(topic(node, Channel.TELEMETRY, self.prefix), encode(batch), qos=1)
        return ts

    async def status(self, node: str, state: str) -> None:
        st = NodeStatus(node=node, state=state, session="s1", ts_ms=time.time_ns() // 1_000_000)  # type: ignore[arg-type]
        await self.client.publish(topic(node, Channel.STATUS, self.prefix), encode(st), qos=1)


@asynccontextmanager
async def hub_and_agent(settings: HubSettings) -> AsyncIterator[tuple[RunningHub, Publisher]]:
    async with running_hub(settings) as hub:
        async with asyncio.timeout(10):
            await hub.consumer.subscribed.wait()
        async with aiomqtt.Client(hub.mqtt_host, hub.mqtt_port, identifier=f"agent-{uuid.uuid4().hex[:6]}") as c:
            yield hub, Publisher(c, settings.topic_prefix)


def auth(hub: RunningHub) -> dict[str, str]:
    """The administrator's bearer header."""
    return {"Authorization": f"Bearer {hub.admin_token}"}


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout_s: float = 15.0, what: str = "") -> None:
    """Wait until ``check`` holds (tests only: the product itself never polls)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if not isinstance(got, bool):
            got = await got
        if got:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)

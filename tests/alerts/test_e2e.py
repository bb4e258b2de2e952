"""End to end on real components: Mosquitto, the hub (running_hub) and TelemetryBatch messages over MQTT.

The SMS gateway and the webhook receiver are local HTTP servers that check
the request format and the Standard Webhooks signature.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.alerts.stack import alerts_yaml, auth, eventually, hub_and_agent, receivers, with_broker, write_files
from tests.harness.mosquitto import MosquittoServer


async def test_river_rises_one_alarm_one_sms_one_webhook_repeat_ack_clear(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    with receivers() as rx:
        settings = with_broker(
            write_files(tmp_path, alerts_yaml(rx.webhook.url, rx.sms.url, repeat_interval_s=2)), mosquitto
        )
        async with (
            hub_and_agent(settings) as (hub, agent),
            httpx.AsyncClient(base_url=hub.api_url, headers=auth(hub)) as api,
        ):
            await agent.reading("N1", "gauge", "level", 3.0)
            for v in (3.6, 3.7, 3.65):
                await agent.reading("N1", "gauge", "level", v)
            await eventually(lambda: len(rx.webhook.seen) >= 1 and len(rx.sms.seen) >= 1, what="first notification")
            alarms = (await api.get("/api/v1/alarms")).json()
            assert [(a["device"], a["rule"], a["state"]) for a in alarms] == [("N1.gauge", "level_warning", "active")]
            assert rx.events()[0]["type"] == "alarm.raised" and rx.events()[0]["alarms"][0]["value"] in (3.6, 3.7, 3.65)
            sms = rx.texts()[0]
            assert sms["to"] == "13800138000" and "N1.gauge" in sms["text"] and "确认" in sms["text"]
            assert len(rx.webhook.seen) == 1 and len(rx.sms.seen) == 1

            # Unacknowledged: repeated after repeat_interval_s (2 s).
            await eventually(lambda: len(rx.webhook.seen) >= 2, what="repeat")
            assert rx.events()[1]["type"] == "alarm.repeat"

            alarm_id = alarms[0]["id"]
            acked = await api.post(f"/api/v1/alarms/{alarm_id}/ack", json={"comment": "去现场"})
            assert acked.json()["state"] == "acknowledged"
            assert (await api.post(f"/api/v1/alarms/{alarm_id}/ack", json={})).status_code == 409

            # Inside the hysteresis band nothing clears; below the clear level it clears only after clear_for_s.
            await agent.reading("N1", "gauge", "level", 3.4)
            await agent.reading("N1", "gauge", "level", 3.2)
            await asyncio.sleep(0.5)
            assert (await api.get(f"/api/v1/alarms/{alarm_id}")).json()["state"] == "acknowledged"

            async def cleared() -> bool:
                return bool((await api.get(f"/api/v1/alarms/{alarm_id}")).json()["state"] == "cleared")

            await eventually(cleared, what="clear")
            await eventually(lambda: rx.events()[-1]["type"] == "alarm.cleared", what="cleared notification")
            detail = (await api.get(f"/api/v1/alarms/{alarm_id}")).json()
            actions = [e["action"] for e in detail["events"]]
            assert actions[0] == "raised" and "acknowledged" in actions and actions[-2:] != ["raised"]
            assert "cleared" in actions
            raised = [e for e in rx.events() if e["type"] == "alarm.raised"]
            assert len(raised) == 1
            log = (await api.get("/api/v1/notifications", params={"alarm": alarm_id})).json()
            assert {r["status"] for r in log} == {"sent"}
            summary = (await api.get("/api/v1/alarms/summary")).json()
            assert summary["by_region"] == {}


async def test_restart_during_pending_for_still_fires_on_time(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    with receivers() as rx:
        cfg = alerts_yaml(rx.webhook.url, rx.sms.url)
        cfg["device_rules"]["N1.gauge"] = {
            "rules": [{"id": "level_warning", "kind": "threshold", "metric": "level", "above": 3.5, "for_s": 4}]
        }
        settings = with_broker(write_files(tmp_path, cfg), mosquitto)
        async with hub_and_agent(settings) as (hub, agent):
            first_ms = await agent.reading("N1", "gauge", "level", 3.8)
            await eventually(lambda: hub.services.stats.readings_stored >= 1, what="stored")
            await asyncio.sleep(1.0)  # let the pending state reach the database (flush_s 0.2)
        assert rx.webhook.seen == []
        async with (
            hub_and_agent(settings) as (hub, _agent),
            httpx.AsyncClient(base_url=hub.api_url, headers=auth(hub)) as api,
        ):
            await eventually(lambda: len(rx.webhook.seen) >= 1, what="alarm after restart")
            (alarm,) = (await api.get("/api/v1/alarms")).json()
        # Pending since the reading before the restart: due at first_ms + 4 s, not 4 s after the restart.
        assert alarm["raised_ms"] >= first_ms + 4000
        assert alarm["raised_ms"] < first_ms + 4000 + 2000


async def test_node_offline_inhibits_its_sensors(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    with receivers() as rx:
        cfg = alerts_yaml(rx.webhook.url, rx.sms.url)
        cfg["device_rules"] = {}
        settings = with_broker(write_files(tmp_path, cfg), mosquitto)
        async with (
            hub_and_agent(settings) as (hub, agent),
            httpx.AsyncClient(base_url=hub.api_url, headers=auth(hub)) as api,
        ):
            await agent.reading("N2", "lamp", "power", 100)
            await agent.status("N2", "offline")  # the broker publishes the agent's last will like this

            async def both_open() -> bool:
                rules = {(a["device"], a["rule"]) for a in (await api.get("/api/v1/alarms")).json()}
                return {("N2", "node_offline"), ("N2.lamp", "silent")} <= rules

            await eventually(both_open, what="node offline and no data alarms")
            await asyncio.sleep(0.6)  # a few router passes
            alarms = {a["rule"]: a for a in (await api.get("/api/v1/alarms")).json()}
            notified = [a["rule"] for e in rx.events() for a in e["alarms"]]
            assert notified == ["node_offline"]
            silent = (await api.get(f"/api/v1/alarms/{alarms['silent']['id']}")).json()
            assert any(e["action"] == "suppressed" and "node offline" in e["detail"] for e in silent["events"])


async def test_rainfall_over_the_window_raises_the_right_level(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    with receivers() as rx:
        settings = with_broker(write_files(tmp_path, alerts_yaml(rx.webhook.url, rx.sms.url)), mosquitto)
        async with (
            hub_and_agent(settings) as (hub, agent),
            httpx.AsyncClient(base_url=hub.api_url, headers=auth(hub)) as api,
        ):
            for mm in (10, 15):
                await agent.reading("N1", "rain", "rain_1min", mm)
            await eventually(lambda: hub.services.stats.readings_stored >= 2, what="stored")
            assert (await api.get("/api/v1/alarms")).json() == []
            await agent.reading("N1", "rain", "rain_1min", 10)  # 35 mm in the hour: warning
            await eventually(lambda: len(rx.webhook.seen) >= 1, what="warning")
            assert rx.events()[0]["alarms"][0]["severity"] == "warning"
            await agent.reading("N1", "rain", "rain_1min", 20)  # 55 mm: critical
            await eventually(lambda: len(rx.webhook.seen) >= 2, what="escalation")
            last = rx.events()[1]
            assert last["type"] == "alarm.escalated" and last["alarms"][0]["severity"] == "critical"
            (alarm,) = (await api.get("/api/v1/alarms")).json()
            assert alarm["severity"] == "critical" and alarm["value"] == 55
            summary = (await api.get("/api/v1/alarms/summary")).json()
            assert summary["by_region"] == {"440981103201": 1, "440981103": 1, "440981": 1}

            # The duty officer acknowledges from the signed link in the SMS, without a token.
            link = rx.texts()[0]["text"].split("确认：")[1].split()[0].replace("http://hub.example", hub.api_url)
            async with httpx.AsyncClient() as phone:
                forged = await phone.get(link.replace(f"/alarms/{alarm['id']}/", f"/alarms/{alarm['id'] + 1}/"))
                assert forged.status_code == 403
                assert (await phone.get(link)).status_code == 200
            acked = (await api.get(f"/api/v1/alarms/{alarm['id']}")).json()
            assert acked["state"] == "acknowledged" and acked["acked_by"] == "officer"


async def test_a_node_created_while_running_is_watched_without_a_restart(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    with receivers() as rx:
        settings = with_broker(write_files(tmp_path, alerts_yaml(rx.webhook.url, rx.sms.url)), mosquitto)
        async with (
            hub_and_agent(settings) as (hub, agent),
            httpx.AsyncClient(base_url=hub.api_url, headers=auth(hub)) as api,
        ):
            await agent.reading("N1", "gauge", "level", 3.6)  # pending on N1 (for_s 1) while the registry changes
            await eventually(lambda: hub.services.stats.readings_stored >= 1, what="stored")
            body = {
                "id": "N3",
                "kind": "gauge_site",
                "region": "440981103201",
                "endpoints": {"bus": {"host": "h", "port": 1}},
            }
            assert (await api.post("/api/v1/nodes", json=body)).status_code == 201
            await agent.reading("N1", "gauge", "level", 3.7)
            for v in (3.9, 4.0):
                await agent.reading("N3", "gauge", "level", v)

            async def both_raised() -> bool:
                return {a["device"] for a in (await api.get("/api/v1/alarms")).json()} == {"N1.gauge", "N3.gauge"}

            await eventually(both_raised, what="alarms on the old and the new node")
            alarms = {a["device"]: a for a in (await api.get("/api/v1/alarms")).json()}
            assert alarms["N3.gauge"]["rule"] == "level_warning" and alarms["N3.gauge"]["region"] == "440981103201"

"""The demo's dial-in stations: an SL 651 rain gauge, an HJ 212 air-quality monitor and a 4G DTU weather site.

Each is registered in the hub's station registry and then dials in to the
hub's station gateway over loopback exactly as a field unit would, so it
shows on the map, the node page and in the alarms like every other node.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pydantic import SecretStr

from citysense.nodekinds import NodeKind
from citysense.profiles import ProfileSet
from hub.runtime import RunningHub
from hub.stations.directory import StationDevice, StationDirectory, StationSpec
from hub.stations.settings import ListenerSettings, StationsSettings
from hub.stations.sl651 import encode as sl651
from simulator.fleet import SimulatedNode
from simulator.stations.dtu import SimulatedDtu
from simulator.stations.hj212 import Hj212Monitor, air_quality
from simulator.stations.sl651 import Sl651Site
from simulator.stations.sl651_run import dial_forever

AQ_NODE, AQ_MN, AQ_PW = "GZ-AQ-0001", "440981AQ0000000001", "123456"
DTU_NODE, DTU_IMEI = "GZ-DTU-0001", "866262040000001"
DTU_PREFIX, DTU_HEARTBEAT = "REG:", "HB"
RG_NODE, RG_ADDRESS, RG_PW = "GZ-RTU-0001", "0010000001", "1234"
RG_INTERVAL_S = 15.0  # the RTU's timed-report interval; field RTUs report every 5 minutes (added reports in rain)
AQ_INTERVAL_S = 10.0  # the monitor's real-time interval (RtdInterval); field units report every 30-60 s


def demo_station_settings(hj212_port: int = 0, dtu_port: int = 0, sl651_port: int = 0) -> StationsSettings:
    """The demo's listeners, on loopback."""
    return StationsSettings(
        listeners=[
            ListenerSettings(protocol="sl651", host="127.0.0.1", port=sl651_port),
            ListenerSettings(protocol="hj212", host="127.0.0.1", port=hj212_port),
            ListenerSettings(
                protocol="dtu", host="127.0.0.1", port=dtu_port, registration_prefix=DTU_PREFIX, heartbeat=DTU_HEARTBEAT
            ),
        ]
    )


@dataclass
class DemoStations:
    """The running simulated stations."""

    monitor: Hj212Monitor
    dtu: SimulatedDtu
    dtu_site: SimulatedNode
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def _specs(kinds: dict[str, NodeKind]) -> list[StationSpec]:
    weather = kinds["weather_station"]
    return [
        StationSpec(id=AQ_NODE, name="府前路空气质量微型站 (HJ 212)", protocol="hj212", address=AQ_MN,
                    password=SecretStr(AQ_PW), region="440981001001", department="environment",
                    latitude=21.9172, longitude=110.8551,
                    devices=[StationDevice(id="monitor", profile="hj212_air_quality", poll_interval_s=AQ_INTERVAL_S)]),
        StationSpec(id=DTU_NODE, name="石鼓村气象站 (4G DTU)", protocol="dtu", address=DTU_IMEI,
                    region="440981104", department="weather", latitude=21.9930, longitude=110.9620,
                    devices=[StationDevice(id=d.id, profile=d.profile, unit_id=d.unit_id, poll_interval_s=10)
                             for d in weather.devices]),
        StationSpec(id=RG_NODE, name="曹江镇雨量站 (SL 651)", protocol="sl651", address=RG_ADDRESS,
                    password=SecretStr(RG_PW), region="440981104", department="water",
                    latitude=21.9751, longitude=110.9288,
                    devices=[StationDevice(id="rtu", profile="sl651_rain_gauge", poll_interval_s=RG_INTERVAL_S)]),
    ]  # fmt: skip


@contextlib.asynccontextmanager
async def demo_stations(
    hub: RunningHub, kinds: dict[str, NodeKind], profiles: ProfileSet
) -> AsyncIterator[DemoStations]:
    """Register the demo stations (once per data directory) and let them dial in; hang up on exit."""
    gateway = hub.services.stations
    assert gateway is not None, "the demo hub runs the station gateway"
    directory = StationDirectory(hub.services.registry)
    known = {info.node for info, _ in await asyncio.to_thread(directory.all)}
    for spec in _specs(kinds):
        if spec.id not in known:
            await asyncio.to_thread(directory.create, "demo", spec, hub.services.profiles, set(gateway.protocols))
    await hub.services.notify_registry_changed()
    site = SimulatedNode(kinds["weather_station"], profiles, DTU_NODE, seed=int(time.time()) % 1000)
    await site.start()
    monitor = Hj212Monitor(AQ_MN, AQ_PW, "127.0.0.1", gateway.ports["hj212"], air_quality, drift_s_per_h=2.0)
    dtu = SimulatedDtu(DTU_IMEI, ("127.0.0.1", gateway.ports["dtu"]), (site.host, site.port), prefix=DTU_PREFIX,
                       heartbeat=DTU_HEARTBEAT, heartbeat_s=30)  # fmt: skip
    stations = DemoStations(monitor, dtu, site)
    try:
        async with asyncio.TaskGroup() as tg:
            stations.tasks.append(tg.create_task(monitor.run("2011", AQ_INTERVAL_S), name="demo:hj212-monitor"))
            stations.tasks.append(tg.create_task(dtu.run(), name="demo:dtu-site"))
            rtu = Sl651Site(sl651.Station(RG_ADDRESS, RG_PW, 1, "rainfall", "hex"), seed=int(time.time()) % 1000)
            dial = dial_forever("127.0.0.1", gateway.ports["sl651"], rtu, interval_s=RG_INTERVAL_S, max_backoff_s=30)
            stations.tasks.append(tg.create_task(dial, name="demo:sl651-rtu"))
            try:
                yield stations
            finally:
                for task in stations.tasks:
                    task.cancel()
    finally:
        await site.stop()

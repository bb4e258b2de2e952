"""Build the station gateway from the hub's settings and its ingest pipeline (hub/runtime.py calls this)."""

from __future__ import annotations

from collections.abc import Mapping

from hub.ingest.pipeline import Pipeline
from hub.stations.base import StationProtocol
from hub.stations.directory import StationDirectory
from hub.stations.ingest import StationIngest
from hub.stations.ledger import ReportLedger
from hub.stations.profiles import StationProfile
from hub.stations.protocols import PROTOCOLS
from hub.stations.server import StationGateway
from hub.stations.settings import StationsSettings
from hub.stations.stats import GatewayStats


def build_gateway(
    settings: StationsSettings,
    pipeline: Pipeline,
    station_profiles: Mapping[str, StationProfile],
    protocols: Mapping[str, StationProtocol] | None = None,
) -> StationGateway:
    """A gateway feeding ``pipeline``, with every protocol of :data:`PROTOCOLS` (or those given)."""
    stats = GatewayStats()
    protos = dict(protocols) if protocols is not None else {name: make() for name, make in PROTOCOLS.items()}
    ledger = ReportLedger(pipeline.registry)
    ingest = StationIngest(pipeline, ledger, station_profiles, stats)
    gateway = StationGateway(settings, protos, ingest, StationDirectory(pipeline.registry), pipeline.dead, stats)
    for lis in settings.listeners:
        attach = getattr(protos[lis.protocol], "attach", None)
        if attach is not None:  # a protocol that drives its stations (the DTU poller) hooks in here
            attach(gateway, lis)
    return gateway

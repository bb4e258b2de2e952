"""The hub's Prometheus series, collected from its live objects on every scrape (``prometheus_client``).

Series names are those the hand-written exposition had before (ingest,
spool, store latency); new are the broker, store and per-node health series
(docs/operations.md, "What is wrong"). The library escapes label values and
writes the text format (Prometheus exposition format 0.0.4); the standard
process and GC collectors are registered beside this one.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.api.healthview import liveness, now_ms
from hub.api.services import HubServices
from hub.broker.natsaccounts import NatsAccounts
from hub.ingest.stats import WRITE_BUCKETS_S
from hub.registry.models import Node

BROKER_STATES = ("starting", "ok", "silent", "unreachable")
LIVENESS = ("online", "offline", "silent", "unknown")
DEVICE_STATES = ("ok", "failing", "quarantined", "unknown")


def make_registry(services: HubServices) -> tuple[CollectorRegistry, HubCollector]:
    """A registry of this hub's series plus process, platform and GC series; and the hub's collector."""
    registry = CollectorRegistry(auto_describe=False)
    hub = HubCollector(services)
    registry.register(hub)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry, hub


def _one(kind: type[CounterMetricFamily] | type[GaugeMetricFamily], name: str, doc: str, value: float) -> Metric:
    return kind(name, doc, value=value)


class HubCollector(Collector):
    """Reads counters, watches and node health at scrape time."""

    def __init__(self, services: HubServices) -> None:
        self.services = services
        self.nodes: list[Node] = []  # the registry's nodes, read (in a thread) before each scrape
        self.registry_up = True  # whether that read worked (else the nodes are those of the last scrape that did)

    def collect(self) -> Iterator[Metric]:
        yield from self._ingest()
        yield from self._health()
        yield from self._nodes()
        if self.services.station_stats is not None:
            yield from self.services.station_stats.prometheus()
        if isinstance(self.services.dynsec, NatsAccounts):
            yield self._logins(self.services.dynsec)

    @staticmethod
    def _logins(accounts: NatsAccounts) -> Metric:
        fam = CounterMetricFamily(
            "citysense_broker_logins",
            "MQTT logins this hub's NATS auth callout answered, by result.",
            labels=["result"],
        )
        for result in ("allowed", "refused", "dropped"):
            fam.add_metric([result], accounts.logins[result])
        return fam

    def _ingest(self) -> Iterator[Metric]:
        s, spool = self.services.stats, self.services.spool
        yield _one(CounterMetricFamily, "citysense_messages_total", "MQTT messages received.", s.messages)
        yield _one(CounterMetricFamily, "citysense_batches_total", "Telemetry batches stored.", s.batches)
        yield _one(CounterMetricFamily, "citysense_readings_stored_total", "Readings stored.", s.readings_stored)
        yield _one(CounterMetricFamily, "citysense_duplicates_total", "Batches dropped as duplicates.", s.duplicates)
        dead = CounterMetricFamily(
            "citysense_dead_letters_total", "Rejected messages/readings by reason.", labels=["reason"]
        )
        for reason, n in sorted(s.dead_letters.items()):
            dead.add_metric([reason], n)
        yield dead
        yield _one(CounterMetricFamily, "citysense_store_retries_total", "Store writes retried.", s.store_retries)
        lag = s.lag_ms / 1000
        yield _one(GaugeMetricFamily, "citysense_ingest_lag_seconds", "Hub time minus agent send time.", lag)
        depth = spool.readings if spool else 0
        yield _one(GaugeMetricFamily, "citysense_spool_readings", "Readings waiting in the on-disk spool.", depth)
        yield _one(GaugeMetricFamily, "citysense_spool_batches", "Batches in the spool.", spool.batches if spool else 0)
        spooled = spool.spooled_total if spool else 0
        yield _one(CounterMetricFamily, "citysense_spooled_readings_total", "Readings ever spooled.", spooled)
        cumulative, buckets = 0, []
        for bound, n in zip((*WRITE_BUCKETS_S, float("inf")), s.write_bucket_counts, strict=True):
            cumulative += n
            buckets.append(("+Inf" if bound == float("inf") else str(bound), float(cumulative)))
        yield HistogramMetricFamily(
            "citysense_store_write_seconds", "Store write latency.", buckets=buckets, sum_value=s.write_seconds_sum
        )

    def _health(self) -> Iterator[Metric]:
        broker, store = self.services.broker, self.services.store_watch
        if broker is not None:
            state = GaugeMetricFamily("citysense_broker_state", "1 for the broker's current state.", labels=["state"])
            now = broker.state()
            for name in BROKER_STATES:
                state.add_metric([name], 1.0 if name == now else 0.0)
            yield state
            age = broker.echo_age_s()
            yield _one(GaugeMetricFamily, "citysense_broker_up", "1 while the hub's ping echoes.", float(now == "ok"))
            if age is not None:
                doc = "Seconds since the hub's last ping echoed through the broker."
                yield _one(GaugeMetricFamily, "citysense_broker_echo_age_seconds", doc, age)
            if broker.rtt_ms is not None:
                doc = "Round trip of the last ping through the broker."
                yield _one(GaugeMetricFamily, "citysense_broker_rtt_seconds", doc, broker.rtt_ms / 1000)
        connected = self.services.ingest_connected
        if connected is not None:
            doc = "1 while the ingest session is subscribed."
            yield _one(GaugeMetricFamily, "citysense_ingest_connected", doc, float(connected()))
        if store is not None:
            doc = "1 while the store is set up and answers its ping."
            yield _one(GaugeMetricFamily, "citysense_store_up", doc, float(store.ok()))
        doc = "1 when the registry database answered this scrape's query."
        yield _one(GaugeMetricFamily, "citysense_registry_up", doc, float(self.registry_up))
        doc = "API requests answered 503 because the registry database was unavailable."
        yield _one(CounterMetricFamily, "citysense_registry_unavailable_total", doc, self.services.registry_unavailable)

    def _nodes(self) -> Iterator[Metric]:
        services = self.services
        live = GaugeMetricFamily("citysense_node_liveness", "1 for each node's liveness.", labels=["node", "state"])
        at = now_ms()
        for row in self.nodes:
            now = liveness(services, row, at)
            for name in LIVENESS:
                live.add_metric([row.id, name], 1.0 if name == now else 0.0)
        yield live
        g = {
            name: GaugeMetricFamily(f"citysense_node_{name}", doc, labels=["node"])
            for name, doc in (
                ("buffer_readings", "Readings waiting in the agent's durable buffer."),
                ("buffer_bytes", "Bytes of the agent's durable buffer."),
                ("buffer_oldest_seconds", "Age of the oldest reading waiting in the agent's buffer."),
                ("unacked_batches", "Batches the agent sent or holds that the hub has not acknowledged."),
                ("oldest_unacked_seconds", "Age of the agent's oldest unacknowledged batch."),
                ("last_acked_seq", "Highest seq of the agent's epoch the hub acknowledged."),
                ("health_age_seconds", "Seconds since the agent's last health report."),
            )
        }
        dropped = CounterMetricFamily("citysense_node_dropped_readings_total", "Readings the agent's buffer dropped.",
                                      labels=["node"])  # fmt: skip
        malformed = CounterMetricFamily("citysense_node_malformed_total", "Malformed sensor payloads at the agent.",
                                        labels=["node", "reason"])  # fmt: skip
        epoch = GaugeMetricFamily("citysense_node_epoch_info", "1 for the agent's current epoch.",
                                  labels=["node", "epoch"])  # fmt: skip
        rtt = GaugeMetricFamily("citysense_device_rtt_seconds", "Mean Modbus round trip of the device's last poll.",
                                labels=["node", "device"])  # fmt: skip
        reads = CounterMetricFamily("citysense_device_reads_total", "Device reads by result, as the agent counts.",
                                    labels=["node", "device", "result"])  # fmt: skip
        dstate = GaugeMetricFamily("citysense_device_state", "1 for the device's acquisition state.",
                                   labels=["node", "device", "state"])  # fmt: skip
        for node, held in services.node_health.items():
            h = held.health
            if h is None or held.health_received_ms is None:
                continue
            for name, value in (
                ("buffer_readings", h.queue_depth),
                ("buffer_bytes", h.queue_bytes),
                ("buffer_oldest_seconds", h.queue_oldest_s),
                ("unacked_batches", h.unacked_batches),
                ("oldest_unacked_seconds", h.oldest_unacked_s),
                ("health_age_seconds", (at - held.health_received_ms) / 1000),
            ):
                g[name].add_metric([node], float(value))
            if h.last_acked_seq is not None:
                g["last_acked_seq"].add_metric([node], float(h.last_acked_seq))
            dropped.add_metric([node], float(h.dropped))
            for reason, n in sorted(h.malformed.items()):
                malformed.add_metric([node, reason], float(n))
            if h.epoch is not None:
                epoch.add_metric([node, h.epoch], 1.0)
            for d in h.devices:
                if d.rtt_ms is not None:
                    rtt.add_metric([node, d.device], d.rtt_ms / 1000)
                reads.add_metric([node, d.device, "ok"], float(d.reads_ok))
                reads.add_metric([node, d.device, "failed"], float(d.reads_failed))
                for name in DEVICE_STATES:
                    dstate.add_metric([node, d.device, name], 1.0 if name == d.state else 0.0)
        yield from g.values()
        yield from (dropped, malformed, epoch, rtt, reads, dstate)

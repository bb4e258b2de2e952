"""The province tier: hub workers that share a NATS JetStream cluster.

Telemetry subjects are mapped by the broker into ``P`` partitions by node id
(:mod:`hub.cluster.partitions`); each worker owns a set of partitions through
a lease in NATS KV (:mod:`hub.cluster.leases`), so one node's batches are
handled in order by one worker at a time, and a worker that lost its lease is
fenced off the shared state.
"""

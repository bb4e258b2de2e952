"""Receiving and acknowledging QoS 1 messages: the hub's MQTT path against aiomqtt's own.

Run from the repository root (it starts its own Mosquitto):

    python -m bench.mqtt_receive [--messages 40000] [--runs 3]

The broker holds ``--messages`` telemetry messages of the hub benchmark's shape
(10 readings, 874 bytes) for a persistent session; a client then takes them
all, in groups of up to 500, and acknowledges each group once it is taken.
Only the client's CPU time is counted (the broker runs in its own process).

* baseline: aiomqtt as documented (``async for message in client.messages``)
  with paho's manual acknowledgement (``Client.ack`` per message);
* hub: the same client with the hub's read-ahead socket
  (``hub/ingest/readahead.py``), PUBLISH packets parsed into tuples
  (``hub/ingest/fastpublish.py``), and one write per group's PUBACKs
  (``hub/ingest/acks.py``), taken as ``hub/ingest/consumer.py`` takes them.

Prints the median CPU microseconds per message of each over ``--runs`` runs and
their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import aiomqtt

from bench.hub_ingest import message, publish_lines
from hub.ingest.acks import ack_all
from hub.ingest.fastpublish import fast_publish, incoming
from hub.ingest.readahead import read_ahead
from tests.harness import MosquittoServer

GROUP = 500


async def _queue_up(broker: MosquittoServer, client_id: str, n: int) -> None:
    async with aiomqtt.Client(broker.host, broker.port, identifier=client_id, clean_session=False) as c:
        await c.subscribe("citysense/v1/+/telemetry", qos=1)
    t0 = time.time_ns() // 1_000_000
    await asyncio.to_thread(publish_lines, broker, [message(s, t0) for s in range(n)])


async def baseline(broker: MosquittoServer, n: int) -> float:
    """CPU µs per message: aiomqtt's iterator, ``Client.ack`` per message."""
    await _queue_up(broker, "bench-base", n)
    client = aiomqtt.Client(broker.host, broker.port, identifier="bench-base", clean_session=False)
    client._client.manual_ack_set(True)
    async with client:
        got, cpu = 0, 0.0
        async for m in client.messages:
            if got == 0:
                cpu = time.process_time()
            client._client.ack(m.mid, m.qos)
            got += 1
            if got == n:
                break
        return (time.process_time() - cpu) / n * 1e6


async def hub_path(broker: MosquittoServer, n: int) -> float:
    """CPU µs per message: the hub's receive path, groups taken from the queue, one PUBACK write per group."""
    await _queue_up(broker, "bench-hub", n)
    client = aiomqtt.Client(broker.host, broker.port, identifier="bench-hub", clean_session=False)
    client._client.manual_ack_set(True)
    fast_publish(client)
    async with client:
        read_ahead(client)
        messages, inbox = aiter(client.messages), client._queue
        got, cpu = 0, 0.0
        while got < n:
            group = [incoming(await anext(messages))]
            if got == 0:
                cpu = time.process_time()
            if k := min(inbox.qsize(), GROUP - 1):
                group += [incoming(inbox.get_nowait()) for _ in range(k)]
            ack_all(client, group)
            got += len(group)
        return (time.process_time() - cpu) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=40_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    base: list[float] = []
    ours: list[float] = []
    with MosquittoServer(max_inflight_messages=1000) as broker:
        for _ in range(args.runs):  # alternated, so a busy moment hits both sides alike
            base.append(asyncio.run(baseline(broker, args.messages)))
            ours.append(asyncio.run(hub_path(broker, args.messages)))
    b, o = statistics.median(base), statistics.median(ours)
    print(f"{args.messages} messages of 874 bytes, QoS 1, median of {args.runs} runs (client CPU per message)")
    print(f"baseline: aiomqtt iterator + Client.ack: {b:6.1f} µs")
    print(f"hub receive path:                        {o:6.1f} µs  ({b / o:.1f}x less CPU)")


if __name__ == "__main__":
    main()

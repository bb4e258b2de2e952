"""The buffer's one-row-per-poll format: batches split rows at their caps, old files are upgraded losing nothing."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from pathlib import Path

from citysense.contract import Reading, TelemetryBatch, decode, encode
from edge_agent.buffer import DurableBuffer
from edge_agent.drivers.modbus.decoder import trusted_reading
from edge_agent.fragments import fragment, poll_body

T0 = 1_700_000_000_000
DATA = Path(__file__).parent / "data"


def poll(device: str, n: int, t: int) -> list[Reading]:
    return [Reading(device=device, metric=f"m{i:02d}", value=t * 100 + i, unit="kWh", ts_ms=T0 + t) for i in range(n)]


def values(buf: DurableBuffer, max_readings: int) -> list[list[object]]:
    out: list[list[object]] = []
    while (b := buf.form(max_readings)) is not None:
        out.append([r.value for r in decode(TelemetryBatch, b.payload, "N1").readings])
        buf.ack(b.seq)
    return out


def test_a_batch_cap_inside_a_poll_splits_it_and_the_rest_survives_a_restart(tmp_path: Path) -> None:
    buf = DurableBuffer(tmp_path / "b.sqlite", "N1")
    for t in range(3):
        buf.put(poll("d1", 30, t))
    first = buf.form(40)
    assert first is not None and first.count == 40 and first.last_id == 40
    assert buf.depth() == 90  # 50 waiting + 40 in the unacknowledged batch
    buf.close()
    again = DurableBuffer(tmp_path / "b.sqlite", "N1")
    assert again.last_id == 90
    assert [len(v) for v in values(again, 40)] == [40, 10]  # the split poll's rest, then the third poll
    got = [r.value for r in decode(TelemetryBatch, first.payload, "N1").readings]
    assert got == [*range(0, 30), *range(100, 110)]
    again.put(poll("d1", 2, 9))
    assert again.last_id == 92  # ids go on from the newest reading


def test_every_reading_of_many_polls_arrives_once_and_in_order_through_small_batches(tmp_path: Path) -> None:
    buf = DurableBuffer(tmp_path / "b.sqlite", "N1")
    sent = []
    for t in range(20):
        readings = poll(f"d{t % 3}", 7 + t % 5, t)
        sent += [r.value for r in readings]
        buf.put(readings)
    got = [v for batch in values(buf, 13) for v in batch]
    assert got == sent and buf.depth() == 0 and buf.dropped == 0


def test_a_reading_too_large_for_any_batch_is_dropped_and_counted_and_its_poll_neighbours_sent(tmp_path: Path) -> None:
    buf = DurableBuffer(tmp_path / "b.sqlite", "N1", max_batch_bytes=2_000)
    readings = poll("d1", 5, 0)
    readings[2] = Reading(device="d1", metric="text", value="x" * 3_000, ts_ms=T0)
    buf.put(readings)
    assert values(buf, 100) == [[0, 1, 3, 4]]
    assert buf.dropped == 1 and buf.depth() == 0


def test_the_size_cap_drops_the_oldest_readings_first_and_counts_them(tmp_path: Path) -> None:
    one = len(b"\n".join(fragment(r) for r in poll("d1", 10, 1)))  # polls 1-5 encode to the same length
    buf = DurableBuffer(tmp_path / "b.sqlite", "N1", max_bytes=one * 3 + 5)
    for t in range(1, 6):
        buf.put(poll("d1", 10, t))
    assert buf.depth() == 30 and buf.dropped == 20
    assert [v[0] for v in values(buf, 1000)] == [300]  # polls 3, 4, 5 kept


def test_a_poll_larger_than_the_size_cap_keeps_its_newest_readings(tmp_path: Path) -> None:
    one = len(fragment(poll("d1", 1, 1)[0]))
    buf = DurableBuffer(tmp_path / "b.sqlite", "N1", max_bytes=one * 4 + 3)  # four readings and their newlines
    buf.put(poll("d1", 10, 1))
    assert (buf.depth(), buf.dropped) == (4, 6)
    assert values(buf, 1000) == [[106, 107, 108, 109]]


def test_a_fragment_is_the_same_json_as_the_contract_encoding() -> None:
    cases: list[object] = [
        0,
        -7,
        2**60,
        2**70,
        1.5,
        0.1,
        1e16,
        2.5e-5,
        -0.0,
        True,
        False,
        "ok",
        'quote " and ° \n',
        None,
    ]
    for value in cases:
        quality = "timeout" if value is None else "good"
        r = Reading(device="pump-1", metric="flow", value=value, unit="m³/h", ts_ms=T0, quality=quality)
        assert json.loads(fragment(r)) == json.loads(encode(r)), value
        assert b"\n" not in fragment(r)
    poll_readings = [Reading(device="d", metric="m", value=v, ts_ms=T0) for v in (1, 2**70, "x")]
    assert poll_body(poll_readings) == b"\n".join(fragment(r) for r in poll_readings)
    inf = trusted_reading("pump-1", "flow", float("inf"), "", T0, "out_of_range")
    assert json.loads(fragment(inf)) == json.loads(encode(inf))  # pydantic decides what JSON cannot spell


# The format-1 buffer (agents before one row per poll), as its code created and wrote it.
_FORMAT_1 = """
CREATE TABLE readings(id INTEGER PRIMARY KEY AUTOINCREMENT, added_ms INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE batches(seq INTEGER PRIMARY KEY, formed_ms INTEGER NOT NULL, first_id INTEGER NOT NULL,
                     n INTEGER NOT NULL, payload BLOB NOT NULL);
CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE state(k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""


def format_1_file(path: Path) -> tuple[bytes, list[Reading]]:
    """A format-1 file: one unacknowledged batch of readings 1-2, readings 3-6 waiting, 4 dropped, seq 7 next."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(_FORMAT_1)
    readings = [Reading(device="d1", metric="level", value=i + 0.5, unit="°C", ts_ms=T0 + i) for i in range(6)]
    for r in readings:
        db.execute("INSERT INTO readings(added_ms, body) VALUES (?, ?)", (T0, encode(r).decode()))
    bodies = [r[0] for r in db.execute("SELECT body FROM readings WHERE id <= 2 ORDER BY id")]
    payload = f'{{"v":1,"node":"N1","epoch":"ep1","seq":6,"floor":6,"sent_ms":{T0},"readings":['
    payload_bytes = (payload + ",".join(bodies) + "]}").encode()
    db.execute("DELETE FROM readings WHERE id <= 2")
    db.execute("INSERT INTO batches VALUES (6, ?, 1, 2, ?)", (T0, payload_bytes))
    db.executemany("INSERT INTO meta VALUES (?, ?)", [("next_seq", 7), ("dropped", 4), ("acked", 5)])
    db.execute("INSERT INTO state VALUES ('epoch', 'ep1')")
    db.close()
    return payload_bytes, readings


def test_a_format_1_file_is_upgraded_on_open_and_every_reading_is_still_sent(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    payload, readings = format_1_file(path)
    buf = DurableBuffer(path, "N1")
    assert (buf.epoch, buf.acked, buf.dropped, buf.depth(), buf.last_id) == ("ep1", 5, 4, 6, 6)
    [pending] = buf.unacked()
    assert (pending.seq, pending.payload) == (6, payload)  # re-sent byte for byte: the hub's dedupe knows it
    batch = buf.form(100)
    assert batch is not None and batch.seq == 7
    assert decode(TelemetryBatch, batch.payload, "N1").readings == readings[2:]
    buf.put(poll("d1", 3, 1))
    assert buf.last_id == 9
    buf.close()
    (version,) = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()
    assert version == 2
    again = DurableBuffer(path, "N1")  # opening an upgraded file again changes nothing
    assert again.depth() == 2 + 4 + 3 and [b.seq for b in again.unacked()] == [6, 7]


def test_a_file_written_by_the_format_1_agent_is_upgraded_and_drained_in_full(tmp_path: Path) -> None:
    # tests/agent/data/buffer_format1.sqlite was written by the agent before this format (commit 60eb850), from a
    # pre-buffer counter at seq 41: 12 readings put, batches 41 and 42 of two each formed, 41 acknowledged by the hub.
    path = tmp_path / "N1.buffer.sqlite"
    shutil.copy(DATA / "buffer_format1.sqlite", path)
    with contextlib.closing(sqlite3.connect(path)) as db:
        (old_batch,) = db.execute("SELECT payload FROM batches WHERE seq = 42").fetchone()
    buf = DurableBuffer(path, "N1")
    assert (buf.epoch, buf.acked, buf.depth(), buf.last_id) == ("0", 41, 10, 12)
    [pending] = buf.unacked()
    assert (pending.seq, pending.payload) == (42, old_batch)
    assert [r.value for r in decode(TelemetryBatch, pending.payload, "N1").readings] == [2.25, 3.25]
    batch = buf.form(100)
    assert batch is not None and batch.seq == 43
    readings = decode(TelemetryBatch, batch.payload, "N1").readings
    assert [r.value for r in readings] == [4.25, 5.25, 6.25, 7.25, 8.25, 9.25, "running", None]
    assert readings[0].unit == "m³/h" and readings[-1].quality == "timeout"
    assert json.loads(batch.payload)["floor"] == 42

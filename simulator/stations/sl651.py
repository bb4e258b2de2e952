"""A simulated SL 651-2014 RTU that dials in, reports and waits for the central station's confirmation.

:func:`run_station` is the field side of mode M2 for one :class:`Sl651Site`:
each report waits ``confirm_timeout_s`` for its confirmation and is re-sent up
to ``max_resends`` times (clause 6.5.2); the station answers the central
station's clock query (51H), clock setting (4AH) and real-time query (37H).
:func:`run_stations` dials many sites at once. The link stays open between
reports (the confirmation's EOT is not acted on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from hub.stations.sl651 import codes, frames
from simulator.stations.sl651_site import Sl651Site

__all__ = ["Sl651Site", "Stats", "run_station", "run_stations"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Stats:
    """What one dial-in session did."""

    sent: int = 0
    confirmed: int = 0
    resent: int = 0
    unconfirmed: int = 0
    commands: int = 0


async def run_station(
    host: str,
    port: int,
    site: Sl651Site,
    *,
    interval_s: float = 60.0,
    reports: int | None = None,
    hourly_every: int = 12,
    confirm_timeout_s: float = 10.0,
    max_resends: int = 3,
    connect_timeout_s: float = 10.0,
) -> Stats:
    """Dial in, report every ``interval_s`` (``reports`` times, or until cancelled) and wait for confirmations.

    Raises :class:`ConnectionError` (an ``OSError``) when the link cannot be opened or is lost.
    """
    stats = Stats()
    async with asyncio.timeout(connect_timeout_s):
        reader, writer = await asyncio.open_connection(host, port)
    waiting: dict[tuple[int, int], asyncio.Future[None]] = {}
    try:
        async with asyncio.TaskGroup() as tasks:
            listen = _listen(reader, writer, site, waiting, stats)
            listener = tasks.create_task(listen, name=f"sl651-listen-{site.station.address}")
            tick = 0
            while reports is None or tick < reports:
                batch = [site.hourly()] if hourly_every and tick and tick % hourly_every == 0 else [site.timed()]
                added = site.added()
                batch += [added] if added else []
                for serial, frame in batch:
                    await _send(writer, frame, serial, waiting, stats, confirm_timeout_s, max_resends)
                tick += 1
                if reports is None or tick < reports:
                    await asyncio.sleep(interval_s)
            listener.cancel()
    except ExceptionGroup as group:
        lost = group.subgroup(OSError)
        if lost is None:
            raise
        raise ConnectionError(f"{site.station.address}: link lost: {lost.exceptions[0]}") from group
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return stats


async def run_stations(
    host: str,
    port: int,
    sites: Sequence[Sl651Site],
    *,
    interval_s: float = 60.0,
    reports: int | None = None,
    confirm_timeout_s: float = 10.0,
) -> list[Stats]:
    """Run :func:`run_station` for every site at once (one named task each); return their stats in order."""
    async with asyncio.TaskGroup() as tasks:
        running = [
            tasks.create_task(
                run_station(host, port, s, interval_s=interval_s, reports=reports, confirm_timeout_s=confirm_timeout_s),
                name=f"sl651-station-{s.station.address}",
            )
            for s in sites
        ]
    return [t.result() for t in running]


async def _send(
    writer: asyncio.StreamWriter,
    frame: bytes,
    serial: int,
    waiting: dict[tuple[int, int], asyncio.Future[None]],
    stats: Stats,
    timeout_s: float,
    max_resends: int,
) -> None:
    key = (frame[10] if frame[:2] == codes.SOH_HEX else int(frame[17:19], 16), serial)
    for attempt in range(max_resends + 1):
        done = waiting[key] = asyncio.get_running_loop().create_future()
        writer.write(frame)
        await writer.drain()
        stats.sent += 1
        stats.resent += attempt > 0
        try:
            async with asyncio.timeout(timeout_s):
                await done
        except TimeoutError:
            continue
        finally:
            waiting.pop(key, None)
        stats.confirmed += 1
        return
    stats.unconfirmed += 1


async def _listen(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    site: Sl651Site,
    waiting: dict[tuple[int, int], asyncio.Future[None]],
    stats: Stats,
) -> None:
    """Read downlink frames: confirmations resolve their report, commands are answered."""
    buf = b""
    while chunk := await reader.read(4096):
        buf += chunk
        while True:
            start = min((i for i in (buf.find(codes.SOH_HEX), buf.find(codes.SOH_ASCII)) if i >= 0), default=-1)
            if start < 0:
                buf = b""
                break
            parsed = frames.parse(buf[start:], down=True, max_frame=4200)
            if parsed is None:
                buf = buf[start:]
                break
            if isinstance(parsed, frames.Malformed):
                buf = buf[start + parsed.skip :]
                continue
            buf = buf[start + len(parsed.raw) :]
            if parsed.end == codes.ENQ:
                stats.commands += 1
                answer = site.answer(parsed)
                if answer is not None:
                    writer.write(answer)
                    await writer.drain()
                continue
            serial = int.from_bytes(parsed.body[:2], "big") if parsed.encoding == "hex" else int(parsed.body[:4], 16)
            done = waiting.get((parsed.function, serial))
            if done is not None and not done.done():
                done.set_result(None)
    raise ConnectionResetError("the central station closed the link")

"""One station's TCP connection: read, frame, act on each event in order, confirm only what is durable.

Identity (docs/stations.md, "Identity"): a connection is bound to the station
of its first valid frame, after its password is checked against the
registry; a later frame claiming another station is refused
(``wrong_station``), and every frame's password is checked again. A
:class:`~hub.stations.base.Report`'s confirmation is written only after
:meth:`hub.stations.ingest.StationIngest.report` returns, i.e. once its
readings are stored or spooled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from hub.ingest.deadletters import Refusal as DeadLetter
from hub.stations.base import Control, Event, Framer, Refusal, Report, StationProtocol
from hub.stations.directory import StationInfo
from hub.stations.settings import ListenerSettings

if TYPE_CHECKING:
    from hub.stations.server import StationGateway

log = logging.getLogger(__name__)
READ_CHUNK = 65536
# A caller that has sent this many refused frames and not one valid one is not a station: hang up.
MAX_REFUSALS_UNIDENTIFIED = 64
WRITE_BUFFER_MAX = 16384  # bytes waiting for a slow station before a write waits for it to drain


class StationConnection:
    """A connected station (bound to a registered one after its first valid frame)."""

    def __init__(
        self,
        gateway: StationGateway,
        protocol: StationProtocol,
        listener: ListenerSettings,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.gateway, self.protocol, self.listener = gateway, protocol, listener
        self.reader, self.writer = reader, writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.framer: Framer = protocol.framer()
        self.info: StationInfo | None = None
        self.answers: asyncio.Queue[Control] = asyncio.Queue(maxsize=64)  # for the command waiting on them
        self.on_control: Callable[[Control], None] | None = None  # a session's (DTU) own handler
        self.refusals = 0

    @property
    def topic(self) -> str:
        """The dead letters' source: protocol and station identity (or the peer before one is known)."""
        who = self.info.address if self.info is not None else self.peer
        return f"station/{self.protocol.name}/{who}"

    async def run(self) -> None:
        """Serve the connection until the station hangs up, idles out or the gateway stops."""
        stats = self.gateway.stats
        try:
            while True:
                try:
                    async with asyncio.timeout(self.listener.idle_timeout_s):
                        data = await self.reader.read(READ_CHUNK)
                except TimeoutError:
                    stats.idle_timeouts += 1
                    log.info("%s: idle for %.0f s, disconnecting", self.topic, self.listener.idle_timeout_s)
                    return
                except (ConnectionError, OSError):
                    return
                if not data:
                    return
                await self.handle_all(self.framer.feed(data))
                if self.info is None and self.refusals > MAX_REFUSALS_UNIDENTIFIED:
                    log.info("%s: %d refusals before a valid frame; disconnecting", self.topic, self.refusals)
                    return
        finally:
            close = getattr(self.framer, "close", None)
            if close is not None:
                await self.handle_all(close())
            await self.gateway.forget(self)

    async def handle_all(self, events: list[Event]) -> None:
        """Act on the events of one read in order; their refusals are dead-lettered in one transaction."""
        letters: list[DeadLetter] = []
        for event in events:
            if isinstance(event, Refusal) and event.reply is None:
                self.gateway.stats.frames[self.protocol.name] += 1
                letters.append(self._letter(event.reason, event.detail, event.raw))
                continue
            if letters:
                await self.gateway.dead.add_many(letters)
                letters = []
            await self.handle(event)
        if letters:
            await self.gateway.dead.add_many(letters)

    async def handle(self, event: Event) -> None:
        """Act on one event: refuse, store then confirm, or answer at once."""
        self.gateway.stats.frames[self.protocol.name] += 1
        if isinstance(event, Refusal):
            await self.refuse(event.reason, event.detail, event.raw, event.reply)
            return
        info = self.info
        known = info is not None and event.station in ("", info.address) and info.password_ok(event.password)
        problem = None if known else await self.gateway.identify(self, event.station, event.password)
        if problem is not None:
            await self.refuse(problem[0], problem[1], event.raw)
            return
        assert self.info is not None
        if isinstance(event, Report):
            windows = getattr(self.protocol, "windows", {})
            await self.gateway.ingest.report(self.topic, self.info, event, windows.get(event.function, ""))
            if event.reply:
                await self.send(event.reply)
            return
        self.gateway.stats.controls += 1
        if event.reply:
            await self.send(event.reply)
        if self.on_control is not None:
            self.on_control(event)
        elif self.answers.full():
            self.answers.get_nowait()  # nobody asked: keep only the newest answers
            self.answers.put_nowait(event)
        else:
            self.answers.put_nowait(event)

    async def refuse(self, reason: str, detail: str, raw: bytes, reply: bytes | None = None) -> None:
        """Count and dead-letter a refusal; send the protocol's negative answer if it has one."""
        await self.gateway.dead.add_many([self._letter(reason, detail, raw)])
        if reply:
            await self.send(reply)

    def _letter(self, reason: str, detail: str, raw: bytes) -> DeadLetter:
        self.gateway.stats.refusals[reason] += 1
        self.refusals += 1
        return (self.topic, self.info.node if self.info is not None else None, reason, detail, raw)

    async def send(self, data: bytes) -> None:
        """Write ``data`` to the station (bounded by the write timeout); a dead link ends the connection."""
        transport = self.writer.transport
        if transport.is_closing():
            return
        self.writer.write(data)  # in order: writes never interleave, whichever task sends
        if transport.get_write_buffer_size() <= WRITE_BUFFER_MAX:
            return  # the kernel took it (the common case): no need to wait
        try:
            async with asyncio.timeout(self.gateway.settings.write_timeout_s):
                await self.writer.drain()
        except (TimeoutError, ConnectionError, OSError) as exc:
            log.info("%s: cannot write (%s); disconnecting", self.topic, exc)
            transport.abort()

    def close(self) -> None:
        """Drop the connection (a newer connection of the same station took over)."""
        self.writer.transport.abort()

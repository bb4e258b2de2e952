"""The station gateway: asyncio TCP servers, one per listener, serving every station connection.

Every listener (``stations.listeners`` in the hub settings) speaks one
protocol of :data:`hub.stations.protocols.PROTOCOLS`; each accepted
connection is a :class:`~hub.stations.connection.StationConnection` task in
the gateway's task group. A protocol may need the gateway to drive the link
(a DTU is polled, not reporting): ``sessions[protocol]`` then runs beside the
connection once it is bound to its station.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from hub.ingest.deadletters import DeadLetterSink
from hub.stations.base import Control, StationProtocol
from hub.stations.connection import StationConnection
from hub.stations.directory import StationDirectory, StationInfo
from hub.stations.errors import StationError
from hub.stations.ingest import StationIngest
from hub.stations.settings import ListenerSettings, StationsSettings
from hub.stations.stats import GatewayStats

log = logging.getLogger(__name__)
NEGATIVE_CACHE_S = 30.0  # an unknown identity is looked up again after this long
Session = Callable[[StationConnection], Awaitable[None]]


class StationGateway:
    """Listeners, connections by node, identity look-ups and downlink commands."""

    def __init__(
        self,
        settings: StationsSettings,
        protocols: Mapping[str, StationProtocol],
        ingest: StationIngest,
        directory: StationDirectory,
        dead: DeadLetterSink,
        stats: GatewayStats,
    ) -> None:
        missing = sorted({lis.protocol for lis in settings.listeners} - set(protocols))
        if missing:
            raise StationError("unknown_protocol", f"no station protocol {', '.join(missing)}")
        self.settings, self.protocols, self.ingest = settings, protocols, ingest
        self.directory, self.dead, self.stats = directory, dead, stats
        self.sessions: dict[str, Session] = {}
        self.ports: dict[str, int] = {}  # protocol -> bound port (for port 0 in tests)
        self.ready = asyncio.Event()
        self._by_node: dict[str, StationConnection] = {}
        self._all: dict[tuple[str, str], StationInfo] | None = None  # every station, loaded at the first look-up
        self._misses: dict[tuple[str, str], float] = {}  # unknown identities -> when last looked up
        self._loading = asyncio.Lock()
        self._generation = 0
        self._open: dict[str, int] = {}
        self._tg: asyncio.TaskGroup | None = None

    async def run(self) -> None:
        """Listen on every port and serve until cancelled; every connection is closed on the way out."""
        async with contextlib.AsyncExitStack() as stack, asyncio.TaskGroup() as tg:
            self._tg = tg
            for lis in self.settings.listeners:
                server = await asyncio.start_server(
                    functools.partial(self._accept, lis), lis.host, lis.port, backlog=1024, limit=65536
                )
                stack.push_async_callback(server.wait_closed)
                stack.callback(server.close)
                self.ports[lis.protocol] = server.sockets[0].getsockname()[1]
                log.info("stations: %s on %s:%d", lis.protocol, lis.host, self.ports[lis.protocol])
            self.ready.set()
            await asyncio.Event().wait()

    def _accept(self, lis: ListenerSettings, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._tg is None or self._open.get(lis.protocol, 0) >= lis.max_connections:
            self.stats.refusals["too_many_connections"] += 1
            writer.transport.abort()
            return
        conn = StationConnection(self, self.protocols[lis.protocol], lis, reader, writer)
        self._open[lis.protocol] = self._open.get(lis.protocol, 0) + 1
        self.stats.connections_total += 1
        self.stats.connections_open += 1
        self._tg.create_task(self._serve(conn), name=f"station:{lis.protocol}:{conn.peer}")

    async def _serve(self, conn: StationConnection) -> None:
        try:
            await conn.run()
        except Exception:
            log.exception("%s: connection failed", conn.topic)  # one station's failure never stops the others
        finally:
            self._open[conn.listener.protocol] -= 1
            self.stats.connections_open -= 1
            conn.writer.transport.abort()

    async def identify(self, conn: StationConnection, station: str, password: str | None) -> tuple[str, str] | None:
        """Bind ``conn`` to ``station`` or check it is the bound one; return ``(reason, detail)`` to refuse."""
        info = conn.info
        if info is None:
            if not station:
                return "not_registered", "a frame before the station said who it is"
            found = await self._lookup(conn.protocol.name, station)
            if found is None:
                return "unknown_station", f"{conn.protocol.name} station '{station[:64]}' is not registered"
            if not found.password_ok(password):
                return "bad_password", f"wrong password for station '{station[:64]}'"
            conn.info = found
            older = self._by_node.get(found.node)
            self._by_node[found.node] = conn
            if older is not None and older is not conn:
                older.close()  # the station dialled in again; its old link is dead
            log.info("%s: station %s connected from %s", found.node, station, conn.peer)
            session = self.sessions.get(conn.protocol.name)
            if session is not None and self._tg is not None:
                self._tg.create_task(self._session(session, conn), name=f"station-session:{found.node}")
            return None
        if station and station != info.address:
            return "wrong_station", f"connection of '{info.address}' sent a frame of '{station[:64]}'"
        if password is not None and not info.password_ok(password):
            return "bad_password", f"wrong password for station '{info.address}'"
        return None

    async def _session(self, session: Session, conn: StationConnection) -> None:
        try:
            await session(conn)
        except Exception:
            log.exception("%s: session failed; disconnecting", conn.topic)
            conn.close()

    async def _lookup(self, protocol: str, address: str) -> StationInfo | None:
        """The registered station of an identity: from every station loaded at once, then one query per miss."""
        table = self._all
        if table is None:
            async with self._loading:  # a thousand stations dialling in after a restart: one load for all
                table = self._all
                if table is None:
                    generation = self._generation
                    table = await asyncio.to_thread(self.directory.infos)
                    if generation == self._generation:  # not invalidated meanwhile
                        self._all = table
        info = table.get((protocol, address))
        if info is not None:
            return info
        miss = self._misses.get((protocol, address))
        now = time.monotonic()
        if miss is not None and now - miss < NEGATIVE_CACHE_S:
            return None
        info = await asyncio.to_thread(self.directory.lookup, protocol, address)  # added since (another worker)
        if info is None:
            if len(self._misses) > 100_000:
                self._misses.clear()
            self._misses[(protocol, address)] = now
        else:
            table[(protocol, address)] = info
        return info

    def invalidate(self) -> None:
        """Stations were added or changed: load them again at the next look-up."""
        self._all = None
        self._generation += 1
        self._misses.clear()

    async def forget(self, conn: StationConnection) -> None:
        """The connection ended."""
        if conn.info is not None and self._by_node.get(conn.info.node) is conn:
            del self._by_node[conn.info.node]
            log.info("%s: station disconnected", conn.info.node)

    def connected(self, node: str) -> StationConnection | None:
        """The live connection of ``node``'s station, if it is connected."""
        return self._by_node.get(node)

    async def command(self, node: str, action: str, args: Mapping[str, Any]) -> Control:
        """Send a downlink command to a connected station and return its first answer."""
        conn = self._by_node.get(node)
        if conn is None or conn.info is None:
            raise StationError("offline", f"station '{node}' is not connected")
        frame = conn.protocol.command(conn.info.address, conn.info.secret, action, args)
        while not conn.answers.empty():
            conn.answers.get_nowait()  # answers nobody waited for are stale
        await conn.send(frame)
        try:
            async with asyncio.timeout(self.settings.command_timeout_s):
                return await conn.answers.get()
        except TimeoutError as exc:
            raise StationError("timeout", f"station '{node}' did not answer '{action}' in time") from exc

"""An ``aiomqtt.Client`` that leaves no unretrieved exception behind when its connection was lost."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

import aiomqtt

EXIT_TIMEOUT_S = 5.0


class Client(aiomqtt.Client):
    """``aiomqtt.Client`` whose exit marks the lost connection's error as retrieved.

    aiomqtt 2.5 stores a lost connection's error in a future that only message
    iteration reads; a session that only publishes (the agent's uplink after a
    frozen broker, a hub session that was not iterating at that moment) left
    it unread, and asyncio logged "Future exception was never retrieved" when
    it was collected. The error itself has already surfaced as the
    ``MqttError`` of the call that failed. A failed connect is cleaned up too.
    """

    async def __aenter__(self) -> Self:
        try:
            return await super().__aenter__()
        except BaseException:
            # A connect that timed out leaves paho's socket open: a CONNACK arriving later (a frozen broker
            # resumed) would "connect" a client nobody exits, whose next disconnect error is never read.
            self._abandon(release=False)  # aiomqtt released its lock itself
            raise

    def _abandon(self, *, release: bool = True) -> None:
        """Drop the connection without waiting for the broker; ``release`` the client's reuse lock."""
        if not self._disconnected.done():
            self._disconnected.set_result(None)  # aiomqtt ignores later disconnects of this client
        sock_close = getattr(self._client, "_sock_close", None)  # paho-mqtt 2.x
        if sock_close is not None:
            sock_close()
        if release and self._lock.locked():
            self._lock.release()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            # aiomqtt waits for the broker to see the DISCONNECT without a limit; a frozen broker never does.
            async with asyncio.timeout(EXIT_TIMEOUT_S):
                await super().__aexit__(exc_type, exc, tb)
        except TimeoutError:
            self._abandon()
        finally:
            for fut in (self._disconnected, self._connected):
                if fut.done() and not fut.cancelled():
                    fut.exception()  # marks it retrieved

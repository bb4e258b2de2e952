"""A Modbus TCP link on the lean client: reads and writes with one lock, one shared timer, no pymodbus.

Outcomes map onto :class:`ModbusError` as :class:`~edge_agent.drivers.modbus.link.ModbusLink`
maps pymodbus': no answer in ``timeout_s`` is ``timeout`` (the connection
stays: a late answer is recognised by its transaction identifier and
dropped); a refused or lost connection, or bytes that are not Modbus TCP,
``comm_failure`` (the next request reconnects); an exception answer
``device_exception`` with its code (MODBUS Application Protocol V1.1b3 §7).
"""

from __future__ import annotations

import asyncio
import logging

from citysense.agentconfig import Connection
from citysense.profiles.model import Table
from citysense.quality import Quality
from edge_agent.drivers.modbus.buslock import BusLock
from edge_agent.drivers.modbus.mbap import (
    DeviceException,
    FrameError,
    read_answer,
    read_request,
    write_answer,
    write_request,
)
from edge_agent.drivers.modbus.tcpclient import LeanTcpClient
from edge_agent.errors import ModbusError

log = logging.getLogger(__name__)
_READ_FC = {table: table.read_function_code for table in Table}  # looked up per request


def _failure(unit: int, exc: Exception) -> ModbusError:
    if isinstance(exc, TimeoutError):
        return ModbusError(Quality.TIMEOUT, f"unit {unit}: no answer in time")
    if isinstance(exc, DeviceException):
        return ModbusError(Quality.DEVICE_EXCEPTION, f"unit {unit}: {exc}", exc.code)
    return ModbusError(Quality.COMM_FAILURE, f"unit {unit}: {exc}")


class LeanTcpLink:
    """One Modbus TCP endpoint through :class:`LeanTcpClient`, sharing the owning link's bus lock."""

    def __init__(self, conn: Connection, lock: BusLock) -> None:
        assert conn.host is not None and conn.port is not None
        self.conn = conn
        self._lock = lock
        self._client: LeanTcpClient | None = None
        self._announced = False  # the first connection is logged at INFO, reconnects at DEBUG

    async def read(self, table: Table, unit: int, start: int, count: int, *, urgent: bool = False) -> list[int]:
        """Read ``count`` registers (bits, for coil tables) from ``start``; 0/1 per bit."""
        if not self._lock.try_acquire():
            await self._lock.acquire(urgent=urgent)
        try:
            client = self._client if self._client is not None and self._client.connected else await self._connect()
            fc = _READ_FC[table]
            tid = client.next_tid()
            try:
                return read_answer(fc, count, await client.request(tid, unit, read_request(tid, unit, fc, start, count),
                                                                   self.conn.timeout_s))  # fmt: skip
            except (TimeoutError, DeviceException, FrameError) as exc:
                raise _failure(unit, exc) from exc
            except OSError as exc:  # ConnectionError included
                self.drop()
                raise _failure(unit, exc) from exc
            finally:
                if self.conn.inter_frame_delay_s:
                    await asyncio.sleep(self.conn.inter_frame_delay_s)
        finally:
            self._lock.release()

    async def write(self, table: Table, unit: int, start: int, values: list[int], *, multiple: bool) -> None:
        """Write coils (FC 5, 15) or holding registers (FC 6, 16), ahead of waiting polls."""
        fc = (15 if multiple else 5) if table is Table.COIL else (16 if multiple else 6)
        async with self._lock.hold(urgent=True):
            client = self._client if self._client is not None and self._client.connected else await self._connect()
            tid = client.next_tid()
            try:
                pdu = await client.request(tid, unit, write_request(tid, unit, fc, start, values), self.conn.timeout_s)
                write_answer(fc, start, values, pdu)
            except (TimeoutError, DeviceException, FrameError) as exc:
                raise _failure(unit, exc) from exc
            except OSError as exc:
                self.drop()
                raise _failure(unit, exc) from exc
            finally:
                if self.conn.inter_frame_delay_s:
                    await asyncio.sleep(self.conn.inter_frame_delay_s)

    async def _connect(self) -> LeanTcpClient:
        self.drop()
        c = self.conn
        assert c.host is not None and c.port is not None
        client = LeanTcpClient(c.id)
        try:
            async with asyncio.timeout(c.timeout_s * 2):
                await client.connect(c.host, c.port)
        except (TimeoutError, OSError) as exc:
            client.close()
            raise ModbusError(Quality.COMM_FAILURE, f"cannot connect to {c.host}:{c.port}") from exc
        # Once at INFO: a device that breaks every answer is reconnected at each poll, and the poller already
        # logs its failure and its recovery once each (a line per reconnect flooded the log).
        log.log(logging.DEBUG if self._announced else logging.INFO, "%s: connected to %s:%s", c.id, c.host, c.port)
        self._announced = True
        self._client = client
        return client

    def drop(self) -> None:
        """Close the connection (the next request reconnects)."""
        if self._client is not None:
            self._client.close()
            self._client = None

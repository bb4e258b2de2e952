"""One Modbus connection (TCP endpoint, serial server or serial port) as a pipe of requests.

The link owns the client (for Modbus TCP the lean client of
:mod:`edge_agent.drivers.modbus.tcpclient`, unless the connection says
``modbus_client: pymodbus``; pymodbus for RTU and RTU over TCP), serialises requests with one lock (a bus
carries one transaction at a time; for RTU a pause of ``inter_frame_delay_s``
separates frames; writes are served ahead of waiting polls) and maps every outcome onto :class:`ModbusError`
with the quality code the affected points get. It knows nothing of profiles.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.framer import FramerType

from citysense.agentconfig import Connection, ConnectionType
from citysense.profiles.model import Table
from citysense.quality import Quality
from edge_agent.drivers.modbus.buslock import BusLock
from edge_agent.drivers.modbus.leantcp import LeanTcpLink
from edge_agent.errors import ModbusError

log = logging.getLogger(__name__)
_PYMODBUS = logging.getLogger("pymodbus")


def quiet_pymodbus() -> None:
    """Keep pymodbus from logging an ERROR and a frame dump for every failed request.

    The link turns every failure into a :class:`ModbusError` and the poller logs
    a device's failure and recovery once each; pymodbus' own lines would repeat
    that on every poll. Unless logging runs at DEBUG (a technician chasing
    frames), or someone configured pymodbus' logger, it is set to CRITICAL.
    """
    if _PYMODBUS.level == logging.NOTSET and not logging.getLogger().isEnabledFor(logging.DEBUG):
        _PYMODBUS.setLevel(logging.CRITICAL)


_Client = AsyncModbusTcpClient | AsyncModbusSerialClient


class RegisterLink(Protocol):
    """What a poller and the writer use: this module's :class:`ModbusLink`, or the hub's link through a 4G DTU."""

    async def read(self, table: Table, unit: int, start: int, count: int, *, urgent: bool = False) -> list[int]:
        """Read ``count`` registers (bits, for coil tables) from ``start``; raise ``ModbusError``."""
        ...

    async def write(
        self, table: Table, unit: int, start: int, values: list[int], *, function_code: int | None = None
    ) -> None:
        """Write coils or holding registers from ``start`` (``function_code`` 15/16 forces the multiple-write form)."""
        ...


class ModbusLink:
    """Serialised access to one Modbus connection."""

    def __init__(self, conn: Connection) -> None:
        quiet_pymodbus()
        self.conn = conn
        self._lock = BusLock()
        self._client: _Client | None = None
        self._announced = False  # the first connection is logged at INFO, reconnects at DEBUG
        lean = conn.type is ConnectionType.MODBUS_TCP and conn.modbus_client == "lean"
        self._lean = LeanTcpLink(conn, self._lock) if lean else None
        if self._lean is not None:  # polls call the lean link directly: one coroutine less per request
            self.read = self._lean.read  # type: ignore[method-assign]

    def _make_client(self) -> _Client:
        c = self.conn
        if c.type is ConnectionType.MODBUS_RTU:
            assert c.serial_port is not None
            return AsyncModbusSerialClient(
                c.serial_port,
                framer=FramerType.RTU,
                baudrate=c.baudrate,
                parity=c.parity,
                stopbits=c.stopbits,
                timeout=c.timeout_s,
                retries=0,
                reconnect_delay=0,
            )
        assert c.host is not None and c.port is not None
        framer = FramerType.RTU if c.type is ConnectionType.MODBUS_RTU_OVER_TCP else FramerType.SOCKET
        return AsyncModbusTcpClient(
            c.host,
            port=c.port,
            framer=framer,
            timeout=c.timeout_s,
            retries=0,
            reconnect_delay=0,
        )

    async def _connected(self) -> _Client:
        if self._client is not None and self._client.connected:
            return self._client
        if self._client is not None:
            self._client.close()
        self._client = self._make_client()
        try:
            async with asyncio.timeout(self.conn.timeout_s * 2):
                ok = await self._client.connect()
        except TimeoutError:
            ok = False
        if not ok:
            raise ModbusError(Quality.COMM_FAILURE, f"cannot connect to {self._describe()}")
        # Once at INFO, as the lean link (leantcp.py): the poller logs failures and recoveries once each.
        log.log(
            logging.DEBUG if self._announced else logging.INFO, "%s: connected to %s", self.conn.id, self._describe()
        )
        self._announced = True
        return self._client

    def _describe(self) -> str:
        c = self.conn
        return c.serial_port or f"{c.host}:{c.port}"

    async def read(self, table: Table, unit: int, start: int, count: int, *, urgent: bool = False) -> list[int]:
        """Read ``count`` registers (bits, for coil tables) from ``start``; 0/1 per bit."""
        if self._lean is not None:
            return await self._lean.read(table, unit, start, count, urgent=urgent)

        async def call(client: _Client) -> Any:
            if table is Table.HOLDING:
                return await client.read_holding_registers(start, count=count, device_id=unit)  # FC 3
            if table is Table.INPUT:
                return await client.read_input_registers(start, count=count, device_id=unit)  # FC 4
            if table is Table.COIL:
                return await client.read_coils(start, count=count, device_id=unit)  # FC 1
            return await client.read_discrete_inputs(start, count=count, device_id=unit)  # FC 2

        rr = await self._transact(unit, call, urgent=urgent)
        if table.is_bit_table:
            return [1 if b else 0 for b in rr.bits[:count]]
        return list(rr.registers)

    async def write(
        self, table: Table, unit: int, start: int, values: list[int], *, function_code: int | None = None
    ) -> None:
        """Write coils (FC 5 one, FC 15 many) or holding registers (FC 6 one, FC 16 many), ahead of polls.

        ``function_code`` forces FC 15/16 even for one value (devices such as the EPEVER
        Tracer series accept only FC 16 for holding registers).
        """
        if table not in (Table.COIL, Table.HOLDING):
            raise ModbusError(Quality.DEVICE_EXCEPTION, f"the {table.value} table is read-only")
        multiple = len(values) > 1 or function_code in (15, 16)
        if self._lean is not None:
            await self._lean.write(table, unit, start, values, multiple=multiple)
            return

        async def call(client: _Client) -> Any:
            if table is Table.COIL:
                if not multiple:
                    return await client.write_coil(start, bool(values[0]), device_id=unit)  # FC 5
                return await client.write_coils(start, [bool(v) for v in values], device_id=unit)  # FC 15
            if not multiple:
                return await client.write_register(start, values[0], device_id=unit)  # FC 6
            return await client.write_registers(start, values, device_id=unit)  # FC 16

        await self._transact(unit, call, urgent=True)

    async def _transact(self, unit: int, call: Callable[[_Client], Awaitable[Any]], *, urgent: bool) -> Any:
        async with self._lock.hold(urgent=urgent):
            client = await self._connected()
            try:
                async with asyncio.timeout(self.conn.timeout_s * 2):
                    rr = await call(client)
            except TimeoutError as exc:
                raise ModbusError(Quality.TIMEOUT, f"unit {unit}: no answer in time") from exc
            except ConnectionException as exc:
                self._drop()
                raise ModbusError(Quality.COMM_FAILURE, f"unit {unit}: {exc}") from exc
            except ModbusException as exc:
                quality = (
                    Quality.TIMEOUT
                    if "timeout" in str(exc).lower() or "No response" in str(exc)
                    else (Quality.COMM_FAILURE)
                )
                raise ModbusError(quality, f"unit {unit}: {exc}") from exc
            finally:
                if self.conn.inter_frame_delay_s:
                    await asyncio.sleep(self.conn.inter_frame_delay_s)
            if rr.isError():
                code = getattr(rr, "exception_code", None)
                raise ModbusError(Quality.DEVICE_EXCEPTION, f"unit {unit}: exception code {code}", code)
            return rr

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._lean is not None:
            self._lean.drop()

    async def close(self) -> None:
        """Close the connection."""
        async with self._lock.hold(urgent=True):
            self._drop()

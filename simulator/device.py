"""One simulated device: a value model rendered into a register image, served under one unit id.

The node re-renders the image on a timer; pymodbus' ``action`` hook copies
the image into the response of every read. A client's write is checked as a
real device checks it (only writable points, whole points, valid values;
else Modbus exception 2 or 3), then becomes part of the device's state, so
the next render keeps it: a written dimming level stays, a rain counter
written to 0 counts on from 0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import cast

from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData, SimDevice

from citysense.errors import CodecError
from citysense.profiles.model import Point, Profile, Table
from citysense.profiles.transform import to_raw, to_value
from citysense.quality import Quality
from simulator.models import DeviceState, Value, complete, model_for
from simulator.registers import RegisterImage

log = logging.getLogger(__name__)

_TABLE_OF_FC = {1: Table.COIL, 5: Table.COIL, 15: Table.COIL, 2: Table.DISCRETE_INPUT, 4: Table.INPUT}
_TABLE_OF_FC |= {3: Table.HOLDING, 6: Table.HOLDING, 16: Table.HOLDING}

Served = tuple[Value | None, Quality]


class SimulatedDevice:
    """A profile's registers under one unit id, driven by the value model of its category."""

    def __init__(self, device_id: str, profile: Profile, unit_id: int, seed: int, clock: Callable[[], float]) -> None:
        self.device_id = device_id
        self.profile = profile
        self.unit_id = unit_id
        self.seed = seed
        self.clock = clock
        self.model = model_for(profile.category)
        self.state = DeviceState()
        self.image = RegisterImage(profile)
        self.forced: dict[str, list[int]] = {}
        self.served: dict[str, Served] = {}
        self.render(clock())

    def values(self, t: float) -> dict[str, Value]:
        """Return the engineering value of every point at ``t`` under the current state."""
        return complete(self.profile, self.model.values(t, self.seed, self.state), self.state.written)

    def render(self, t: float) -> None:
        """Recompute the values at ``t`` and write them into the register image."""
        self.image.render(self.values(t), self.forced)
        served: dict[str, Served] = {}
        dynamic = [p for p in self.profile.points if p.scale_from is not None]
        for p in [p for p in self.profile.points if p.scale_from is None] + dynamic:  # decimals registers first
            served[p.metric] = self.image.decode(p, {m: v for m, (v, _q) in served.items()})
        self.served = {p.metric: served[p.metric] for p in self.profile.points}

    def snapshot(self) -> dict[str, Value | None]:
        """Return what a client decoding per profile reads now, per metric (``None`` for a sentinel)."""
        return {metric: value for metric, (value, _quality) in self.served.items()}

    def write(self, metric: str, value: Value) -> None:
        """Apply a write as the device does, also without Modbus; raises ``CodecError`` when refused."""
        point = self.profile.point(metric)
        if not point.writable:
            raise CodecError(f"'{metric}' of {self.profile.id} is read-only")
        to_raw(self.profile, point, value, self.snapshot())  # refuses what the device would refuse
        t = self.clock()
        self.state = self.state.after_write(t, metric, value, self.values(t), self.model.counters)
        log.info("%s: %s written: %s", self.device_id, metric, value)
        self.render(t)

    def force_raw(self, metric: str, registers: Sequence[int] | None) -> None:
        """Serve ``registers`` for ``metric`` whatever the model says (a sentinel, say); ``None`` undoes it."""
        point = self.profile.point(metric)
        if registers is None:
            self.forced.pop(metric, None)
        elif point.table.is_bit_table or len(registers) != point.register_count:
            raise ValueError(f"'{metric}' takes {point.register_count} register(s)")
        else:
            self.forced[metric] = list(registers)
        self.render(self.clock())

    def sim_device(self) -> SimDevice:
        """Build the pymodbus device whose reads and writes go through this object."""
        return SimDevice(self.unit_id, simdata=self.image.sim_blocks(), action=self._action)

    async def _action(
        self, fc: int, start: int, address: int, count: int, registers: list[int], new: list[int] | list[bool] | None
    ) -> ExcCodes | None:
        """Serve the image on reads; check and apply writes (pymodbus' ``SimDevice.action`` hook)."""
        table = _TABLE_OF_FC.get(fc)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        if not self.image.points[table]:
            return ExcCodes.ILLEGAL_ADDRESS
        if new is not None:
            refused = self._write(table, address, new, multiple=fc in (15, 16))
            if refused is not None:
                return refused
            self._echo(table, address, new)
        self.image.serve(table, start, address, count, registers)
        return None

    def _write(self, table: Table, address: int, new: Sequence[int | bool], *, multiple: bool) -> ExcCodes | None:
        """Check and apply a write of ``new`` from ``address``; return the exception to answer, if any."""
        end = address + len(new)
        touched = [p for p in self.image.points[table] if self._start(p) < end and address < self._end(p)]
        if not touched or not all(p.writable for p in touched):
            return ExcCodes.ILLEGAL_ADDRESS  # read-only or unmapped, as a real device answers
        if not multiple and any(p.write_function_code in (15, 16) for p in touched):
            return ExcCodes.ILLEGAL_FUNCTION  # e.g. the EPEVER Tracer: holding registers only by FC 16
        if any(self._start(p) < address or self._end(p) > end for p in touched):
            return ExcCodes.ILLEGAL_ADDRESS  # half of a multi-register value
        decoded: list[tuple[Point, Value]] = []
        for p in touched:
            offset = self._start(p) - address
            if table.is_bit_table:
                decoded.append((p, bool(new[offset])))
                continue
            words = [int(w) for w in new[offset : offset + p.register_count]]
            if p.bit is not None:  # one bit of a register: the other bits are not this point's
                words = [words[0] & (1 << p.bit)]
            value, quality = to_value(self.profile, p, words, self.snapshot())
            if quality is not Quality.GOOD or value is None:
                return ExcCodes.ILLEGAL_VALUE
            decoded.append((p, value))
        try:
            for p, value in decoded:
                to_raw(self.profile, p, value, self.snapshot())  # all or nothing: check every value before applying one
        except CodecError:
            return ExcCodes.ILLEGAL_VALUE
        for p, value in decoded:
            self.write(p.metric, value)
        return None

    def _echo(self, table: Table, address: int, new: list[int] | list[bool]) -> None:
        """Make pymodbus store what the device now holds, not the raw request."""
        if table.is_bit_table:
            bits = self.image.bits[table]
            for i in range(len(new)):
                new[i] = bits.get(address + i, False)
            return
        words = self.image.words[table]
        base = self.image.base[table]
        registers = cast("list[int]", new)
        for i in range(len(registers)):
            registers[i] = words[address + i - base]

    def _start(self, point: Point) -> int:
        return self.image.address(point)

    def _end(self, point: Point) -> int:
        return self.image.address(point) + point.register_count


async def _no_response(
    _fc: int, _start: int, _address: int, _count: int, _registers: list[int], _new: list[int] | list[bool] | None
) -> ExcCodes:
    return ExcCodes.GATEWAY_NO_RESPONSE


def absent_units() -> SimDevice:
    """Return a catch-all for unit ids without a device: exception 0x0B, as a serial gateway answers.

    (Modbus Application Protocol v1.1b3 §7: "gateway target device failed to respond".)
    """
    return SimDevice(0, simdata=[SimData(0, count=65536, values=0, datatype=DataType.REGISTERS)], action=_no_response)

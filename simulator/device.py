"""One simulated device: its register tables, filled from its value model on every read.

Built on pymodbus' ``SimDevice`` with an ``action`` hook, which pymodbus calls
before it answers a request with the table's register list: reads refresh the
registers from the model at the current (or frozen) time, writes are checked
(only writable points, only valid values, else Modbus exception 2 or 3 as a
real device answers) and handed to the model so that they stick.
"""

from __future__ import annotations

from collections.abc import Callable

from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData, SimDevice

from citysense.errors import CodecError
from citysense.profiles.model import Point, Profile, Table
from citysense.profiles.transform import to_raw, to_value
from citysense.quality import Quality
from simulator.models import DeviceModel, Value, model_for

_TABLE_OF_FC = {
    1: Table.COIL,
    5: Table.COIL,
    15: Table.COIL,
    2: Table.DISCRETE_INPUT,
    3: Table.HOLDING,
    6: Table.HOLDING,
    16: Table.HOLDING,
    23: Table.HOLDING,
    4: Table.INPUT,
}
_ORDER = (Table.COIL, Table.DISCRETE_INPUT, Table.HOLDING, Table.INPUT)  # pymodbus' block tuple order


class SimulatedDevice:
    """A profile's registers served under one unit id."""

    def __init__(self, profile: Profile, unit_id: int, seed: int, now: Callable[[], float]) -> None:
        self.profile = profile
        self.unit_id = unit_id
        self.model: DeviceModel = model_for(profile, seed)
        self.now = now
        self._by_table: dict[Table, list[Point]] = {t: [] for t in Table}
        for p in profile.points:
            self._by_table[p.table].append(p)

    def values(self) -> dict[str, Value]:
        """Engineering values the model holds now."""
        return self.model.values(self.now())

    def snapshot(self) -> dict[str, Value | None]:
        """What a client decoding per profile obtains now: ``to_value(to_raw(v))`` for each point."""
        vals = self.values()
        out: dict[str, Value | None] = {}
        for p in self.profile.points:
            # A bit point encodes to its register with only that bit set, which decodes to the same bit.
            value, _quality = to_value(self.profile, p, self._encode(p, vals[p.metric]))
            out[p.metric] = value
        return out

    def sim_device(self) -> SimDevice:
        """Build the pymodbus device with one block per table that has points."""
        blocks: list[list[SimData]] = []
        vals = self.values()
        for table in _ORDER:
            points = self._by_table[table]
            if not points:
                blocks.append(
                    [
                        SimData(
                            0,
                            count=1,
                            values=False if table.is_bit_table else 0,
                            datatype=DataType.BITS if table.is_bit_table else DataType.REGISTERS,
                        )
                    ]
                )
                continue
            start = min(self.profile.pdu_address(p) for p in points)
            end = max(self.profile.pdu_address(p) + p.register_count for p in points)
            if table.is_bit_table:
                bits = [False] * (end - start)
                for p in points:
                    bits[self.profile.pdu_address(p) - start] = bool(vals[p.metric])
                blocks.append([SimData(start, values=bits, datatype=DataType.BITS)])
            else:
                regs = [0] * (end - start)
                self._fill(table, start, regs)
                blocks.append([SimData(start, values=regs, datatype=DataType.REGISTERS)])
        return SimDevice(self.unit_id, simdata=(blocks[0], blocks[1], blocks[2], blocks[3]), action=self._action)

    def _fill(self, table: Table, start: int, regs: list[int]) -> None:
        vals = self.values()
        bit_regs: dict[int, int] = {}
        for p in self._by_table[table]:
            offset = self.profile.pdu_address(p) - start
            raw = self._encode(p, vals[p.metric])
            if p.bit is not None:
                bit_regs[offset] = bit_regs.get(offset, 0) | raw[0]
            else:
                regs[offset : offset + len(raw)] = raw
        for offset, word in bit_regs.items():
            regs[offset] = word

    def _encode(self, p: Point, value: Value) -> list[int]:
        """Encode a model value, clamping it into the point's valid range (a model must not crash the device)."""
        try:
            return to_raw(self.profile, p, value)
        except CodecError:
            if p.range is None or isinstance(value, str | bool):
                raise
            return to_raw(self.profile, p, min(max(float(value), p.range[0]), p.range[1]))

    async def _action(
        self, fc: int, start: int, address: int, count: int, regs: list[int], set_values: list[int] | list[bool] | None
    ) -> ExcCodes | None:
        table = _TABLE_OF_FC.get(fc)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        if set_values is None:
            if not table.is_bit_table:
                self._fill(table, start, regs)
            return None
        return self._write(table, start, address, regs, list(set_values))

    def _write(
        self, table: Table, start: int, address: int, regs: list[int], new: list[int] | list[bool]
    ) -> ExcCodes | None:
        span = range(address, address + len(new))
        touched = [
            p
            for p in self._by_table[table]
            if set(range(self.profile.pdu_address(p), self.profile.pdu_address(p) + p.register_count)) & set(span)
        ]
        covered = {
            a
            for p in touched
            for a in range(self.profile.pdu_address(p), self.profile.pdu_address(p) + p.register_count)
        }
        if not touched or not all(p.writable for p in touched) or not set(span) <= covered:
            return ExcCodes.ILLEGAL_ADDRESS  # a real device refuses writes to read-only or unmapped registers
        if table.is_bit_table:
            for p in touched:
                self.model.write(p.metric, bool(new[self.profile.pdu_address(p) - address]))
            return None
        after = list(regs)
        after[address - start : address - start + len(new)] = [int(v) for v in new]
        decoded: list[tuple[Point, Value]] = []
        for p in touched:
            offset = self.profile.pdu_address(p) - start
            value, quality = to_value(self.profile, p, after[offset : offset + p.register_count])
            if quality is not Quality.GOOD or value is None:
                return ExcCodes.ILLEGAL_VALUE
            decoded.append((p, value))
        for p, value in decoded:
            try:
                to_raw(self.profile, p, value)
            except CodecError:
                return ExcCodes.ILLEGAL_VALUE
            self.model.write(p.metric, value)
        return None

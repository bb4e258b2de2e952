"""Decode one poll's answers into readings with a decoder compiled once per read plan.

The reference for every value is :func:`citysense.profiles.transform.to_value`.
Running it per point costs a ``struct`` call, byte shuffling and checks for
each of thousands of points a second, so for the common points (whole
numbers and floats in their own registers: no bit, mask, BCD, packed time,
string or scale from another register) each request gets a precompiled
*block decoder*: one ``struct.Struct`` over the whole answer (pad bytes for
the holes and for other points), with the words of low-word-first values
reordered by one precomputed permutation. One C call unpacks every such value
of the request; a short per-point loop applies sentinels, scale, offset and
range exactly as the transform does. Every other point goes through
``to_value``, with this poll's values as context for ``scale_from``.
A test checks both paths agree on every type and layout.

Readings are built without re-validating each one (:func:`trusted_reading`):
the decoder guarantees what :class:`citysense.contract.Reading` checks (a good
reading has a finite value; metric and device ids come from validated files).
"""

from __future__ import annotations

import math
import operator
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from citysense.codec import ByteOrder, DataType
from citysense.contract import Reading
from citysense.profiles.model import Point, Profile
from citysense.profiles.transform import Value, to_value, unit_of
from citysense.quality import Quality
from edge_agent.drivers.modbus.planner import ReadRequest, part_length
from edge_agent.errors import ModbusError

_ROUND_DIGITS = 9  # as citysense.profiles.transform
_FAST_TYPES = {
    DataType.INT16: "h", DataType.UINT16: "H", DataType.INT32: "i", DataType.UINT32: "I",
    DataType.INT64: "q", DataType.UINT64: "Q", DataType.FLOAT32: "f", DataType.FLOAT64: "d",
}  # fmt: skip
_GOOD, _OOR, _SENTINEL = Quality.GOOD.wire, Quality.OUT_OF_RANGE.wire, Quality.SENTINEL.wire
_new = object.__new__
# BaseModel's slots, set through their descriptors (what object.__setattr__ ends up calling, minus the lookup).
_SLOTS = BaseModel.__dict__
_set_dict = _SLOTS["__dict__"].__set__
_set_fields = _SLOTS["__pydantic_fields_set__"].__set__
_set_extra = _SLOTS["__pydantic_extra__"].__set__
_set_private = _SLOTS["__pydantic_private__"].__set__
_FIELDS_SET = {"device", "metric", "value", "unit", "ts_ms", "quality"}


def trusted_reading(device: str, metric: str, value: Value, unit: str, ts_ms: int, quality: str) -> Reading:
    """A :class:`Reading` built without validation, for values the decoder has already checked."""
    r = _new(Reading)
    _set_dict(r, {"device": device, "metric": metric, "value": value, "unit": unit, "ts_ms": ts_ms,
                  "quality": quality})  # fmt: skip
    _set_fields(r, _FIELDS_SET)  # shared: a frozen model never adds to it, and copies copy it
    _set_extra(r, None)
    _set_private(r, None)
    return r


def is_fast(point: Point) -> bool:
    """True for points the block decoder handles (see the module docstring)."""
    return (
        not point.table.is_bit_table
        and point.type in _FAST_TYPES
        and point.addresses is None
        and point.bit is None
        and point.mask is None
        and not point.shift
        and not point.bcd
        and point.scale_from is None
        and point.unit_from is None
    )


@dataclass(frozen=True, slots=True)
class _Fast:
    metric: str
    unit: str
    scale: float
    offset: float
    scaled: bool
    float32: bool
    is_float: bool
    lo: float
    hi: float
    sentinels: frozenset[int]
    states: frozenset[int] | None


class _Block:
    """The precompiled decoder of one request's fast points."""

    def __init__(self, profile: Profile, req: ReadRequest, points: list[tuple[int, Point]]) -> None:
        perm = list(range(req.count))
        fmts: dict[ByteOrder, list[str]] = {ByteOrder.BIG: [">"], ByteOrder.LITTLE: [">"]}  # bytes end up ABCD
        self.order: dict[ByteOrder, list[_Fast]] = {ByteOrder.BIG: [], ByteOrder.LITTLE: []}
        cursor = {ByteOrder.BIG: 0, ByteOrder.LITTLE: 0}
        for address, p in sorted(points, key=lambda item: item[0]):
            offset, n = address - req.start, p.register_count
            if profile.word_order(p) is ByteOrder.LITTLE:
                perm[offset : offset + n] = reversed(perm[offset : offset + n])
            bo = profile.byte_order(p)
            # Little byte order: the words are packed little-endian, which swaps each word's bytes back.
            fmts[bo].append(f"{2 * (offset - cursor[bo])}x{_FAST_TYPES[p.type]}")
            cursor[bo] = offset + n
            lo, hi = p.range if p.range is not None else (-math.inf, math.inf)
            self.order[bo].append(_Fast(
                p.metric, p.unit, p.scale, p.offset, p.scale != 1.0 or p.offset != 0.0, p.type is DataType.FLOAT32,
                p.type in (DataType.FLOAT32, DataType.FLOAT64), lo, hi, frozenset(p.sentinels),
                None if p.enum is None else frozenset(p.enum),
            ))  # fmt: skip
        self.count = req.count
        self.permute: Callable[[Sequence[int]], Any] | None = None
        if perm != list(range(req.count)):
            getter = operator.itemgetter(*perm)
            self.permute = (lambda v: (getter(v),)) if req.count == 1 else getter
        self.structs = {
            bo: (struct.Struct(f"{'>' if bo is ByteOrder.BIG else '<'}{req.count}H"), struct.Struct("".join(f)))
            for bo, f in fmts.items()
            if self.order[bo]
        }

    def decode(self, device: str, values: Sequence[int], ts_ms: int, out: list[Reading], ctx: dict[str, Value]) -> None:
        words = values if self.permute is None else self.permute(values)
        for bo, (pack, unpack) in self.structs.items():
            raws = unpack.unpack_from(pack.pack(*words))
            for f, raw in zip(self.order[bo], raws, strict=True):
                value, quality = _finish(f, raw)
                out.append(trusted_reading(device, f.metric, value, f.unit, ts_ms, quality))
                ctx[f.metric] = value


def _finish(f: _Fast, raw: int | float) -> tuple[Value, str]:
    """Sentinel, enum, scale, offset and range of one fast point, as the transform does them."""
    if f.is_float:
        if not math.isfinite(raw):
            return None, _SENTINEL
        if f.float32:
            raw = float(f"{raw:.7g}")
    elif raw in f.sentinels:
        return None, _SENTINEL
    if f.states is not None:
        return raw, (_GOOD if raw in f.states else _OOR)
    value = round(raw * f.scale + f.offset, _ROUND_DIGITS) if f.scaled else raw
    return value, (_GOOD if f.lo <= value <= f.hi else _OOR)


class PlanDecoder:
    """Turns the answers to one read plan into readings (fast block decoders, then the other points)."""

    def __init__(self, device_id: str, profile: Profile, requests: Sequence[ReadRequest]) -> None:
        self.device_id = device_id
        self.profile = profile
        self.blocks: list[_Block | None] = []
        where: dict[tuple[str, int], tuple[int, int]] = {}  # (metric, pdu address) -> (request, offset)
        slow: dict[str, Point] = {}
        for i, req in enumerate(requests):
            fast = [(a, p) for a, p in req.parts if is_fast(p)]
            self.blocks.append(_Block(profile, req, fast) if fast else None)
            for a, p in req.parts:
                if not is_fast(p):
                    slow.setdefault(p.metric, p)
                    where[(p.metric, a)] = (i, a - req.start)
        base = profile.defaults.address_base
        dynamic = [p for p in slow.values() if p.scale_from is not None or p.unit_from is not None]
        ordered = [p for p in slow.values() if p not in dynamic] + dynamic  # context first
        self.slow: list[tuple[Point, list[tuple[int, int, int]]]] = []
        for p in ordered:
            starts = [a - base for a in p.addresses] if p.addresses is not None else [p.address - base]
            self.slow.append((p, [(*where[(p.metric, a)], part_length(p)) for a in starts]))

    def decode(self, results: Sequence[list[int] | ModbusError], stamps: Sequence[int]) -> list[Reading]:
        """Readings of one poll: ``results[i]`` answers request ``i`` (or failed), completed at ``stamps[i]``."""
        out: list[Reading] = []
        ctx: dict[str, Value] = {}
        device = self.device_id
        for block, result, ts_ms in zip(self.blocks, results, stamps, strict=True):
            if block is None:
                continue
            if isinstance(result, ModbusError):
                wire = result.quality.wire
                out.extend(
                    trusted_reading(device, f.metric, None, f.unit, ts_ms, wire)
                    for group in block.order.values()
                    for f in group
                )
            else:
                block.decode(device, result, ts_ms, out, ctx)
        for p, parts in self.slow:
            words: list[int] = []
            failed: ModbusError | None = None
            ts_ms = 0
            for i, offset, n in parts:
                result = results[i]
                ts_ms = max(ts_ms, stamps[i])
                if isinstance(result, ModbusError):
                    failed = result
                    break
                words += result[offset : offset + n]
            if failed is not None:
                out.append(trusted_reading(device, p.metric, None, unit_of(p, ctx), ts_ms, failed.quality.wire))
                continue
            value, quality = to_value(self.profile, p, words, ctx)
            ctx[p.metric] = value
            out.append(trusted_reading(device, p.metric, value, unit_of(p, ctx), ts_ms, quality.wire))
        return out

"""Decode telemetry on the hot path with msgspec; pydantic decides everything else.

:func:`citysense.contract.decode` (pydantic) is the contract's source of truth,
and validating every message with it costs a tenth of the hub's CPU. Here the
same :class:`~citysense.contract.TelemetryBatch` schema is written a second
time as msgspec structs, checked by hand where msgspec cannot say it (a good
reading needs a value; NaN is not a value), and kept *stricter* than pydantic:
msgspec never coerces types, and the id patterns end in ``\\Z`` (pydantic's
regex engine reads ``$`` as end of text; Python's ``re`` would also accept a
trailing newline). The patterns are checked after decoding, against a small
set of ids already seen valid (a node sends the same few ids in every batch;
matching each with ``re`` took three quarters of the decode time). Whatever
the fast path refuses goes to pydantic, which either accepts it (a coercion
it allows) or raises the contract's :class:`~citysense.errors.ContractError`
with the usual reason and detail. So every payload gets the outcome pydantic gives it; ``tests/hub/test_wire.py``
checks that both agree on valid and hostile payloads.

Errors: :class:`~citysense.errors.ContractError` only, from the pydantic path.
"""

from __future__ import annotations

import re
from math import isnan
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from citysense.contract import (
    LEGACY_EPOCH,
    MAX_PAYLOAD_BYTES,
    MAX_READINGS_PER_BATCH,
    MAX_SEQ,
    Reading,
    TelemetryBatch,
    decode,
)
from citysense.quality import BY_WIRE, Quality

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")  # contract.ID_PATTERN
_METRIC_RE = re.compile(r"[a-z](?:_?[a-z0-9])*\Z")  # contract.MetricName
_EPOCH_RE = re.compile(r"[A-Za-z0-9_-]{1,32}\Z")  # contract.EPOCH_PATTERN
_METRIC = Annotated[str, Meta(max_length=64)]
VALID_CACHE_MAX = 100_000
_valid_ids: set[str] = set()
_valid_metrics: set[str] = set()
_valid_epochs: set[str] = set()
_EPOCH_MS = Annotated[int, Meta(ge=0, le=32503680000000)]
_QUALITY = Literal[
    "good", "comm_failure", "timeout", "device_exception", "decode_error", "out_of_range", "sentinel", "stale"
]


class FastReading(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True, gc=False):
    """:class:`citysense.contract.Reading` as a msgspec struct (same fields, same constraints)."""

    device: str  # checked by _sound
    metric: _METRIC
    value: float | int | bool | str | None = None
    unit: str = ""
    ts_ms: _EPOCH_MS
    quality: _QUALITY = "good"

    @property
    def quality_code(self) -> Quality:
        """The quality as an integer code."""
        return BY_WIRE[self.quality]

    def to_contract(self) -> Reading:
        """The same reading as the contract's pydantic model (for dead letters)."""
        return Reading.model_validate(msgspec.structs.asdict(self))


class FastBatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True, gc=False):
    """:class:`citysense.contract.TelemetryBatch` as a msgspec struct."""

    v: Literal[1] = 1
    node: str  # checked by _sound
    epoch: str = LEGACY_EPOCH  # checked by _sound
    seq: Annotated[int, Meta(ge=0, le=MAX_SEQ)]
    floor: Annotated[int, Meta(ge=0, le=MAX_SEQ)] = 0
    sent_ms: _EPOCH_MS
    readings: Annotated[list[FastReading], Meta(min_length=1, max_length=MAX_READINGS_PER_BATCH)]


_decoder = msgspec.json.Decoder(FastBatch)


def _matches(text: str, pattern: re.Pattern[str], seen: set[str]) -> bool:
    if text in seen:
        return True
    if pattern.match(text) is None:
        return False
    if len(seen) >= VALID_CACHE_MAX:
        seen.clear()
    seen.add(text)
    return True


def _sound(batch: FastBatch, node: str) -> bool:
    """The id patterns and the checks pydantic makes in code (``Reading._good_has_value``, node match)."""
    if batch.node != node or not _matches(node, _ID_RE, _valid_ids):
        return False
    if batch.epoch not in _valid_epochs and not _matches(batch.epoch, _EPOCH_RE, _valid_epochs):
        return False
    ids, metrics = _valid_ids, _valid_metrics
    for r in batch.readings:
        # The set lookups inline: the same few ids come in every batch.
        if r.device not in ids and not _matches(r.device, _ID_RE, ids):
            return False
        if r.metric not in metrics and not _matches(r.metric, _METRIC_RE, metrics):
            return False
        v = r.value
        if v is None:
            if r.quality == "good":
                return False
        elif v.__class__ is float and isnan(v):  # msgspec makes plain floats, never a subclass
            return False
    return True


def decode_telemetry(payload: bytes, node: str) -> FastBatch | TelemetryBatch:
    """Decode a telemetry payload from ``node``; raises ``ContractError`` exactly as ``contract.decode`` does."""
    if len(payload) <= MAX_PAYLOAD_BYTES:
        try:
            batch = _decoder.decode(payload)
        except (msgspec.DecodeError, UnicodeDecodeError):
            pass
        else:
            if _sound(batch, node):
                return batch
    return decode(TelemetryBatch, payload, node)

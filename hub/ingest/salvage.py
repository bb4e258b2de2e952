"""Keep the valid readings of a batch the contract refuses because of some of its readings.

:func:`hub.ingest.wire.decode_telemetry` judges a batch as a whole: one NaN
among 500 readings refuses all 500. :func:`salvage` then judges the
envelope (version, node, epoch, seq, floor, sent time, a list of 1 to
``MAX_READINGS_PER_BATCH`` readings) with the contract's own
:class:`~citysense.contract.TelemetryBatch` fields, and each reading on its
own with :class:`~citysense.contract.Reading`: the valid ones are returned as
a batch to store, each invalid one with its reason and its full JSON for its
own dead letter. Only a payload that is not JSON (RFC 8259; ``NaN`` and
``Infinity`` tokens are read so that the reading holding them can be named)
or whose envelope is wrong is refused whole.

:func:`batch_key` reads ``(epoch, seq)`` from the head of a payload refused
whole (too large, not JSON), so that the hub can still acknowledge it to the
agent: the agent writes ``{"v":1,"node":…,"epoch":…,"seq":…`` first.

Errors: :class:`~citysense.errors.ContractError` only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pydantic
import pydantic_core
from pydantic import Field

from citysense.contract import LEGACY_EPOCH, MAX_READINGS_PER_BATCH, MAX_SEQ, Reading, TelemetryBatch
from citysense.errors import ContractError
from hub.ingest.wire import FastBatch, FastReading

HEAD_BYTES = 512
_EPOCH_AT = re.compile(rb'"epoch"\s*:\s*"([A-Za-z0-9_-]{1,32})"')
_SEQ_AT = re.compile(rb'"seq"\s*:\s*(\d{1,16})\s*[,}]')


class _Envelope(TelemetryBatch):
    """A telemetry batch whose readings are not judged yet."""

    readings: list[Any] = Field(min_length=1, max_length=MAX_READINGS_PER_BATCH)


@dataclass(frozen=True, slots=True)
class BadReading:
    """One reading of a salvaged batch that the contract refuses."""

    reason: str
    detail: str
    content: str  # the reading's JSON as it came


def salvage(payload: bytes, node: str, first: ContractError) -> tuple[FastBatch, list[BadReading]]:
    """The valid readings of ``payload`` as a batch, and the invalid ones; raise ``first`` if refused whole."""
    try:
        raw = pydantic_core.from_json(payload, allow_inf_nan=True)
        envelope = _Envelope.model_validate(raw)
    except (ValueError, pydantic.ValidationError):
        raise first from None
    if envelope.node != node:
        raise ContractError("node_mismatch", f"payload node {envelope.node!r} != topic node {node!r}")
    good: list[FastReading] = []
    bad: list[BadReading] = []
    for item in envelope.readings:
        try:
            r = Reading.model_validate(item)
        except pydantic.ValidationError as exc:
            errors = exc.errors(include_url=False)
            detail = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<reading>'}: {e['msg']}" for e in errors[:5])
            bad.append(BadReading("bad_reading", detail, json.dumps(item, allow_nan=True, ensure_ascii=False)))
        else:
            good.append(
                FastReading(
                    device=r.device, metric=r.metric, value=r.value, unit=r.unit, ts_ms=r.ts_ms, quality=r.quality
                )
            )
    batch = FastBatch(
        node=node,
        epoch=envelope.epoch,
        seq=envelope.seq,
        floor=envelope.floor,
        sent_ms=envelope.sent_ms,
        readings=good,
    )
    return batch, bad


def batch_key(payload: bytes) -> tuple[str, int] | None:
    """``(epoch, seq)`` from the head of a telemetry payload refused whole, when it can be read there."""
    head = payload[:HEAD_BYTES]
    seq = _SEQ_AT.search(head)
    if seq is None or int(seq.group(1)) > MAX_SEQ:
        return None
    epoch = _EPOCH_AT.search(head)
    return (epoch.group(1).decode() if epoch else LEGACY_EPOCH), int(seq.group(1))

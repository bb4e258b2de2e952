"""One connection's SL 651 byte stream: frames found, checked and turned into gateway events.

Bytes before a start marker (``7E 7E`` or SOH) are skipped and refused once per
:meth:`Sl651Framer.feed` as ``garbage``; a start marker that begins no valid
frame is skipped the same way. A frame is bounded by ``max_frame``; its end
character and CRC are checked before its body is read. Nothing in here raises
on input: every problem becomes a :class:`Refusal` with a reason code (the
table is in docs/stations-sl651.md).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from hub.stations.base import Control, Event, Observation, Refusal, Report
from hub.stations.sl651 import answers, asciibody, body, codes, downlink, frames, images
from hub.stations.sl651.bcd import BcdError

log = logging.getLogger(__name__)
_RAW_KEPT = 512  # bytes of a garbage run kept in its refusal


class Sl651Framer:
    """Feed it bytes; it returns the events of every frame they complete."""

    def __init__(self, *, max_frame: int, max_image_bytes: int, end_link: bool, clock_ms: Callable[[], int]) -> None:
        self._buf = bytearray()
        self._max_frame = max_frame
        self._end = codes.EOT if end_link else codes.ESC
        self._clock_ms = clock_ms
        self._images = images.Assembler(max_bytes=max_image_bytes)

    def feed(self, data: bytes) -> list[Event]:
        """Consume ``data``; return the events of the frames completed by it. Never raises."""
        self._buf += data
        events: list[Event] = []
        junk = bytearray()
        buf = self._buf
        while buf:
            start = _next_start(buf)
            if start < 0:  # keep a trailing 7E: it may be half a start marker
                keep = 1 if buf[-1] == 0x7E else 0
                junk += buf[: len(buf) - keep]
                del buf[: len(buf) - keep]
                break
            if start:
                junk += buf[:start]
                del buf[:start]
            result = frames.parse(bytes(buf[: self._max_frame]), down=False, max_frame=self._max_frame)
            if result is None:
                if not self._complete_frame_after_start(buf):
                    break
                junk += buf[:1]  # noise that looked like a header: a whole valid frame follows it
                del buf[:1]
                continue
            if isinstance(result, frames.Malformed):
                if result.reason == "bad_header":  # a stray 01H or 7E7E in noise: part of the garbage run
                    junk += buf[: result.skip]
                else:
                    _flush(junk, events)
                    events.append(Refusal(result.reason, result.detail, result.raw or bytes(buf[: result.skip])))
                del buf[: result.skip]
                continue
            del buf[: len(result.raw)]
            _flush(junk, events)
            try:
                events.extend(self._frame(result))
            except Exception as exc:  # a decoder bug must cost one frame, not the connection
                log.exception("%s: SL 651 frame %s not decoded", result.station, result.raw.hex())
                events.append(_refuse(result, "decode_failed", f"{type(exc).__name__}: {exc}"))
        _flush(junk, events)
        return events

    def _complete_frame_after_start(self, buf: bytearray) -> bool:
        """Tell whether a whole valid frame starts inside the incomplete one at ``buf[0]``.

        Noise can look like a header announcing thousands of bytes; without this
        the station's real frames would wait behind it until the link timed out.
        """
        at = 0
        for _ in range(4):  # a few candidates bound the cost of a partial frame
            at = _next_start(buf, at + 1)
            if at < 0:
                return False
            found = frames.parse(bytes(buf[at : at + self._max_frame]), down=False, max_frame=self._max_frame)
            if isinstance(found, frames.Frame):
                return True
        return False

    def _frame(self, frame: frames.Frame) -> list[Event]:
        try:
            function = codes.Function(frame.function)
        except ValueError:
            return [_refuse(frame, "unknown_function", f"function {frame.function:02X}H is not handled")]
        try:
            if frame.packet is not None:
                return self._packet(frame, function)
            return self._single(frame, function, frame.body)
        except BcdError as exc:
            return [_refuse(frame, exc.reason, str(exc))]

    def _single(self, frame: frames.Frame, function: codes.Function, raw_body: bytes) -> list[Event]:
        if function == codes.Function.KEEPALIVE:  # clause 7.2.3.1: no answer is due
            serial, sent = _prefix(frame, raw_body)
            return [Control(frame.station, "2F", None, frame.password, {"serial": serial, "clock_ms": sent}, frame.raw)]
        if function in codes.ANSWERS:
            return [Control(frame.station, function.code, None, frame.password, answers.decode(frame), frame.raw)]
        parsed = (asciibody if frame.encoding == "ascii" else body).parse(raw_body, function)
        return self._report(frame, function, parsed)

    def _report(self, frame: frames.Frame, function: codes.Function, parsed: body.Body) -> list[Event]:
        if parsed.station is not None and parsed.station != frame.station:
            return [_refuse(frame, "address_mismatch", f"body names station {parsed.station}")]
        observations = list(parsed.observations)
        extra: dict[str, object] = {"serial": parsed.serial, "sent_ms": parsed.sent_ms}
        if parsed.station_class:
            extra["station_class"] = parsed.station_class
        if function == codes.Function.MANUAL:
            if parsed.text is None:
                return [_refuse(frame, "missing_element", "manual report without F2F2 text")]
            extra["manual"] = parsed.text
        elif function in codes.REPORTS and parsed.obs_ms is None:
            return [_refuse(frame, "missing_obs_time", "report without an observation time (F0F0/TT)")]
        if function == codes.Function.IMAGE:
            if parsed.image is None:
                return [_refuse(frame, "missing_element", "image report without F3F3 image data")]
            extra["image"] = parsed.image
            extra["content_type"] = "image/jpeg" if parsed.image[:2] == b"\xff\xd8" else "application/octet-stream"
            observations.append(Observation("PIC", float(len(parsed.image)), parsed.obs_ms or parsed.sent_ms, unit="B"))
        when = parsed.obs_ms if parsed.obs_ms is not None else parsed.sent_ms
        end = codes.ACK if frame.packet is not None else self._end
        report = Report(
            station=frame.station,
            function=function.code,
            key=f"sl651:{frame.station}:{function.code}:{when}:{parsed.serial}",
            observations=tuple(observations),
            reply=downlink.confirm(frame, parsed.serial, parsed.sent_ms, end, frame.packet),
            password=frame.password,
            raw=frame.raw,
            extra=extra,
        )
        if not parsed.errors:
            return [report]
        reasons = "; ".join(f"{r}: {d}" for r, d in parsed.errors)
        return [report, Refusal(parsed.errors[0][0], reasons, frame.raw, frame.station)]

    def _packet(self, frame: frames.Frame, function: codes.Function) -> list[Event]:
        if function != codes.Function.IMAGE:
            return [_refuse(frame, "bad_packet", f"multi-packet frames are handled for 36H, not {function.code}H")]
        if frame.encoding != "hex":
            return [_refuse(frame, "bad_packet", "images are sent in the HEX encoding")]
        step = self._images.add(frame)
        if isinstance(step, images.Dropped):
            return [_refuse(frame, step.reason, step.detail)]
        if isinstance(step, images.Progress):
            if step.missing is None:
                payload = {"packet": step.sequence, "total": step.total}
                return [Control(frame.station, "36", None, frame.password, payload, frame.raw)]
            nak = downlink.confirm(frame, 0, self._clock_ms(), codes.NAK, (step.total, step.missing))
            detail = f"last packet came with packet {step.missing} of {step.total} missing"
            return [Refusal("image_incomplete", detail, frame.raw, frame.station, nak)]
        whole = dataclasses.replace(frame, body=step.body)
        return self._report(whole, function, body.parse(step.body, function))


def _prefix(frame: frames.Frame, raw_body: bytes) -> tuple[int, int]:
    if frame.encoding == "ascii":
        serial, sent, _ = asciibody.prefix(asciibody.tokens(raw_body))
        return serial, sent
    return body.prefix(raw_body)


def _next_start(buf: bytearray, start: int = 0) -> int:
    """Index of the first start marker (7E7E or SOH) at or after ``start``, or -1."""
    if start == 0 and (buf[:2] == codes.SOH_HEX or buf[:1] == codes.SOH_ASCII):
        return 0
    hex_at, ascii_at = buf.find(codes.SOH_HEX, start), buf.find(codes.SOH_ASCII, start)
    if hex_at < 0 or 0 <= ascii_at < hex_at:
        return ascii_at
    return hex_at


def _refuse(frame: frames.Frame, reason: str, detail: str) -> Refusal:
    return Refusal(reason, detail, frame.raw, frame.station)


def _flush(junk: bytearray, events: list[Event]) -> None:
    if junk:
        events.append(Refusal("garbage", f"{len(junk)} bytes before a frame start", bytes(junk[:_RAW_KEPT])))
        junk.clear()

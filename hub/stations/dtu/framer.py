"""A DTU's byte stream: its registration packet, its heartbeats and Modbus RTU replies told apart (sans-IO).

A transparent-mode DTU (USR-G771/G780 "注册包/心跳包", Four-Faith F2x14
"登录包/心跳包") opens a TCP connection, sends its configured registration
packet once (a prefix and its id: IMEI, ICCID or a configured string), then
passes every byte of its RS-485 port through and, when the line is idle,
sends its heartbeat packet. The framer takes the first packet as the
registration, strips heartbeats wherever they arrive, and cuts RTU reply
frames by their function code's length (Modbus over Serial Line V1.02
§2.5.1; Modbus Application Protocol V1.1b3 §6) with the CRC checked.
"""

from __future__ import annotations

import re

from pymodbus.framer.rtu import FramerRTU
from pymodbus.pdu import DecodePDU

from hub.stations.base import Control, Event, Refusal

_ID = re.compile(rb"^[A-Za-z0-9_.:\-]{1,64}$")
_DECODER = DecodePDU(is_server=False)
MAX_RTU = 256  # Modbus over Serial Line §2.5.1: an RTU frame is at most 256 bytes


class DtuFramer:
    """One DTU connection."""

    def __init__(self, registration_prefix: bytes, heartbeat: bytes) -> None:
        self.prefix, self.heartbeat = registration_prefix, heartbeat
        self.station: str | None = None
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Event]:
        """Consume ``data``; return the registration, heartbeats and RTU replies it completes. Never raises."""
        if self.station is None:
            return [self._register(data)]
        buf = self._buf
        buf += data
        out: list[Event] = []
        while buf:
            if self.heartbeat and buf.startswith(self.heartbeat):
                del buf[: len(self.heartbeat)]
                out.append(Control(self.station, "heartbeat"))
                continue
            if self.heartbeat and self.heartbeat.startswith(bytes(buf)):
                break  # a heartbeat split across reads
            if self.prefix and buf.startswith(self.prefix + self.station.encode()):
                del buf[: len(self.prefix) + len(self.station)]  # registration repeated as the heartbeat
                out.append(Control(self.station, "heartbeat"))
                continue
            size = _rtu_size(bytes(buf))
            if size == 0:
                break
            if size < 0 or size > MAX_RTU:
                out.append(Refusal("unexpected_bytes", f"{len(buf)} bytes neither a heartbeat nor an RTU reply",
                                   bytes(buf[:64]), self.station))  # fmt: skip
                buf.clear()
                break
            if len(buf) < size:
                break
            frame = bytes(buf[:size])
            del buf[:size]
            if not FramerRTU.check_CRC(frame[:-2], int.from_bytes(frame[-2:], "big")):
                out.append(Refusal("bad_crc", "RTU reply with a wrong CRC", frame, self.station))
                buf.clear()  # what follows a damaged frame cannot be trusted to start a frame
                break
            out.append(Control(self.station, "rtu", payload={"frame": frame}))
        return out

    def _register(self, data: bytes) -> Event:
        text = data.strip(b"\r\n\x00 ")
        if self.prefix and not text.startswith(self.prefix):
            return Refusal("bad_registration", f"the first packet does not start with {self.prefix!r}", data[:64])
        ident = text[len(self.prefix) :]
        if not _ID.match(ident):
            return Refusal("bad_registration", "the registration id is not 1-64 letters, digits or _.:-", data[:64])
        self.station = ident.decode()
        return Control(self.station, "register", raw=data[:64])


def _rtu_size(buf: bytes) -> int:
    """Length of the RTU reply at the start of ``buf``: 0 to wait for more, -1 when it is not one."""
    if len(buf) < 2:
        return 0
    fc = buf[1]
    if fc & 0x80:
        return 5  # exception response: address, function | 0x80, exception code, CRC
    pdu_class = _DECODER.lookupPduClass(buf)  # looks at buf[1], the function code
    if pdu_class is None:
        return -1
    try:
        return pdu_class.calculateRtuFrameSize(buf)
    except Exception:
        return -1

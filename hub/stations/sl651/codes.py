"""Control characters, function codes and station classes of SL 651-2014.

Clause 6.3 (frame structure, Table 4/5: control characters), clause 6.4
(function codes, Table 6) and Appendix A (station classification codes).
"""

from __future__ import annotations

import enum

# Table 4: transmission control characters
SOH_HEX = b"\x7e\x7e"  # frame start of the HEX/BCD encoding
SOH_ASCII = b"\x01"  # frame start of the ASCII encoding
STX = 0x02  # body start, single packet
SYN = 0x16  # body start, multi-packet: 3 bytes (6 hex digits) of total and sequence follow
ETX = 0x03  # body end, nothing follows
ETB = 0x17  # body end, more packets follow
ENQ = 0x05  # body end of a downlink query
EOT = 0x04  # downlink: end the link (hang up)
ACK = 0x06  # downlink: multi-packet report received whole
NAK = 0x15  # downlink: re-send the packet named
ESC = 0x1B  # downlink: confirmation, keep the link open

UP_END = frozenset({ETX, ETB})
DOWN_END = frozenset({ENQ, EOT, ACK, NAK, ESC})

UP = 0x0  # high 4 bits of the length word: uplink (station -> central)
DOWN = 0x8  # downlink (central -> station)


class Function(enum.IntEnum):
    """Function codes (Table 6) this gateway handles."""

    KEEPALIVE = 0x2F  # link keep-alive (链路维持报)
    TEST = 0x30  # test report (测试报)
    UNIFORM = 0x31  # uniform-interval report (均匀时段水文信息报)
    TIMED = 0x32  # timed report (遥测站定时报)
    ADDED = 0x33  # added report (遥测站加报报)
    HOURLY = 0x34  # hourly report (遥测站小时报)
    MANUAL = 0x35  # manual set-number report (遥测站人工置数报)
    IMAGE = 0x36  # image report / image query answer (遥测站图片报)
    REALTIME = 0x37  # query real-time values (中心站查询遥测站实时数据)
    ELEMENTS = 0x3A  # query given elements (中心站查询遥测站指定要素数据)
    SET_BASIC = 0x40  # modify basic configuration (中心站修改遥测站基本配置表)
    GET_BASIC = 0x41  # read basic configuration (中心站读取遥测站基本配置表)
    SET_RUNTIME = 0x42  # modify runtime parameters (中心站修改遥测站运行参数配置表)
    GET_RUNTIME = 0x43  # read runtime parameters (中心站读取遥测站运行参数配置表)
    SET_CLOCK = 0x4A  # set the station's clock (设置遥测站时钟)
    GET_CLOCK = 0x51  # query the station's clock (查询遥测站时钟)

    @property
    def code(self) -> str:
        """The code as the standard writes it, two hex digits (``"32"``)."""
        return f"{self.value:02X}"


REPORTS = frozenset({Function.TEST, Function.UNIFORM, Function.TIMED, Function.ADDED, Function.HOURLY})
"""Reports whose body is station address + observation time + elements, confirmed in mode M2."""
ANSWERS = frozenset(
    {
        Function.REALTIME,
        Function.ELEMENTS,
        Function.SET_BASIC,
        Function.GET_BASIC,
        Function.SET_RUNTIME,
        Function.GET_RUNTIME,
        Function.SET_CLOCK,
        Function.GET_CLOCK,
    }
)
"""Answers to the central station's queries (mode M4): never confirmed."""

# Appendix A: station classification codes (遥测站分类码), HEX byte = ASCII letter
STATION_CLASSES: dict[int, str] = {
    0x50: "rainfall",  # P 降水
    0x48: "river",  # H 河道
    0x4B: "reservoir",  # K 水库(湖泊)
    0x5A: "gate",  # Z 闸坝
    0x44: "pumping",  # D 泵站
    0x54: "tidal",  # T 潮汐
    0x4D: "soil_moisture",  # M 墒情
    0x47: "groundwater",  # G 地下水
    0x51: "water_quality",  # Q 水质
    0x49: "intake",  # I 取水口
    0x4F: "outfall",  # O 排水口
}

REFUSAL_REASONS: dict[str, str] = {
    "garbage": "bytes before a frame start (7E7E or SOH), or a start marker with no valid header; skipped",
    "bad_direction": "a downlink frame (flag 8) sent by a station",
    "bad_start": "the byte after the header is neither STX (02H) nor SYN (16H)",
    "frame_too_large": "the length field announces a frame larger than the gateway's limit",
    "bad_length": "no end character (ETX/ETB) where the length field says the body ends",
    "bad_crc": "the CRC16 does not match the frame",
    "unknown_function": "a function code the gateway does not handle",
    "short_body": "the body lacks the serial number and send time",
    "bad_time": "a send or observation time that is not BCD or no real date/time",
    "bad_bcd": "an element value with a non-decimal digit (that value only; the rest is kept)",
    "bad_value": "an ASCII element value that is not a number (that value only)",
    "bad_element": "an element whose layout is wrong, e.g. DRP of an odd length (that element only)",
    "truncated_element": "an element runs past the body end (the elements before it are kept)",
    "missing_obs_time": "a report, or an element, without an observation time (F0F0/TT) before it",
    "missing_element": "a manual report without F2F2 text, or an image report without F3F3 data",
    "address_mismatch": "the F1F1 station address in the body differs from the header's",
    "bad_packet": "packet information that is inconsistent, or multi-packet where it is not handled",
    "image_too_large": "an image larger than the gateway's limit; its packets are dropped",
    "image_abandoned": "a new image began before the last one was complete; the old packets are dropped",
    "image_incomplete": "the last packet of an image came with others missing; NAK asks for the first missing one",
    "decode_failed": "a valid frame the decoder could not handle (a gateway bug: the frame is kept for the developers)",
}
"""Every refusal reason of the SL 651 framer (also the table in docs/stations-sl651.md)."""

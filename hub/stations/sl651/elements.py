"""Element identifiers of SL 651-2014 (Appendix C, 遥测信息编码要素及标识符汇总表).

Each element has a one-byte HEX identifier and an ASCII identifier; the
observation's ``code`` is always the ASCII identifier (``"PJ"``, ``"Z"``,
``"VT"``), whichever encoding the station uses, so one station profile fits
both. ``digits``/``decimals`` are the standard's N(x,y) data definition, used
when encoding (the simulator, downlink parameters); decoding trusts the
data-definition byte of the frame. Special layouts are handled by the body
parsers: F0 TT, F1 ST, F2 RGZS, F3 PIC, F4 DRP, F5..FC DRZ1..DRZ8, 04 DRxnn, 45 ZT.
Unknown identifiers keep their two hex digits as code (``"7A"``; ``"FF0A"`` for the
FFH-extended ones).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Element:
    """One row of Appendix C."""

    ident: int
    code: str
    name: str
    unit: str
    digits: int
    decimals: int

    @property
    def definition(self) -> int:
        """Data-definition byte: high 5 bits byte length, low 3 bits decimal places (clause 6.6.2)."""
        return (((self.digits + 1) // 2) << 3) | self.decimals


def _rows() -> tuple[Element, ...]:
    rows = [
        (0x01, "AC", "cross-section area", "m²", 8, 2),
        (0x02, "AI", "air temperature", "°C", 3, 1),
        (0x03, "C", "water temperature", "°C", 3, 1),
        (0x05, "DT", "period length", "h", 4, 2),
        (0x06, "ED", "daily evaporation", "mm", 5, 1),
        (0x07, "EJ", "current evaporation", "mm", 5, 1),
        (0x08, "FL", "air pressure", "hPa", 5, 0),
        (0x09, "GH", "gate opening height", "m", 5, 2),
        (0x0A, "GN", "gate number", "", 3, 0),
        (0x0B, "GS", "conveyance device class", "", 1, 0),
        (0x0C, "GT", "gate openings count", "", 3, 0),
        (0x0D, "GTP", "ground temperature", "°C", 3, 1),
        (0x0E, "H", "groundwater depth", "m", 6, 2),
        (0x0F, "HW", "wave height", "m", 5, 2),
        (0x10, "M10", "soil moisture at 10 cm", "%", 4, 1),
        (0x11, "M20", "soil moisture at 20 cm", "%", 4, 1),
        (0x12, "M30", "soil moisture at 30 cm", "%", 4, 1),
        (0x13, "M40", "soil moisture at 40 cm", "%", 4, 1),
        (0x14, "M50", "soil moisture at 50 cm", "%", 4, 1),
        (0x15, "M60", "soil moisture at 60 cm", "%", 4, 1),
        (0x16, "M80", "soil moisture at 80 cm", "%", 4, 1),
        (0x17, "M100", "soil moisture at 100 cm", "%", 4, 1),
        (0x18, "MST", "humidity", "%", 4, 1),
        (0x19, "NS", "machines running", "", 2, 0),
        (0x1A, "P1", "rainfall in 1 h", "mm", 5, 1),
        (0x1B, "P2", "rainfall in 2 h", "mm", 5, 1),
        (0x1C, "P3", "rainfall in 3 h", "mm", 5, 1),
        (0x1D, "P6", "rainfall in 6 h", "mm", 5, 1),
        (0x1E, "P12", "rainfall in 12 h", "mm", 5, 1),
        (0x1F, "PD", "rainfall today", "mm", 5, 1),
        (0x20, "PJ", "current rainfall", "mm", 5, 1),
        (0x21, "PN01", "rainfall in 1 min", "mm", 5, 1),
        (0x22, "PN05", "rainfall in 5 min", "mm", 5, 1),
        (0x23, "PN10", "rainfall in 10 min", "mm", 5, 1),
        (0x24, "PN30", "rainfall in 30 min", "mm", 5, 1),
        (0x25, "PR", "storm rainfall", "mm", 5, 1),
        (0x26, "PT", "accumulated rainfall", "mm", 6, 1),
        (0x27, "Q", "instantaneous flow", "m³/s", 9, 3),
        (0x30, "QA", "total outflow", "m³/s", 9, 3),
        (0x31, "QZ", "conveyance flow", "m³/s", 9, 3),
        (0x32, "SW", "conveyance accumulated volume", "m³", 11, 3),
        (0x33, "UC", "wind direction", "", 2, 0),
        (0x34, "UE", "wind force", "", 2, 0),
        (0x35, "US", "wind speed", "m/s", 4, 1),
        (0x36, "VA", "mean section velocity", "m/s", 5, 3),
        (0x37, "VJ", "instantaneous velocity", "m/s", 5, 3),
        (0x38, "VT", "supply voltage", "V", 4, 2),
        (0x39, "Z", "water level", "m", 7, 3),
        (0x3A, "ZB", "downstream water level", "m", 7, 3),
        (0x3B, "ZU", "upstream water level", "m", 7, 3),
        (0x44, "SQ", "sediment concentration", "kg/m³", 9, 3),
        (0x46, "PH", "pH", "", 4, 2),
        (0x47, "DO", "dissolved oxygen", "mg/L", 4, 1),
        (0x48, "COND", "conductivity", "µS/cm", 5, 0),
        (0x49, "TURB", "turbidity", "NTU", 3, 0),
        (0x4A, "CODMN", "permanganate index", "mg/L", 4, 1),
        (0x4B, "REDOX", "redox potential", "mV", 5, 1),
        (0x4C, "NH4N", "ammonia nitrogen", "mg/L", 6, 2),
        (0x4D, "TP", "total phosphorus", "mg/L", 5, 3),
        (0x4E, "TN", "total nitrogen", "mg/L", 5, 2),
        (0x4F, "TOC", "total organic carbon", "mg/L", 4, 2),
        (0x57, "CHLA", "chlorophyll a", "mg/L", 4, 2),
    ]
    rows += [(0x27 + n, f"Q{n}", f"intake/outfall flow {n}", "m³/s", 9, 3) for n in range(1, 9)]
    rows += [(0x3B + n, f"Z{n}", f"intake/outfall water level {n}", "m", 7, 3) for n in range(1, 9)]
    rows += [(0x57 + n, f"WP{n}", f"water pressure {n}", "kPa", 6, 2) for n in range(1, 9)]
    rows += [(0x5F + n, f"SYL{n}", f"water meter {n} remaining volume", "m³", 11, 3) for n in range(1, 9)]
    rows += [(0x67 + n, f"SBL{n}", f"water meter {n} volume per hour", "m³/h", 7, 3) for n in range(1, 9)]
    return tuple(Element(*row) for row in sorted(rows))


ELEMENTS: tuple[Element, ...] = _rows()
BY_IDENT: dict[int, Element] = {e.ident: e for e in ELEMENTS}
BY_CODE: dict[str, Element] = {e.code: e for e in ELEMENTS}

# Identifiers with their own layout (Appendix C; parsed by the body modules)
TT = 0xF0  # observation time, BCD YYMMDDhhmm
ST = 0xF1  # station address (5 bytes) + station class
RGZS = 0xF2  # manual set-number text
PIC = 0xF3  # image data
DRP = 0xF4  # 12 five-minute rainfalls of the hour, 1 byte each in 0.1 mm, FFH none
DRZ_FIRST = 0xF5  # DRZ1..DRZ8 (F5..FC): 12 five-minute relative water levels, 2 bytes each in 0.01 m
DRZ_LAST = 0xFC
STEP = 0x04  # time step code DRxnn, BCD DDHHMM
ZT = 0x45  # station status and alarm bits, 4 bytes HEX
EXTENDED = 0xFF  # the next byte extends the identifier

SPECIAL_CODES: dict[str, tuple[str, str]] = {
    "DRP": ("five-minute rainfall of the hour", "mm"),
    **{f"DRZ{n}": (f"five-minute relative water level {n} of the hour", "m") for n in range(1, 9)},
    "ZT": ("status and alarm bits", ""),
    "PIC": ("image size", "B"),
}
"""Codes with their own layout, for the documentation and the profile validator."""


def unit_of(code: str) -> str:
    """Return the standard's unit of an element code ("" when unknown)."""
    element = BY_CODE.get(code)
    if element is not None:
        return element.unit
    special = SPECIAL_CODES.get(code)
    return special[1] if special else ""

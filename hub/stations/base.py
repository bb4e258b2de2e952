"""The one interface between a station protocol and the gateway's TCP server.

A protocol is *sans-IO*: it never touches a socket. The server owns the
connection, feeds every chunk it receives to that connection's :class:`Framer`,
and acts on the events it returns:

* :class:`Report` — observations to store. The server sends ``reply`` (the
  protocol's confirmation) only after every observation is durable (stored or
  spooled); a station that gets no confirmation re-sends, and ``key`` lets the
  gateway store a re-sent report once.
* :class:`Control` — link traffic (keep-alive, heartbeat, registration, the
  answer to a downlink command); ``reply``, if any, is sent at once.
* :class:`Refusal` — bytes that are not a valid frame (bad CRC, bad length,
  unknown function, wrong password...): counted and dead-lettered with
  ``reason``; ``reply`` (a negative answer, where the protocol has one) is sent.

A framer never raises on input: garbage is skipped to the next start marker
(resynchronisation) and reported as a :class:`Refusal`; a frame longer than
``max_frame`` is refused and skipped.

Optional hooks the gateway uses when a protocol has them (``getattr``):

* ``Framer.close() -> list[Event]``: the connection ended; refuse a frame cut
  off mid-way (``truncated``).
* ``StationProtocol.windows: Mapping[str, str]``: function -> the window its
  ``-Avg``/``-Min``/``-Max`` statistics belong to (HJ 212: ``"2061": "hour"``),
  for the station profile's metric names (:mod:`hub.stations.profiles`).
* ``StationProtocol.attach(gateway, listener)``: called once per listener; a
  protocol that drives its stations (the DTU poller) registers a session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from citysense.quality import Quality


@dataclass(frozen=True, slots=True)
class Observation:
    """One value of one element (SL 651 identifier, HJ 212 code + field) at one instant.

    ``code`` is the protocol's own name for the quantity (``"Z"`` for SL 651
    instantaneous water level, ``"a34004-Rtd"`` for HJ 212 PM2.5 real-time);
    the station profile maps it to a metric and unit. A "no data" fill value
    is ``value=None`` with a bad ``quality``, never a number.
    """

    code: str
    value: float | None
    ts_ms: int
    quality: Quality = Quality.GOOD
    unit: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    """A frame that carries observations; ``reply`` is sent once they are durable."""

    station: str
    """The station's protocol identity: SL 651 address (10 hex digits), HJ 212 MN, DTU id."""
    function: str
    """Function code / command number as the standard writes it (``"32"``, ``"2011"``)."""
    key: str
    """Identical for a re-sent copy of the same report (e.g. function + observation time)."""
    observations: tuple[Observation, ...]
    reply: bytes | None = None
    password: str | None = None
    raw: bytes = b""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Control:
    """Link traffic or the answer to a downlink command; ``reply`` is sent at once."""

    station: str
    function: str
    reply: bytes | None = None
    password: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    raw: bytes = b""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Bytes that were not accepted, with a short reason code and a readable detail."""

    reason: str
    detail: str
    raw: bytes = b""
    station: str | None = None
    reply: bytes | None = None


Event = Report | Control | Refusal


class Framer(Protocol):
    """One connection's byte-stream state."""

    def feed(self, data: bytes) -> list[Event]:
        """Consume ``data``; return the events of every frame completed by it. Never raises."""
        ...


class StationProtocol(Protocol):
    """A dial-in protocol: a framer per connection and the downlink encoder."""

    name: str
    """Short name used in settings, the registry and metrics (``"sl651"``, ``"hj212"``, ``"dtu"``)."""
    max_frame: int
    """Largest frame accepted, in bytes."""

    def framer(self) -> Framer:
        """A fresh framer for a new connection."""
        ...

    def command(self, station: str, password: str | None, action: str, args: Mapping[str, Any]) -> bytes:
        """Encode a downlink command (``clock_query``, ``clock_set``, ``query_realtime``, ...).

        Raises :class:`hub.stations.errors.StationError` for an action the protocol lacks.
        """
        ...
